"""What kube-controller-manager would do, emulated synchronously (or after a delay).

Why: the product observes controller effects (the ``default`` ServiceAccount appearing in new
namespaces, namespaces staying Terminating while content with finalizers remains), so the
fake reproduces them deterministically, with switches to reproduce the races too.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from . import admission as adm
from .request import deep_copy
from .resources import BY_KEY, RESOURCES, ResourceType
from .store import Store

if TYPE_CHECKING:
    from .api import Writer

NAMESPACES = BY_KEY["namespaces"]
SERVICEACCOUNTS = BY_KEY["serviceaccounts"]
CRDS = BY_KEY["customresourcedefinitions.apiextensions.k8s.io"]


@dataclass
class Options:
    """Behaviour switches of the emulated control plane."""

    auto_default_sa: bool = True  # kube-controller-manager creates "default" in every namespace
    default_sa_delay: float | None = None  # None: synchronously; else seconds later (race tests)
    sa_admission_wait: float = 1.0  # how long pod admission waits for a missing "default" SA
    too_large_rv_wait: float = 3.0  # wait before answering 504 to a future resourceVersion
    crd_establish_delay: float = 0.07  # a new CRD is Established (and served) this much later
    bookmark_period: float = 60.0  # an idle watch whose resource moved gets a bookmark this often


class Controllers:
    """serviceaccount controller + namespace controller (content deletion, finalize)."""

    def __init__(self, store: Store, options: Options, writer: Writer) -> None:
        self.store, self.options, self.writer = store, options, writer
        self.finishing: set[str] = set()  # namespaces the namespace controller is working on

    @staticmethod
    def _later(delay: float, fn: Callable[..., Any], *args: Any) -> None:
        t = threading.Timer(delay, fn, args)
        t.daemon = True
        t.start()

    def namespace_created(self, name: str) -> None:
        if not self.options.auto_default_sa:
            return
        if self.options.default_sa_delay is None:
            self.ensure_default_sa(name)
        else:
            self._later(self.options.default_sa_delay, self.ensure_default_sa, name)

    def ensure_default_sa(self, ns: str) -> None:
        with self.store.lock:
            entry = self.store.get(NAMESPACES, "", ns)
            if entry is None or entry.obj["metadata"].get("deletionTimestamp"):
                return
            if self.store.get(SERVICEACCOUNTS, ns, "default") is None:
                self.store.put(SERVICEACCOUNTS, adm.default_service_account(ns), "ADDED")

    def crd_created(self, name: str) -> None:
        """apiextensions-apiserver accepts the names and starts serving the resource (asynchronously)."""
        self._later(self.options.crd_establish_delay, self.establish_crd, name)

    def establish_crd(self, name: str) -> None:
        from .crd import established_status

        with self.store.lock:
            entry = self.store.get(CRDS, "", name)
            if entry is None or (entry.obj.get("status") or {}).get("conditions"):
                return
            new = deep_copy(entry.obj)
            new["status"] = established_status(new)
            self.writer.crds.register(new)
            self.store.put(CRDS, new, "MODIFIED")

    def removed(self, rt: ResourceType, ns: str, name: str) -> None:
        """After a delete: re-create a deleted default SA; finish a namespace that became empty."""
        if rt is CRDS:
            self.writer.crds.unregister_name(name)
        if rt is SERVICEACCOUNTS and name == "default" and self.options.auto_default_sa:
            self.ensure_default_sa(ns)
        if rt is not NAMESPACES and ns:
            self.maybe_finish(ns)

    def finish_namespace_deletion(self, name: str) -> bool:
        """Delete the namespace's content, then the namespace. Objects with finalizers only get a
        deletionTimestamp and keep it Terminating. Returns True once the namespace is gone."""
        with self.store.lock:
            ns = self.store.get(NAMESPACES, "", name)
            if ns is None:
                return True
            if not ns.obj["metadata"].get("deletionTimestamp"):
                raise ValueError(f"namespace {name} is not terminating")
            self.finishing.add(name)
            for rt in RESOURCES:
                if rt.namespaced:
                    for _, entry in self.store.entries(rt, name):
                        self.writer.delete_entry(rt, entry, {}, False)
            return self.maybe_finish(name)

    def maybe_finish(self, ns: str) -> bool:
        """Remove a namespace the controller works on once it is empty; True when it is gone."""
        entry = self.store.get(NAMESPACES, "", ns)
        if entry is None:
            return True
        if ns not in self.finishing or not self.store.namespace_is_empty(ns):
            return False
        self.finishing.discard(ns)
        self.store.remove(NAMESPACES, "", ns, deep_copy(entry.obj))
        return True

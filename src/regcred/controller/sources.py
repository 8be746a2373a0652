"""Which Secrets the specs read credentials from: only those keep their data in the controller's cache.

Why: the source-Secret informer watches every Secret regcred does not manage (a spec may name any of them, and a
same-named Secret of another owner must be seen). Keeping their data would hold every credential, token and Helm
release of the cluster in memory. The transform keeps data for the referenced Secrets only; when a spec starts
naming a Secret the cache holds without data, it is read once from the API server (a failed read is retried at
the next spec event or resync); when no spec names it any more, its data is dropped.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from typing import Any, Protocol

from regcred.core.controller.cachefields import secret_fields, secret_identity_fields
from regcred.core.controller.keys import sources_of
from regcred.core.errors import RegcredError
from regcred.core.spec.model import RegistryCredential
from regcred.usecases.kubeapi import KubeApi, Obj

log = logging.getLogger("regcred.controller")
Ref = tuple[str, str]  # (namespace, name)


class SourceCache(Protocol):
    def get(self, name: str, namespace: str | None = None) -> Obj | None: ...

    def write_through(self, obj: Obj) -> None: ...


def _ref(obj: Obj) -> Ref:
    meta = obj.get("metadata") or {}
    return str(meta.get("namespace") or ""), str(meta.get("name") or "")


class SourceSecrets:
    """The referenced set, the informer's transform, and the catch-up read of a newly referenced Secret."""

    def __init__(self, api: KubeApi) -> None:
        self.api = api
        self._lock = threading.Lock()
        self.referenced: frozenset[Ref] = frozenset()

    def transform(self, obj: Obj) -> Obj:
        return secret_fields(obj) if _ref(obj) in self.referenced else secret_identity_fields(obj)

    def follow(self, specs: Iterable[RegistryCredential], cache: SourceCache) -> None:
        """Make the cache hold data for exactly the Secrets `specs` read (call on every spec event)."""
        wanted = frozenset(ref for spec in specs for ref in sources_of(spec))
        with self._lock:
            before, self.referenced = self.referenced, wanted
        for namespace, name in sorted(before - wanted):  # no spec reads it any more: drop its data
            cached = cache.get(name, namespace)
            if cached is not None:
                cache.write_through(cached)
        for namespace, name in sorted(wanted):
            cached = cache.get(name, namespace)
            if cached is not None and "data" not in cached:  # kept as identity only before a spec named it
                self._read(cache, namespace, name)

    def _read(self, cache: SourceCache, namespace: str, name: str) -> None:
        try:
            fresh: Any = self.api.get_optional("Secret", name, namespace)
        except RegcredError as exc:  # the reconcile reports the source as unreadable; retried at the next event
            log.warning("cannot read a source Secret", extra={"namespace": namespace, "secret": name,
                                                                "error": exc.line()})
            return
        if fresh is not None:
            cache.write_through(fresh)

"""What a plan cannot do, said rather than skipped silently: terminating or missing namespaces, missing ServiceAccounts.

Pure, like the planner that calls it.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from regcred.core.objects import name_of, namespace_of

if TYPE_CHECKING:
    from regcred.core.spec.planner import ClusterState, DesiredCredential

DEFAULT_SERVICE_ACCOUNT = "default"
_GLOB = re.compile(r"[*?\[]")



@dataclass(frozen=True, slots=True)
class Skip:
    """What the plan cannot do: a terminating namespace, a ServiceAccount the spec names that does not exist.

    `waiting` marks what the next run will do by itself (the `default` ServiceAccount the controller has not
    created yet in a new namespace): still drift, so `plan` exits 1 for it.
    """

    namespace: str
    reason: str
    kind: str = "Namespace"
    name: str = ""
    waiting: bool = False

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"namespace": self.namespace, "reason": self.reason}
        if self.name:
            out.update(kind=self.kind, name=self.name, waiting=self.waiting)
        return out



def missing_namespaces(desired: Sequence[DesiredCredential], namespaces: Mapping[str, Any]) -> list[Skip]:
    """Namespaces a spec includes by literal name that do not exist: never silent (nothing to do there yet)."""
    missing: dict[str, list[str]] = {}
    for d in desired:
        for name in d.spec.namespaces.include:
            excluded = any(fnmatch.fnmatchcase(name, pattern) for pattern in d.spec.namespaces.exclude)
            if not _GLOB.search(name) and name not in namespaces and not excluded:
                missing.setdefault(name, []).append(d.spec.name)
    return [Skip(name, f"namespace {name} does not exist (spec.namespaces.include of {', '.join(specs)}): "
                       "nothing to do there until it is created")
            for name, specs in sorted(missing.items())]


def missing_service_accounts(targets: Mapping[str, Sequence[DesiredCredential]], state: ClusterState,
                             conflicted: set[tuple[str, str]]) -> list[Skip]:
    """ServiceAccounts a spec names literally (not a glob) that a target namespace lacks: never silent.

    Globs and "*" match existing accounts only. A missing `default` is waiting (kube-controller-manager
    creates it right after the namespace; the next run attaches); any other name is the user's to create.
    """
    existing = {(namespace_of(sa), name_of(sa)) for sa in state.service_accounts}
    skips: dict[tuple[str, str], Skip] = {}
    for ns in sorted(targets):
        for d in targets[ns]:
            if (ns, d.spec.secret_name) in conflicted:
                continue
            for name in d.spec.service_accounts:
                if _GLOB.search(name) or (ns, name) in existing or (ns, name) in skips:
                    continue
                if name == DEFAULT_SERVICE_ACCOUNT:
                    reason = (f"ServiceAccount default does not exist in namespace {ns} yet (the controller "
                              "creates it right after the namespace): waiting, the next apply attaches "
                              f"{d.spec.secret_name}")
                else:
                    reason = (f"ServiceAccount {name} does not exist in namespace {ns}: nothing attached "
                              "(create it, or take it out of spec.serviceAccounts)")
                skips[(ns, name)] = Skip(ns, reason, "ServiceAccount", name, name == DEFAULT_SERVICE_ACCOUNT)
    return list(skips.values())

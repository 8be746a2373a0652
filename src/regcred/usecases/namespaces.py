"""Which namespaces a cluster use case works on: one, all, or those matching a label selector.

Namespaces being deleted are skipped with a reason: they refuse new objects (403 NamespaceTerminating) and
their content is about to go.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from regcred.core.errors import InputError
from regcred.core.objects import is_terminating
from regcred.usecases.kubeapi import KubeApi, Obj


@dataclass
class NamespaceSelection:
    """The namespaces to work on, and those skipped with the reason why."""

    active: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class NamespaceQuery:
    """What was asked for: one namespace (None: the context's), every namespace, or a label selector."""

    namespace: str | None = None
    all_namespaces: bool = False
    selector: str | None = None

    @property
    def fans_out(self) -> bool:
        return self.all_namespaces or bool(self.selector)

    def select(self, api: KubeApi) -> NamespaceSelection:
        return select_namespaces(api, namespace=self.namespace, all_namespaces=self.all_namespaces,
                                 selector=self.selector)

    def list_scope(self, selection: NamespaceSelection) -> str | None:
        """Where to LIST: cluster-wide (None) when fanning out, else the one selected namespace."""
        return None if self.fans_out else (selection.active[0] if selection.active else None)


def select_namespaces(api: KubeApi, *, namespace: str | None = None, all_namespaces: bool = False,
                      selector: str | None = None) -> NamespaceSelection:
    """One namespace (-n, checked to exist), all (-A) or a label selector; terminating ones skipped."""
    from regcred.shells.kube.errors import KubeForbidden, KubeNotFound

    selection = NamespaceSelection()
    if all_namespaces or selector:
        for ns in api.iter_list("Namespace", label_selector=selector):
            _sort_into(selection, ns)
        selection.active.sort()
        return selection
    name = namespace or api.default_namespace
    try:
        _sort_into(selection, api.get("Namespace", name))
    except KubeNotFound:
        raise InputError(f"namespace {name} not found", hint="check the name with kubectl get namespaces") from None
    except KubeForbidden:
        selection.active.append(name)  # cannot read namespaces (namespace-scoped RBAC): work on it anyway
    return selection


def _sort_into(selection: NamespaceSelection, ns: dict[str, Any]) -> None:
    name = str((ns.get("metadata") or {}).get("name"))
    if is_terminating(ns):
        selection.skipped[name] = "namespace is being terminated"
    else:
        selection.active.append(name)


def named_per_namespace(api: KubeApi, kind: str, name: str, scope: str | None) -> dict[str, Obj]:
    """The objects of `kind` called `name`, by namespace: one LIST (field selector) in `scope` (None: all)."""
    return {str(obj["metadata"]["namespace"]): obj
            for obj in api.iter_list(kind, scope, field_selector=f"metadata.name={name}")}

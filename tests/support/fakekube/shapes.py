"""The JSON an object is stored and served as, per kind of resource.

Why: built-in types serialise in Go struct order with omitempty rules, custom resources as
unstructured maps (keys sorted), Events keep their non-omitempty nulls; and what bumps
metadata.generation differs between built-in and custom resources.
"""

from __future__ import annotations

from typing import Any

from . import crd as crds
from . import events
from .request import canonical
from .resources import BY_PATH, ResourceType

CRDS = BY_PATH[("apiextensions.k8s.io", "v1", "customresourcedefinitions")]


def shape(rt: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
    """The stored JSON: Go struct order for built-in types, sorted keys for custom resources."""
    if rt.kind == "Event":
        return events.core_shape(obj)
    if not rt.custom:
        return canonical(obj)
    meta = {k: v for k, v in (obj.get("metadata") or {}).items() if v not in (None, "", {}, [])}
    return crds.sort_keys({**{k: v for k, v in obj.items() if v is not None}, "metadata": meta})


def generation_part(rt: ResourceType, obj: dict[str, Any]) -> Any:
    """What bumps metadata.generation: spec for built-ins, everything but metadata/status for CRs."""
    if not rt.custom and rt is not CRDS:
        return obj.get("spec") or {}
    return {k: v for k, v in obj.items() if k not in ("metadata", "status", "kind", "apiVersion")}

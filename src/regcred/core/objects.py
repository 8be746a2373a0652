"""Reading the metadata of Kubernetes objects held as plain dicts, tolerant of missing or wrong-typed fields."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def metadata(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    """`metadata`, or an empty mapping when it is absent or not an object."""
    meta = obj.get("metadata")
    return meta if isinstance(meta, Mapping) else {}


def name_of(obj: Mapping[str, Any]) -> str:
    return str(metadata(obj).get("name") or "")


def namespace_of(obj: Mapping[str, Any]) -> str:
    return str(metadata(obj).get("namespace") or "")


def is_terminating(obj: Mapping[str, Any]) -> bool:
    """Being deleted (a namespace: creates in it are refused): a deletionTimestamp, or phase Terminating."""
    status = obj.get("status")
    phase = status.get("phase") if isinstance(status, Mapping) else None
    return bool(metadata(obj).get("deletionTimestamp")) or phase == "Terminating"

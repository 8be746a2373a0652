"""Result rows: what happened to one object (or one namespace), the unit every cluster use case reports in."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class RowStatus(StrEnum):
    """A row's outcome; the value is what the table and the JSON print (a stable contract)."""

    CREATED = "created"
    UPDATED = "updated"
    DELETED = "deleted"
    ATTACHED = "attached"
    DETACHED = "detached"
    PATCHED = "patched"
    RESTARTED = "restarted"
    UNCHANGED = "unchanged"
    KEPT = "kept"  # detach: the entry is someone else's, left in place
    SKIPPED = "skipped"
    REFUSED = "refused"  # names another ServiceAccount and --force was not given
    STUCK = "stuck"  # Pods stuck pulling that regcred did not (or could not) restart
    FAILED = "failed"
    WOULD_CREATE = "would-create"
    WOULD_UPDATE = "would-update"
    WOULD_DELETE = "would-delete"
    WOULD_ADD = "would-add"
    WOULD_REMOVE = "would-remove"
    WOULD_ATTACH = "would-attach"
    WOULD_DETACH = "would-detach"
    WOULD_PATCH = "would-patch"
    WOULD_RESTART = "would-restart"

    @classmethod
    def would(cls, action: str) -> RowStatus:
        """The dry-run status of an action (create -> would-create)."""
        return cls(f"would-{action}")


@dataclass
class TargetResult:
    """One row of a summary: what happened to one object (or one namespace)."""

    namespace: str
    name: str
    status: RowStatus
    message: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def failed(self) -> bool:
        return self.status is RowStatus.FAILED

    def as_json(self) -> dict[str, Any]:
        return {"namespace": self.namespace, "name": self.name, "status": self.status.value,
                "message": self.message, **self.extra}


def skipped_rows(skipped: dict[str, str]) -> list[TargetResult]:
    """One `skipped` row per namespace left out of the selection, with its reason."""
    return [TargetResult(ns, "", RowStatus.SKIPPED, reason) for ns, reason in sorted(skipped.items())]


def summarize(rows: Sequence[TargetResult]) -> dict[str, int]:
    """Rows per status, by status name."""
    counts: dict[str, int] = {}
    for row in rows:
        counts[row.status.value] = counts.get(row.status.value, 0) + 1
    return dict(sorted(counts.items()))

"""A RegistryCredential's status written through `/status`, only when it changed (core/controller/conditions).

Why a separate step: reconciles run per namespace, the status speaks for the whole spec; the manager keeps
each key's last result and calls `write_status` for the spec after its keys ran (or after a resync, which
then writes nothing: the status differs at most by lastSyncTime).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from regcred.controller.reconciler import ReconcileResult
from regcred.core.controller.conditions import NamespaceOutcome, desired_status, status_differs
from regcred.usecases.kubeapi import Obj


def outcome(result: ReconcileResult) -> NamespaceOutcome:
    """What the status needs from one key's last reconcile."""
    failure = "; ".join(result.errors[:1])
    in_sync = result.targeted and not result.failed and not result.skipped and not result.waiting
    return NamespaceOutcome(result.key[1], targeted=result.targeted and not result.skipped, secret_in_sync=in_sync,
                            service_accounts_covered=result.covered, waiting=result.waiting, failure=failure,
                            forbidden=tuple(str(f) for f in result.forbidden), not_owned=bool(result.not_owned))


def now_rfc3339() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def write_status(api: Any, spec: Obj, results: Iterable[ReconcileResult], *, pending: int = 0,
                 now: str | None = None) -> Obj | None:
    """PATCH the spec's /status when it differs (but for lastSyncTime); the answer, or None when nothing sent.

    `api` is the shell client (a status write is not one of the use cases' calls).
    """
    current = spec.get("status") or None
    meta = spec.get("metadata") or {}
    wanted = desired_status(current, [outcome(r) for r in results], generation=int(meta.get("generation") or 0),
                            pending=pending, now=now or now_rfc3339())
    if not status_differs(current, wanted):
        return None
    answer: Obj = api.patch("RegistryCredential", str(meta.get("name")), None, {"status": wanted},
                            patch_type="merge", subresource="status")
    return answer

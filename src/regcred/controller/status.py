"""A RegistryCredential's status written through `/status`, only when it changed (core/controller/conditions).

Why a separate step: reconciles run per namespace, the status speaks for the whole spec. The manager keeps
each key's last result (`Seen`) and, at most once per second, writes the status of each spec whose keys ran
(`progress` says what is still pending: Ready only once every targeted namespace has a result for the spec's
current generation), so 1,000 namespaces converging cost a handful of status writes, not 1,000; a resync that
changed nothing writes nothing (the status differs at most by lastSyncTime).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from regcred.controller.reconciler import ReconcileResult
from regcred.core.controller.conditions import NamespaceOutcome, desired_status, status_differs
from regcred.core.objects import is_terminating, metadata, name_of
from regcred.core.spec.expiry import earliest
from regcred.core.spec.model import RegistryCredential
from regcred.usecases.kubeapi import Obj


@dataclass(frozen=True, slots=True)
class Seen:
    """A key's last reconcile, with the spec generation it reconciled and whether the spec was being deleted."""

    generation: int
    deleting: bool
    result: ReconcileResult


@dataclass(frozen=True, slots=True)
class Progress:
    """Where one spec stands over the namespaces the controller sees."""

    results: tuple[ReconcileResult, ...]  # the last result in every namespace that still exists
    pending: int  # namespaces not reconciled for the current generation yet, or queued again
    uncovered: int  # targeted namespaces whose Secret is not (yet) in sync
    unseen: int = 0  # of the pending: targeted namespaces this process has no result of this generation for
    requeued: int = 0  # of the pending: queued namespaces it has such a result for (something changed there)


def outcome(result: ReconcileResult) -> NamespaceOutcome:
    """What the status needs from one key's last reconcile."""
    failure = "; ".join(result.errors[:1])
    in_sync = result.targeted and not result.failed and not result.skipped and not result.waiting
    return NamespaceOutcome(result.key[1], targeted=result.targeted and not result.skipped, secret_in_sync=in_sync,
                            service_accounts_covered=result.covered, waiting=result.waiting, failure=failure,
                            forbidden=tuple(str(f) for f in result.forbidden), not_owned=bool(result.not_owned),
                            expiring=earliest(result.expiries or (), renewed=False))


def progress(spec: RegistryCredential, generation: int, namespaces: Iterable[Obj], seen: Mapping[str, Seen],
             queued: Iterable[str] = ()) -> Progress:
    """The spec's progress: `namespaces` the cached Namespaces, `queued` those with a key outstanding."""
    live = {name_of(ns): ns for ns in namespaces}
    targets = {name for name, ns in live.items()
               if not is_terminating(ns) and spec.namespaces.matches(name, metadata(ns).get("labels") or {})}
    current = {name: s for name, s in seen.items() if name in live}
    pending = {name for name in targets if name not in current or current[name].generation != generation}
    in_sync = {name for name, s in current.items() if outcome(s.result).secret_in_sync}
    queued = set(queued)
    requeued = {name for name in queued if name in current and current[name].generation == generation}
    return Progress(tuple(s.result for _, s in sorted(current.items())), len(pending | queued),
                    len(targets - in_sync), unseen=len(pending), requeued=len(requeued))


def holds(current: Obj | None, generation: int, now: Progress) -> bool:
    """Keep a Ready status written for this generation (by this process or an earlier leader) while the only
    news is namespaces not reconciled yet by this process (queued or not: a follower's caches queue every key
    before it leads): a restart or a new leader would otherwise write Progressing and partial counts, then
    Ready again."""
    conditions = (current or {}).get("conditions") or []
    ready = any(isinstance(c, dict) and c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)
    return ready and (current or {}).get("observedGeneration") == generation and now.unseen > 0 and not now.requeued


def cleaned_up(namespaces: Iterable[Obj], seen: Mapping[str, Seen]) -> bool:
    """A deleted spec's cleanup is done: every namespace reconciled without failure since the deletion (no
    namespace at all: nothing to clean)."""
    for ns in namespaces:
        last = seen.get(name_of(ns))
        if last is None or not last.deleting or last.result.failed:
            return False
    return True


def now_rfc3339() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def write_status(api: Any, spec: Obj, results: Iterable[ReconcileResult], *, pending: int = 0,
                 now: str | None = None, secret_name: str = "") -> Obj | None:
    """PATCH the spec's /status when it differs (but for lastSyncTime); the answer, or None when nothing sent.

    `api` is the shell client (a status write is not one of the use cases' calls).
    """
    current = spec.get("status") or None
    meta = spec.get("metadata") or {}
    wanted = desired_status(current, [outcome(r) for r in results], generation=int(meta.get("generation") or 0),
                            pending=pending, now=now or now_rfc3339(), secret_name=secret_name)
    if not status_differs(current, wanted):
        return None
    answer: Obj = api.patch("RegistryCredential", str(meta.get("name")), None, {"status": wanted},
                            patch_type="merge", subresource="status")
    return answer

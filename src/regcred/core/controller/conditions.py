"""A RegistryCredential's status from its per-namespace outcomes: conditions, counts, when to write it. Pure.

Why pure: the rules (which condition wins, when lastTransitionTime moves, what counts as a change worth a
write) are what users read in `kubectl get regcred`; they are tested without a cluster. Conditions follow
metav1.Condition: type, status True/False/Unknown, CamelCase reason, message, lastTransitionTime (moves only
when status changes), observedGeneration. The status is written only when it differs other than by
lastSyncTime, so a resync that changes nothing writes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from regcred.core.spec.expiry import Expiry, earliest

FIRST_FAILURES = 5  # failures named in the status message; the count says how many there are
EXPIRY_WARNING = 7 * 24 * 3600.0  # a static credential's expiry this close makes the spec Degraded


@dataclass(frozen=True, slots=True)
class NamespaceOutcome:
    """The last reconcile of one (spec, namespace) key, as the status needs it."""

    namespace: str
    targeted: bool = True
    secret_in_sync: bool = False
    service_accounts_covered: int = 0  # ServiceAccounts carrying the spec's entry
    waiting: bool = False  # nothing wrong, but not done (the default ServiceAccount not created yet)
    failure: str = ""  # one line, no credential
    forbidden: tuple[str, ...] = ()  # "cannot patch serviceaccounts in namespace x"
    not_owned: bool = False
    expiring: Expiry | None = None  # the first static credential to expire (expiresAt, a Secret's annotation)


def _condition(type_: str, status: str, reason: str, message: str, generation: int, now: str,
               previous: Mapping[str, Any] | None) -> dict[str, Any]:
    moved = previous is None or previous.get("status") != status
    since = now if moved or not previous or not previous.get("lastTransitionTime") else previous["lastTransitionTime"]
    return {"type": type_, "status": status, "reason": reason, "message": message,
            "lastTransitionTime": since, "observedGeneration": generation}


def _failures(outcomes: Sequence[NamespaceOutcome]) -> list[str]:
    found = []
    for o in outcomes:
        if o.forbidden:
            found += list(o.forbidden)
        elif o.not_owned:
            found.append(f"{o.namespace}: a Secret of the same name is not regcred's (left alone)")
        elif o.failure:
            found.append(o.failure)
    return list(dict.fromkeys(found))


def _expiring(targeted: Sequence[NamespaceOutcome], now: float) -> Expiry | None:
    """The first static credential to expire when that is within EXPIRY_WARNING of `now`, else None."""
    first = earliest(o.expiring for o in targeted if o.expiring is not None)
    return first if first is not None and first.at - now <= EXPIRY_WARNING else None


def desired_status(current: Mapping[str, Any] | None, outcomes: Iterable[NamespaceOutcome], *, generation: int,
                   pending: int, now: str, secret_name: str = "") -> dict[str, Any]:
    """The status to hold: `pending` keys still queued for this spec make it Progressing; `secret_name` (the
    Secret the spec writes, its name by default) is shown by `kubectl get regcred`."""
    outcomes = sorted(outcomes, key=lambda o: o.namespace)
    targeted = [o for o in outcomes if o.targeted]
    failures = _failures(outcomes)
    waiting = [o.namespace for o in targeted if o.waiting]
    previous = {c.get("type"): c for c in (current or {}).get("conditions") or [] if isinstance(c, Mapping)}
    clock = datetime.strptime(now, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()
    expiring = _expiring(targeted, clock)
    if any(o.forbidden for o in outcomes):
        degraded = ("True", "Forbidden")
    elif any(o.not_owned for o in outcomes):
        degraded = ("True", "SecretNotOwned")
    elif failures:
        degraded = ("True", "ReconcileFailed")
    elif expiring is not None:  # a warning: Ready still says how the copies are
        degraded = ("True", "CredentialExpiring")
    else:
        degraded = ("False", "AsExpected")
    more = f" (and {len(failures) - FIRST_FAILURES} more)" if len(failures) > FIRST_FAILURES else ""
    degraded_msg = "; ".join(failures[:FIRST_FAILURES]) + more if failures else "no failures"
    if expiring is not None and not failures:
        degraded_msg = f"{expiring.describe(clock)}: replace it, and its expiry date, in time"
    if pending:
        progressing = ("True", "Reconciling", f"{pending} namespace(s) queued")
    elif waiting:
        progressing = ("True", "WaitingForServiceAccount", "waiting in " + ", ".join(waiting[:FIRST_FAILURES]))
    else:
        progressing = ("False", "Converged", "nothing left to do")
    in_sync = sum(1 for o in targeted if o.secret_in_sync)
    if degraded[0] == "True" and degraded[1] != "CredentialExpiring":
        ready = ("False", degraded[1], degraded_msg)
    elif progressing[0] == "True":
        ready = ("False", progressing[1], progressing[2])
    else:
        ready = ("True", "Converged", f"{in_sync} of {len(targeted)} namespace(s) in sync")
    conditions = [
        _condition("Ready", *ready, generation, now, previous.get("Ready")),
        _condition("Progressing", *progressing, generation, now, previous.get("Progressing")),
        _condition("Degraded", degraded[0], degraded[1], degraded_msg, generation, now, previous.get("Degraded")),
    ]
    status: dict[str, Any] = {
        "observedGeneration": generation,
        "conditions": conditions,
        "namespacesTargeted": len(targeted),
        "secretsInSync": in_sync,
        "serviceAccountsCovered": sum(o.service_accounts_covered for o in outcomes),
        "failures": len(failures),
        "firstFailures": failures[:FIRST_FAILURES],
        "lastSyncTime": now,
    }
    if secret_name:
        status["secretName"] = secret_name
    if current and not status_differs(current, status):
        status["lastSyncTime"] = current.get("lastSyncTime", now)
    return status


def status_differs(current: Mapping[str, Any] | None, wanted: Mapping[str, Any]) -> bool:
    """Whether writing `wanted` changes anything but lastSyncTime (a resync that changed nothing: no write)."""
    def strip(status: Mapping[str, Any] | None) -> dict[str, Any]:
        return {k: v for k, v in (status or {}).items() if k != "lastSyncTime"}

    return strip(current) != strip(wanted)


def _degraded(status: Mapping[str, Any] | None) -> tuple[str, str]:
    found = next((c for c in (status or {}).get("conditions") or []
                  if isinstance(c, Mapping) and c.get("type") == "Degraded" and c.get("status") == "True"), None)
    return (str(found.get("reason")), str(found.get("message"))) if found else ("", "")


def expiry_warning(before: Mapping[str, Any] | None, after: Mapping[str, Any]) -> str | None:
    """The note of a CredentialExpiring Event when the status just started warning (or warns of another
    credential or date): once per change, not once per status write or namespace."""
    reason, message = _degraded(after)
    if reason != "CredentialExpiring" or _degraded(before) == (reason, message):
        return None
    return message

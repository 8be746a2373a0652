"""Status from outcomes: which condition wins, lastTransitionTime moves only with status, no write when equal."""

from __future__ import annotations

from typing import Any

from regcred.core.controller.conditions import (
    NamespaceOutcome,
    desired_status,
    expiry_warning,
    status_differs,
)
from regcred.core.spec.expiry import Expiry

T0, T1, T2 = "2026-01-01T00:00:00Z", "2026-01-01T00:01:00Z", "2026-01-01T00:02:00Z"


def conditions(status: dict[str, Any]) -> dict[str, tuple[str, str, str]]:
    return {c["type"]: (c["status"], c["reason"], c["lastTransitionTime"]) for c in status["conditions"]}


def test_converged_ready_and_a_resync_writes_nothing() -> None:
    ok = [NamespaceOutcome("a", secret_in_sync=True, service_accounts_covered=1),
          NamespaceOutcome("b", secret_in_sync=True, service_accounts_covered=2), NamespaceOutcome("c", targeted=False)]
    first = desired_status(None, ok, generation=3, pending=0, now=T0)
    assert conditions(first) == {"Ready": ("True", "Converged", T0), "Progressing": ("False", "Converged", T0),
                                 "Degraded": ("False", "AsExpected", T0)}
    assert (first["observedGeneration"], first["namespacesTargeted"], first["secretsInSync"],
            first["serviceAccountsCovered"], first["failures"]) == (3, 2, 2, 3, 0)
    again = desired_status(first, ok, generation=3, pending=0, now=T1)
    assert not status_differs(first, again) and again == first  # lastSyncTime kept: nothing to write
    named = desired_status(first, ok, generation=3, pending=0, now=T1, secret_name="harbor-pull")
    assert named["secretName"] == "harbor-pull" and status_differs(first, named)  # for `kubectl get regcred`


def test_forbidden_wins_names_the_verb_and_transition_time_moves_only_with_status() -> None:
    ok = desired_status(None, [NamespaceOutcome("a", secret_in_sync=True)], generation=1, pending=0, now=T0)
    denied = [NamespaceOutcome("a", failure="x", forbidden=("cannot patch serviceaccounts in namespace a",)),
              NamespaceOutcome("b", not_owned=True)]
    bad = desired_status(ok, denied, generation=1, pending=0, now=T1)
    assert conditions(bad)["Degraded"] == ("True", "Forbidden", T1)
    assert conditions(bad)["Ready"] == ("False", "Forbidden", T1)
    assert conditions(bad)["Progressing"] == ("False", "Converged", T0)  # unchanged status keeps its time
    degraded = next(c for c in bad["conditions"] if c["type"] == "Degraded")
    assert "cannot patch serviceaccounts in namespace a" in degraded["message"]
    assert "b: a Secret of the same name is not regcred's" in degraded["message"]
    assert bad["failures"] == 2 and status_differs(ok, bad)
    still = desired_status(bad, denied, generation=2, pending=0, now=T2)
    assert conditions(still)["Degraded"] == ("True", "Forbidden", T1)
    assert still["observedGeneration"] == 2 and status_differs(bad, still)


def test_pending_and_waiting_are_progressing_and_failures_are_capped() -> None:
    busy = desired_status(None, [NamespaceOutcome("a", waiting=True)], generation=1, pending=4, now=T0)
    assert conditions(busy)["Progressing"][:2] == ("True", "Reconciling")
    assert conditions(busy)["Ready"][:2] == ("False", "Reconciling")
    waiting = desired_status(busy, [NamespaceOutcome("a", waiting=True)], generation=1, pending=0, now=T1)
    assert conditions(waiting)["Progressing"] == ("True", "WaitingForServiceAccount", T0)
    many = [NamespaceOutcome(f"n{i}", failure=f"n{i}: Secret/x: boom") for i in range(8)]
    failed = desired_status(None, many, generation=1, pending=0, now=T0)
    assert failed["failures"] == 8 and len(failed["firstFailures"]) == 5
    assert next(c for c in failed["conditions"] if c["type"] == "Degraded")["message"].endswith("(and 3 more)")


def test_a_static_password_expiring_within_a_week_is_degraded_but_ready() -> None:
    week = 7 * 24 * 3600
    t0 = 1767225600.0  # T0 as Unix time
    soon = [NamespaceOutcome("a", secret_in_sync=True, expiring=Expiry("r.example.com", t0 + week - 60, "expiresAt"))]
    later = [NamespaceOutcome("a", secret_in_sync=True, expiring=Expiry("r.example.com", t0 + week + 60, "expiresAt"))]
    status = desired_status(None, soon, generation=1, pending=0, now=T0)
    assert conditions(status)["Degraded"] == ("True", "CredentialExpiring", T0)
    assert conditions(status)["Ready"] == ("True", "Converged", T0) and status["failures"] == 0
    degraded = next(c for c in status["conditions"] if c["type"] == "Degraded")
    assert degraded["message"] == ("the credential for r.example.com expires at 2026-01-07T23:59:00Z (expiresAt): "
                                   "replace it, and its expiry date, in time")
    assert conditions(desired_status(None, later, generation=1, pending=0, now=T0))["Degraded"][0] == "False"
    failing = [NamespaceOutcome("a", failure="boom", expiring=Expiry("r.example.com", t0, "expiresAt"))]
    assert conditions(desired_status(None, failing, generation=1, pending=0, now=T0))["Degraded"][1] == \
        "ReconcileFailed"


def test_an_expired_static_credential_says_so_and_names_its_origin() -> None:
    origin = "annotation regcred.dev/expires-at of Secret vault/harbor-robot"
    gone = [NamespaceOutcome("a", secret_in_sync=True, expiring=Expiry("harbor.example.com", 1767225000.0, origin))]
    degraded = next(c for c in desired_status(None, gone, generation=1, pending=0, now=T0)["conditions"]
                    if c["type"] == "Degraded")
    assert degraded["message"] == ("the credential for harbor.example.com expired at 2025-12-31T23:50:00Z "
                                   f"({origin}): replace it, and its expiry date, in time")


def test_the_expiry_event_is_due_once_per_new_warning() -> None:
    def status(expiring: Expiry | None) -> dict[str, Any]:
        return desired_status(None, [NamespaceOutcome("a", secret_in_sync=True, expiring=expiring)], generation=1,
                              pending=0, now=T0)

    soon, sooner = Expiry("r.example.com", 1767300000.0, "expiresAt"), Expiry("r.example.com", 1767290000.0,
                                                                                "expiresAt")
    quiet, warned = status(None), status(soon)
    note = expiry_warning(quiet, warned)
    assert note is not None and note.startswith("the credential for r.example.com expires at 2026-01-01T20:40:00Z")
    assert expiry_warning(None, warned) == note  # a first status that already warns
    assert expiry_warning(warned, status(soon)) is None  # the same warning written again: no second Event
    assert expiry_warning(warned, status(sooner)) is not None  # another date: a new Event
    assert expiry_warning(warned, quiet) is None  # the warning is gone: nothing to say

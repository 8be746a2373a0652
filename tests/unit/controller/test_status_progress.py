"""Where a spec stands (pending, uncovered) and when a deleted spec's cleanup is done, from the keys' results."""

from __future__ import annotations

from typing import Any

from regcred.controller.reconciler import ReconcileResult, parse_spec
from regcred.controller.status import Seen, cleaned_up, progress

SPEC = parse_spec({"apiVersion": "regcred.dev/v1alpha1", "kind": "RegistryCredential",
                   "metadata": {"name": "harbor", "generation": 2},
                   "spec": {"registries": [{"server": "r.example.com", "username": "u",
                                            "passwordFrom": {"env": "REG_PW"}}],
                            "namespaces": {"selector": {"matchLabels": {"team": "a"}}}}})


def ns(name: str, team: str = "a", terminating: bool = False) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "labels": {"team": team}}
    if terminating:
        meta["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    return {"metadata": meta}


def synced(name: str, generation: int = 2, deleting: bool = False, failed: bool = False) -> Seen:
    result = ReconcileResult(("harbor", name), targeted=not deleting, covered=1,
                             errors=("boom",) if failed else ())
    return Seen(generation, deleting, result)


def test_a_targeted_namespace_without_a_result_of_this_generation_is_pending() -> None:
    namespaces = [ns("a1"), ns("a2"), ns("a3"), ns("b1", team="b"), ns("gone", terminating=True)]
    seen = {"a1": synced("a1"), "a2": synced("a2", generation=1), "b1": synced("b1")}
    now = progress(SPEC, 2, namespaces, seen)
    assert now.pending == 2  # a2 (older generation), a3 (never reconciled); not b1, not the terminating one
    assert now.uncovered == 1  # a3: a1 and a2 carry the Secret
    assert [r.key[1] for r in now.results] == ["a1", "a2", "b1"]
    assert progress(SPEC, 2, namespaces, {**seen, "a2": synced("a2"), "a3": synced("a3")}).pending == 0
    assert progress(SPEC, 2, namespaces, {n: synced(n) for n in ("a1", "a2", "a3")}, queued=["b1"]).pending == 1


def test_results_of_namespaces_that_are_gone_are_left_out() -> None:
    now = progress(SPEC, 2, [ns("a1")], {"a1": synced("a1"), "old": synced("old")})
    assert [r.key[1] for r in now.results] == ["a1"] and now.pending == 0 and now.uncovered == 0


def test_cleanup_is_done_only_with_a_successful_result_since_the_deletion_in_every_namespace() -> None:
    assert cleaned_up([], {})  # no namespace: nothing to clean
    namespaces = [ns("a1"), ns("b1", team="b")]
    assert not cleaned_up(namespaces, {"a1": synced("a1"), "b1": synced("b1", deleting=True)})  # a1: before
    assert not cleaned_up(namespaces, {"a1": synced("a1", deleting=True, failed=True),
                                       "b1": synced("b1", deleting=True)})
    assert not cleaned_up(namespaces, {"b1": synced("b1", deleting=True)})
    assert cleaned_up(namespaces, {n: synced(n, deleting=True) for n in ("a1", "b1")})


def test_a_ready_status_of_this_generation_is_held_while_only_unseen_namespaces_are_pending() -> None:
    from regcred.controller.status import holds

    ready = {"observedGeneration": 2, "conditions": [{"type": "Ready", "status": "True"}]}
    namespaces = [ns("a1"), ns("a2")]
    fresh = progress(SPEC, 2, namespaces, {"a1": synced("a1")})  # a new leader: a2 not reconciled yet
    assert holds(ready, 2, fresh)
    assert not holds({**ready, "observedGeneration": 1}, 2, fresh)  # the spec changed since
    assert not holds({**ready, "conditions": [{"type": "Ready", "status": "False"}]}, 2, fresh)
    assert holds(ready, 2, progress(SPEC, 2, namespaces, {"a1": synced("a1")}, queued=["a2"]))  # its first key
    assert not holds(ready, 2, progress(SPEC, 2, namespaces, {"a1": synced("a1")}, queued=["a1"]))  # an event
    assert not holds(ready, 2, progress(SPEC, 2, namespaces, {n: synced(n) for n in ("a1", "a2")}))  # all seen

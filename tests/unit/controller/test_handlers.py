"""The manager's event handlers: the keys an event enqueues, from the caches, at a cost that does not grow with
the number of namespaces per event (a cold start brings one event per object)."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from regcred.controller.manager import Manager, Options
from regcred.controller.metrics import ControllerMetrics
from regcred.core.controller import keys


def spec(generation: int) -> dict[str, Any]:
    return {"apiVersion": "regcred.dev/v1alpha1", "kind": "RegistryCredential",
            "metadata": {"name": "harbor", "uid": "u1", "generation": generation, "resourceVersion": str(generation)},
            "spec": {"registries": [{"server": "r.example.com", "username": "u", "passwordFrom": {"env": "PW"}}],
                     "namespaces": {"selector": {"matchLabels": {"team": "a"}}}}}


@pytest.fixture
def manager() -> Manager:
    m = Manager(None, Options(), threading.Event(), ControllerMetrics())
    m.informers["RegistryCredential"].write_through(spec(1))
    for name, team in (("in", "a"), ("out", "b")):
        m.informers["Namespace"].write_through({"kind": "Namespace", "metadata": {
            "name": name, "resourceVersion": "1", "labels": {"team": team}}})
    return m


def sa(namespace: str) -> dict[str, Any]:
    return {"kind": "ServiceAccount", "metadata": {"name": "default", "namespace": namespace, "resourceVersion": "5"}}


def queued(m: Manager) -> set[tuple[str, str]]:
    found = set()
    while (key := m.queue.get(timeout=0.01)) is not None:
        found.add(key)
        m.queue.done(key)
    return found


def test_a_service_account_event_keys_its_namespace_only_when_targeted(manager: Manager) -> None:
    handle = manager._handler("ServiceAccount")
    handle("ADDED", None, sa("in"))
    handle("ADDED", None, sa("out"))
    handle("ADDED", None, sa("not-cached-yet"))  # its Namespace event may come later: keyed, the reconcile decides
    assert queued(manager) == {("harbor", "in"), ("harbor", "not-cached-yet")}


def test_specs_are_parsed_once_per_generation(manager: Manager, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    real = keys.parse_document
    monkeypatch.setattr(keys, "parse_document", lambda obj, source: calls.append("parse") or real(obj, source))
    handle = manager._handler("ServiceAccount")
    for _ in range(50):
        handle("ADDED", None, sa("in"))
    assert len(calls) == 1
    manager.informers["RegistryCredential"].write_through({**spec(1), "status": {"secretsInSync": 1},
                                                          "metadata": {**spec(1)["metadata"], "resourceVersion": "9"}})
    handle("ADDED", None, sa("in"))
    assert len(calls) == 1  # a status write: same generation, same parse
    manager.informers["RegistryCredential"].write_through({**spec(2), "metadata": {**spec(2)["metadata"],
                                                                                   "resourceVersion": "10"}})
    handle("ADDED", None, sa("in"))
    assert len(calls) == 2


def test_an_informer_lists_one_namespace_from_its_index() -> None:
    from regcred.controller.informer import Informer

    inf = Informer(None, "ServiceAccount", stop=threading.Event())  # type: ignore[arg-type]
    for ns, name in (("a", "default"), ("a", "ci"), ("b", "default")):
        inf.write_through({"kind": "ServiceAccount", "metadata": {"name": name, "namespace": ns, "resourceVersion": "1"}})
    assert sorted(o["metadata"]["name"] for o in inf.list("a")) == ["ci", "default"]
    inf.forget("ci", "a")
    inf.forget("default", "b")
    assert [o["metadata"]["name"] for o in inf.list("a")] == ["default"]
    assert inf.list("b") == [] and len(inf.list()) == 1


def test_a_write_answered_with_a_deleted_object_leaves_the_cache_even_after_its_deleted_event() -> None:
    from regcred.controller.informer import Informer

    inf = Informer(None, "RegistryCredential", stop=threading.Event())  # type: ignore[arg-type]
    inf.write_through(spec(1))
    inf._apply("DELETED", spec(1))  # the watch's DELETED event came before the finalizer PATCH's answer
    released = {**spec(1), "metadata": {**spec(1)["metadata"], "resourceVersion": "7", "finalizers": [],
                                        "deletionTimestamp": "2026-12-02T12:00:00Z"}}
    inf.write_through(released)  # the API server removed it on this very write: never stored back
    assert inf.get(spec(1)["metadata"]["name"]) is None
    waiting = {**released, "metadata": {**released["metadata"], "finalizers": ["other.example.com/hold"]}}
    inf.write_through(waiting)  # another finalizer still holds it: it exists, and is cached
    assert inf.get(spec(1)["metadata"]["name"]) is not None

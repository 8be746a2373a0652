"""Informer against the fake API and (envtest tier) a real kube-apiserver: the same scenarios on both."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from regcred.controller.informer import Informer
from regcred.core.controller.cachefields import secret_fields
from regcred.shells.kube import ClusterConfig, KubeApi, connect
from tests.support.kube import FakeBackend, KubeBackend
from tests.support.waiting import eventually as _eventually

wait_for = _eventually

Seen = list[tuple[str, str]]



def secret(ns: str, name: str, app: str = "w", value: str = "djE=") -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": ns, "labels": {"app": app}},
            "data": {"k": value}}


@pytest.fixture
def api(kube: KubeBackend) -> Iterator[KubeApi]:
    client = connect(ClusterConfig(kubeconfig=str(kube.kubeconfig), qps=0))
    yield client
    client.close()


class Running:
    """An informer on Secrets labelled app=w in a fresh namespace, with what its handlers saw."""

    def __init__(self, kube: KubeBackend, api: KubeApi) -> None:
        self.kube, self.api = kube, api
        self.ns = kube.unique_ns("inf")
        kube.create_namespace(self.ns, default_sa=False)
        self.stop = threading.Event()
        self.seen: Seen = []

    def start(self, **kw: Any) -> Informer:
        inf = Informer(self.api, "Secret", namespace=self.ns, label_selector="app=w", transform=secret_fields,
                       stop=self.stop, **kw)
        inf.add_handler(lambda kind, old, new: self.seen.append((kind, (new or old or {})["metadata"]["name"])))
        inf.start()
        assert inf.wait_synced(10)
        return inf


@pytest.fixture
def run(kube: KubeBackend, api: KubeApi) -> Iterator[Running]:
    r = Running(kube, api)
    yield r
    r.stop.set()


def test_initial_sync_then_adds_updates_deletes(run: Running) -> None:
    run.kube.create(secret(run.ns, "before"))
    inf = run.start()
    assert [o["metadata"]["name"] for o in inf.list()] == ["before"]
    assert "managedFields" not in inf.get("before", run.ns)["metadata"]  # type: ignore[index]
    run.kube.create(secret(run.ns, "s1"))
    run.kube.patch("v1", "Secret", "s1", {"data": {"k": "djI="}}, namespace=run.ns)
    run.kube.delete("v1", "Secret", "before", namespace=run.ns)
    assert wait_for(lambda: len(run.seen) >= 4)
    assert run.seen == [("ADDED", "before"), ("ADDED", "s1"), ("MODIFIED", "s1"), ("DELETED", "before")]
    assert inf.get("s1", run.ns)["data"] == {"k": "djI="}  # type: ignore[index]
    assert inf.get("before", run.ns) is None
    assert inf.lists == 1


def test_an_object_leaving_the_selector_is_a_delete(run: Running) -> None:
    run.kube.create(secret(run.ns, "s1"))
    inf = run.start()
    run.kube.patch("v1", "Secret", "s1", {"metadata": {"labels": {"app": "other"}}}, namespace=run.ns)
    run.kube.create(secret(run.ns, "s2", app="other"))
    run.kube.patch("v1", "Secret", "s2", {"metadata": {"labels": {"app": "w"}}}, namespace=run.ns)
    assert wait_for(lambda: len(run.seen) >= 3)
    assert run.seen == [("ADDED", "s1"), ("DELETED", "s1"), ("ADDED", "s2")]
    assert [o["metadata"]["name"] for o in inf.list(run.ns)] == ["s2"]


def test_a_dropped_watch_resumes_from_its_resource_version_without_listing(run: Running) -> None:
    inf = run.start()
    run.kube.create(secret(run.ns, "s1"))
    assert wait_for(lambda: len(run.seen) == 1)
    inf.abort_watch()  # the connection breaks
    run.kube.create(secret(run.ns, "s2"))  # written while no watch is open
    assert wait_for(lambda: len(run.seen) == 2)
    assert run.seen == [("ADDED", "s1"), ("ADDED", "s2")]
    assert inf.lists == 1 and inf.watches >= 2


def test_a_watch_ended_by_the_server_resumes_without_listing(run: Running) -> None:
    run.kube.create(secret(run.ns, "s0"))
    metrics = Restarts()
    inf = Informer(run.api, "Secret", namespace=run.ns, label_selector="app=w", stop=run.stop, metrics=metrics)
    inf.watch_timeout = (1, 1)
    inf.start()
    assert inf.wait_synced(10)
    assert wait_for(lambda: inf.watches >= 3, 10)
    run.kube.create(secret(run.ns, "s1"))
    assert wait_for(lambda: inf.get("s1", run.ns) is not None)
    assert inf.lists == 1
    assert metrics.counts["Secret"] >= 2


def test_410_lists_once_and_tells_handlers_the_difference(run: Running) -> None:
    for name in ("keep", "gone", "changed"):
        run.kube.create(secret(run.ns, name))
    inf = run.start()
    run.stop.set()  # the informer is away ...
    inf.join(5)
    run.kube.delete("v1", "Secret", "gone", namespace=run.ns)
    run.kube.patch("v1", "Secret", "changed", {"data": {"k": "djk="}}, namespace=run.ns)
    run.kube.create(secret(run.ns, "new"))
    if isinstance(run.kube, FakeBackend):
        run.kube.server.compact()
    # ... so long that its resourceVersion was compacted (rv 1 is older than any apiserver's watch cache)
    inf.resource_version = "1"
    run.stop = inf.stop = threading.Event()
    inf._thread = None
    run.seen.clear()
    inf.start()
    assert wait_for(lambda: ("ADDED", "new") in run.seen)
    time.sleep(0.3)
    if isinstance(run.kube, FakeBackend):  # 410 Gone: exactly one LIST, and only the difference
        assert sorted(run.seen) == [("ADDED", "new"), ("DELETED", "gone"), ("MODIFIED", "changed")]
        assert inf.lists == 2
    else:
        # kube-apiserver 1.36 whose watch cache never evicted anything serves a watch from rv 1 instead of
        # answering 410: it replays the current state as events (MODIFIED for each object), then the changes
        assert {("DELETED", "gone"), ("ADDED", "new"), ("MODIFIED", "changed")} <= set(run.seen)
        assert inf.lists in (1, 2)
    assert sorted(o["metadata"]["name"] for o in inf.list()) == ["changed", "keep", "new"]


def test_stop_is_prompt(run: Running) -> None:
    inf = run.start()
    time.sleep(0.2)
    started = time.monotonic()
    run.stop.set()
    inf.join(5)
    assert inf._thread is not None and not inf._thread.is_alive()
    assert time.monotonic() - started < 1.0


def test_idle_sends_nothing_but_the_open_watch(run: Running) -> None:
    inf = run.start()
    time.sleep(0.3)
    before = dict(run.api.requests.by_method)
    assert before == {"GET": 1, "WATCH": 1}
    time.sleep(3)
    assert run.api.requests.by_method == before
    assert inf.lists == 1 and inf.watches == 1


class Restarts:
    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self.watch_restarts = self

    def labels(self, **labels: str) -> Restarts:
        self._kind = labels["kind"]
        return self

    def inc(self, amount: float = 1) -> None:
        self.counts[self._kind] = self.counts.get(self._kind, 0) + int(amount)


def test_429_waits_its_retry_after_and_counts_a_restart(fake_kube: FakeBackend) -> None:
    api = connect(ClusterConfig(kubeconfig=str(fake_kube.kubeconfig), qps=0))
    stop = threading.Event()
    fake_kube.server.fail_next("GET", r"/api/v1/namespaces$", 429, retry_after=1)
    metrics = Restarts()
    inf = Informer(api, "Namespace", stop=stop, metrics=metrics)
    started = time.monotonic()
    inf.start()
    try:
        assert inf.wait_synced(10)
        assert 0.9 <= time.monotonic() - started < 3  # not the 0.8 s backoff, the server's 1 s
        assert metrics.counts == {"Namespace": 1}  # the failed LIST; the open watch has not ended
        assert inf.lists == 1
    finally:
        stop.set()
        api.close()


def _needs(fake: FakeBackend, hook: str) -> None:
    if not hasattr(fake.server, hook):
        pytest.skip(f"the fake API has no {hook} yet (the fakeapi branch adds it)")


def test_a_watch_cut_by_the_server_resumes_without_listing(fake_kube: FakeBackend) -> None:
    _needs(fake_kube, "drop_watches")
    api = connect(ClusterConfig(kubeconfig=str(fake_kube.kubeconfig), qps=0))
    run = Running(fake_kube, api)
    inf = run.start()
    try:
        fake_kube.server.drop_watches("secrets")  # type: ignore[attr-defined]
        fake_kube.create(secret(run.ns, "s1"))
        assert wait_for(lambda: run.seen == [("ADDED", "s1")])
        assert inf.lists == 1
    finally:
        run.stop.set()
        api.close()


def test_a_429_on_the_watch_waits_its_retry_after(fake_kube: FakeBackend) -> None:
    _needs(fake_kube, "fail")
    api = connect(ClusterConfig(kubeconfig=str(fake_kube.kubeconfig), qps=0))
    run = Running(fake_kube, api)
    fake_kube.server.fail("watch", "secrets", 429, retry_after=2)  # type: ignore[attr-defined]
    inf = run.start()
    try:
        time.sleep(0.5)
        fake_kube.create(secret(run.ns, "s1"))
        time.sleep(0.8)
        assert run.seen == []  # still waiting the server's 2 s (the backoff would have retried by now)
        assert wait_for(lambda: run.seen == [("ADDED", "s1")], 5)
        assert inf.lists == 1
    finally:
        run.stop.set()
        api.close()

"""Leader election on the fake API and on a real kube-apiserver: one leader at a time, takeover bounds.

Durations are shortened (lease 4 s, renew deadline 3 s, retry 1 s) so the bounds are measured in seconds; the
rules are the same as with the defaults. Times are measured from the outside (the test's clock).
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

from regcred.controller.leader import LeaseElector, default_identity, microtime
from regcred.shells.kube.client import KubeApi
from regcred.shells.kube.errors import KubeConflict
from regcred.shells.kube.kubeconfig import ClusterConfig, connect
from tests.support.kube import KubeBackend, write_kubeconfig
from tests.support.tcpproxy import CuttableProxy

LEASE, RENEW, RETRY = 4.0, 3.0, 1.0
SLACK = 2.0  # scheduling on a loaded 2-core machine
MICROTIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def lease_kube(kube: KubeBackend) -> KubeBackend:
    if kube.request("GET", "/apis/coordination.k8s.io/v1").status_code != 200:
        pytest.skip(f"the {kube.name} API does not serve coordination.k8s.io/v1 Leases yet")
    return kube


@pytest.fixture
def namespace(lease_kube: KubeBackend) -> str:
    ns = lease_kube.unique_ns("lease")
    lease_kube.create_namespace(ns)
    return ns


def api_for(kube: KubeBackend, kubeconfig: Path | None = None) -> KubeApi:
    return connect(ClusterConfig(kubeconfig=str(kubeconfig or kube.kubeconfig), timeout=30))


def elector(kube: KubeBackend, namespace: str, identity: str | None = None, kubeconfig: Path | None = None,
            ) -> LeaseElector:
    return LeaseElector(api_for(kube, kubeconfig), namespace=namespace, name="regcred-controller",
                        identity=identity or default_identity(), lease_duration=LEASE, renew_deadline=RENEW,
                        retry_period=RETRY)


class Running:
    """An elector's run() in a thread, with the times its callbacks were called."""

    def __init__(self, el: LeaseElector) -> None:
        self.el, self.stop = el, threading.Event()
        self.started: float | None = None
        self.stopped: float | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        self.el.run(on_started_leading=self._start, on_stopped_leading=self._stop, stop=self.stop)

    def _start(self) -> None:
        self.started = time.monotonic()

    def _stop(self) -> None:
        self.stopped = time.monotonic()

    def finish(self) -> None:
        self.stop.set()
        self.thread.join(timeout=15)
        assert not self.thread.is_alive()


def wait_for(predicate: Any, timeout: float) -> float:
    """Seconds until predicate() is true (fails after timeout)."""
    start = time.monotonic()
    while not predicate():
        assert time.monotonic() - start < timeout, "timed out"
        time.sleep(0.02)
    return time.monotonic() - start


def leases(namespace: str) -> str:
    # raw paths: the backends' object helpers know Leases only once the fake does
    return f"/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases"


def get_lease(kube: KubeBackend, namespace: str) -> dict[str, Any]:
    lease: dict[str, Any] = kube._ok(kube.request("GET", f"{leases(namespace)}/regcred-controller"))
    return lease


def lease_of(kube: KubeBackend, namespace: str) -> dict[str, Any]:
    spec: dict[str, Any] = get_lease(kube, namespace)["spec"]
    return spec


def create_lease(kube: KubeBackend, namespace: str, spec: dict[str, Any]) -> None:
    kube._ok(kube.request("POST", leases(namespace), json={
        "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
        "metadata": {"name": "regcred-controller", "namespace": namespace}, "spec": spec}))


def test_two_electors_one_leader_and_release_hands_over_within_a_retry_period(lease_kube: KubeBackend,
                                                                              namespace: str) -> None:
    a, b = Running(elector(lease_kube, namespace, "a_1")), Running(elector(lease_kube, namespace, "b_2"))
    try:
        wait_for(lambda: a.el.is_leader or b.el.is_leader, LEASE + RETRY + SLACK)
        end = time.monotonic() + 3 * RETRY
        while time.monotonic() < end:  # exactly one, through several renewals
            assert a.el.is_leader != b.el.is_leader
            time.sleep(0.05)
        leader, follower = (a, b) if a.el.is_leader else (b, a)
        spec = lease_of(lease_kube, namespace)
        assert spec["holderIdentity"] == leader.el.identity
        assert spec["leaseDurationSeconds"] == round(LEASE)
        assert MICROTIME.match(spec["renewTime"]) and MICROTIME.match(spec["acquireTime"]), spec
        transitions = spec["leaseTransitions"]

        leader.finish()  # graceful stop: release
        assert leader.stopped is not None and not leader.el.is_leader
        took = wait_for(lambda: follower.el.is_leader, RETRY + SLACK)
        assert took <= RETRY + SLACK
        spec = lease_of(lease_kube, namespace)
        assert spec["holderIdentity"] == follower.el.identity
        assert spec["leaseTransitions"] == transitions + 1
    finally:
        for r in (a, b):
            r.finish()
    # the last one released too: empty holder, leaseDurationSeconds 1, as client-go writes it
    spec = lease_of(lease_kube, namespace)
    assert spec["holderIdentity"] == "" and spec["leaseDurationSeconds"] == 1


def test_a_candidate_waits_a_whole_lease_duration_by_its_own_clock(lease_kube: KubeBackend, namespace: str) -> None:
    """A Lease held by a dead holder whose renewTime is far in the past is still not taken at once: the
    candidate cannot trust another machine's clock, only how long it has seen the record unchanged."""
    create_lease(lease_kube, namespace, {"holderIdentity": "dead_0", "leaseDurationSeconds": round(LEASE),
                                         "acquireTime": "2020-01-01T00:00:00.000000Z",
                                         "renewTime": "2020-01-01T00:00:00.000000Z", "leaseTransitions": 3})
    r = Running(elector(lease_kube, namespace))
    try:
        took = wait_for(lambda: r.el.is_leader, LEASE + RETRY + SLACK)
        assert took >= LEASE - 0.1
        assert lease_of(lease_kube, namespace)["leaseTransitions"] == 4
    finally:
        r.finish()


def test_a_slow_start_callback_does_not_cost_the_lease(lease_kube: KubeBackend, namespace: str) -> None:
    """Renewals are due a retry period after the last one was sent: a start callback that takes most of the
    renew deadline is followed by a renew at once, not by a further retry period."""
    el = elector(lease_kube, namespace)
    stop, stopped = threading.Event(), threading.Event()
    thread = threading.Thread(target=el.run, daemon=True, kwargs={
        "on_started_leading": lambda: time.sleep(RENEW - 0.6), "on_stopped_leading": stopped.set, "stop": stop})
    thread.start()
    try:
        wait_for(lambda: el.is_leader, RETRY + SLACK)
        time.sleep(RENEW + 2 * RETRY)
        assert el.is_leader and not stopped.is_set()
        assert lease_of(lease_kube, namespace)["holderIdentity"] == el.identity
    finally:
        stop.set()
        thread.join(timeout=15)


def test_409_on_a_stale_write_exactly_one_of_two_racing_candidates_wins(lease_kube: KubeBackend,
                                                                         namespace: str) -> None:
    """Both read the free Lease, then both write with that resourceVersion: one 200, one 409."""
    create_lease(lease_kube, namespace, {"holderIdentity": "", "leaseDurationSeconds": 1, "leaseTransitions": 0})
    both_read = threading.Barrier(2)
    conflicts: list[str] = []

    class RacingApi:
        def __init__(self, api: KubeApi, who: str) -> None:
            self.api, self.who = api, who

        def get(self, kind: str, name: str, namespace: str | None = None) -> dict[str, Any]:
            obj = self.api.get(kind, name, namespace)
            both_read.wait(timeout=10)
            return obj

        def create(self, obj: dict[str, Any], namespace: str | None = None, *, dry_run: bool = False) -> Any:
            return self.api.create(obj, namespace)

        def replace(self, obj: dict[str, Any], namespace: str | None = None, *, dry_run: bool = False) -> Any:
            try:
                return self.api.replace(obj, namespace)
            except KubeConflict:
                conflicts.append(self.who)
                raise

    electors = [LeaseElector(RacingApi(api_for(lease_kube), who), namespace=namespace, name="regcred-controller",
                             identity=who, lease_duration=LEASE, renew_deadline=RENEW, retry_period=RETRY)
                for who in ("x_1", "y_2")]
    results: dict[str, bool] = {}
    threads = [threading.Thread(target=lambda e=e: results.__setitem__(e.identity, e._try_acquire_or_renew()))
               for e in electors]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=20)
    assert sorted(results.values()) == [False, True]
    winner = next(who for who, won in results.items() if won)
    assert conflicts == [next(who for who in results if who != winner)]
    spec = lease_of(lease_kube, namespace)
    assert spec["holderIdentity"] == winner and spec["leaseTransitions"] == 1


def test_a_stolen_lease_stops_the_leader_at_the_next_renew(lease_kube: KubeBackend, namespace: str) -> None:
    r = Running(elector(lease_kube, namespace))
    try:
        wait_for(lambda: r.el.is_leader, RETRY + SLACK)
        lease = get_lease(lease_kube, namespace)
        lease["spec"].update(holderIdentity="intruder_9", renewTime=microtime())
        lease_kube._ok(lease_kube.request("PUT", f"{leases(namespace)}/regcred-controller", json=lease))
        took = wait_for(lambda: r.stopped is not None, RETRY + SLACK)
        assert took <= RETRY + SLACK and not r.el.is_leader
        r.thread.join(timeout=5)
        assert not r.thread.is_alive()  # run() returned: the process would exit now
        assert lease_of(lease_kube, namespace)["holderIdentity"] == "intruder_9"
    finally:
        r.finish()


@pytest.fixture
def proxy(lease_kube: KubeBackend) -> Iterator[CuttableProxy]:
    url = urlparse(lease_kube.url)
    p = CuttableProxy(url.hostname or "127.0.0.1", url.port or 443)
    yield p
    p.close()


def test_a_partitioned_leader_stops_within_the_renew_deadline_while_its_request_hangs(
        lease_kube: KubeBackend, namespace: str, proxy: CuttableProxy, tmp_path: Path) -> None:
    kubeconfig = write_kubeconfig(tmp_path / "via-proxy", f"https://127.0.0.1:{proxy.port}", lease_kube.token,
                                  lease_kube.ca_data)
    r = Running(elector(lease_kube, namespace, kubeconfig=kubeconfig))
    other: Running | None = None
    try:
        wait_for(lambda: r.el.is_leader, RETRY + SLACK)
        last_renew = lease_of(lease_kube, namespace)["renewTime"]
        wait_for(lambda: lease_of(lease_kube, namespace)["renewTime"] != last_renew, RETRY + SLACK)
        proxy.cut()
        cut = time.monotonic()
        wait_for(lambda: r.stopped is not None, RENEW + SLACK)
        assert r.stopped is not None and r.stopped - cut <= RENEW + SLACK
        assert not r.el.is_leader
        other = Running(elector(lease_kube, namespace))  # and the lease becomes free once it expires
        wait_for(lambda: other is not None and other.el.is_leader, LEASE + RETRY + SLACK)
        # the partitioned one stopped strictly before the other could start
        assert other.started is not None and r.stopped < other.started
    finally:
        proxy.restore()
        r.finish()
        if other is not None:
            other.finish()


def test_answers_of_500_stop_the_leader_within_the_renew_deadline(fake_kube: Any) -> None:
    if fake_kube.request("GET", "/apis/coordination.k8s.io/v1").status_code != 200:
        pytest.skip("the fake API does not serve Leases yet")
    ns = fake_kube.unique_ns("lease")
    fake_kube.create_namespace(ns)
    r = Running(elector(fake_kube, ns))
    try:
        wait_for(lambda: r.el.is_leader, RETRY + SLACK)
        for method in ("GET", "PUT", "POST"):
            fake_kube.fail_next(method, r"/leases", 500, times=1000)
        broken = time.monotonic()
        wait_for(lambda: r.stopped is not None, RENEW + SLACK)
        assert r.stopped is not None and r.stopped - broken <= RENEW + SLACK
        assert not r.el.is_leader
    finally:
        r.finish()


# -- two real processes -----------------------------------------------------------------------------------------

class Replica:
    """tests/support/leaderrunner.py in a child process; lines read by a thread with their arrival time."""

    def __init__(self, kube: KubeBackend, namespace: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.support.leaderrunner", str(kube.kubeconfig), namespace,
             "regcred-controller", str(LEASE), str(RENEW), str(RETRY)],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lines: list[tuple[float, str]] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append((time.monotonic(), line.strip()))

    def saw(self, word: str) -> float | None:
        return next((at for at, line in self.lines if line == word), None)

    @property
    def identity(self) -> str:
        wait_for(lambda: any(line.startswith("identity ") for _, line in self.lines), 30)
        return next(line.split()[1] for _, line in self.lines if line.startswith("identity "))

    def end(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)


@pytest.fixture
def replicas(lease_kube: KubeBackend, namespace: str) -> Iterator[list[Replica]]:
    pair = [Replica(lease_kube, namespace), Replica(lease_kube, namespace)]
    try:
        wait_for(lambda: any(r.saw("leading") for r in pair), 30 + LEASE)
        yield pair
    finally:
        for r in pair:
            r.end()


def leader_and_follower(pair: list[Replica]) -> tuple[Replica, Replica]:
    time.sleep(2 * RETRY)
    leading = [r for r in pair if r.saw("leading")]
    assert len(leading) == 1, [r.lines for r in pair]
    return leading[0], next(r for r in pair if r is not leading[0])


def test_sigkill_of_the_leader_process_hands_over_within_lease_duration_plus_retry_period(
        lease_kube: KubeBackend, namespace: str, replicas: list[Replica]) -> None:
    leader, follower = leader_and_follower(replicas)
    assert lease_of(lease_kube, namespace)["holderIdentity"] == leader.identity
    leader.proc.send_signal(signal.SIGKILL)
    killed = time.monotonic()
    wait_for(lambda: follower.saw("leading") is not None, LEASE + RETRY + SLACK)
    took = (follower.saw("leading") or 0) - killed
    # never before the dead holder's lease could have expired (its last renew was at most a retry period
    # before the kill), and within lease duration + retry period
    assert LEASE - RETRY - 0.5 <= took <= LEASE + RETRY + SLACK, took
    assert lease_of(lease_kube, namespace)["holderIdentity"] == follower.identity
    assert leader.saw("stopped") is None  # SIGKILL: no goodbye, no release


def test_sigterm_of_the_leader_process_releases_and_hands_over_within_a_retry_period(
        lease_kube: KubeBackend, namespace: str, replicas: list[Replica]) -> None:
    leader, follower = leader_and_follower(replicas)
    leader.proc.send_signal(signal.SIGTERM)
    termed = time.monotonic()
    assert leader.proc.wait(timeout=10) == 0
    assert leader.saw("stopped") is not None
    wait_for(lambda: follower.saw("leading") is not None, RETRY + SLACK + 1)
    took = (follower.saw("leading") or 0) - termed
    assert took <= RETRY + SLACK + 1, took
    spec = lease_of(lease_kube, namespace)
    assert spec["holderIdentity"] == follower.identity and spec["leaseDurationSeconds"] == round(LEASE)


def test_a_process_that_loses_the_lease_stops_and_exits_non_zero(lease_kube: KubeBackend, namespace: str) -> None:
    replica = Replica(lease_kube, namespace)
    try:
        wait_for(lambda: replica.saw("leading") is not None, 30)
        lease = get_lease(lease_kube, namespace)
        lease["spec"].update(holderIdentity="intruder_9", renewTime=microtime())
        lease_kube._ok(lease_kube.request("PUT", f"{leases(namespace)}/regcred-controller", json=lease))
        assert replica.proc.wait(timeout=RETRY + SLACK + 5) == 1  # controller-runtime exits when it loses the lease
        assert replica.saw("stopped") is not None
        assert lease_of(lease_kube, namespace)["holderIdentity"] == "intruder_9"  # and released nothing
    finally:
        replica.end()

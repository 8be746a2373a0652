"""Two `regcred controller --leader-elect` replicas; the leader SIGKILLed in the middle of a big batch.

Real processes on the fake API and on a real kube-apiserver, each replica as its own ServiceAccount bound to
exactly the generated RBAC rules (ClusterRole, and the Role for its Lease). The follower takes over within lease
duration + retry period (5 s + 1 s here, set with the --leader-elect-* flags) and finishes the batch without writing again what the dead
leader wrote. The follower's own /metrics count no write while the leader lived; on the fake the request log also
shows who wrote when: nothing of the follower's before its Lease, nothing of the leader's after the follower's first.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from regcred.core.controller import rbac
from tests.support.controllerrun import (
    ControllerProcess,
    Specs,
    coverage,
    namespaces,
    rewritten,
    spec_doc,
    wait_until,
    written_twice,
)
from tests.support.kube import KubeBackend
from tests.support.saaccess import service_account_access

COUNT = 40
LEASE, RENEW, RETRY = 5.0, 3.0, 1.0  # short timings (--leader-elect-*), the same rule as the 15/10/2 s defaults
SLACK = 3.0  # two controllers, an API server and the test on a loaded 2-core machine
WRITES = ("POST", "PUT", "PATCH", "DELETE")


def test_sigkill_of_the_leader_mid_batch_hands_over_and_converges(kube: KubeBackend, specs: Specs,
                                                                    tmp_path: Path) -> None:
    lease_ns = kube.unique_ns("regcred-system")
    access = [service_account_access(kube, lease_ns, f"regcred-{who}", cluster_rules=rbac.policy_rules("cluster"),
                                     namespace_rules=rbac.policy_rules("namespace")) for who in ("a", "b")]
    start = len(kube.request_log) if kube.supports_hooks else 0  # before: the set-up's own requests
    replicas = [ControllerProcess(a.kubeconfig, tmp_path / f"{a.name}.log", "--leader-elect",
                                  "--leader-election-namespace", lease_ns,
                                  "--leader-elect-lease-duration", str(LEASE),
                                  "--leader-elect-renew-deadline", str(RENEW),
                                  "--leader-elect-retry-period", str(RETRY)) for a in access]
    try:
        team = kube.unique_ns("team")
        targets = namespaces(kube, "lf", COUNT, {"team": team})  # while the replicas start
        wait_until(lambda: any(r.identity for r in replicas), "a leader", 30 + LEASE)
        leader = next(r for r in replicas if r.identity)
        follower = next(r for r in replicas if r is not leader)
        users = {id(r): a.username for r, a in zip(replicas, access, strict=True)}
        name = kube.unique_ns("spec")
        doc: dict[str, Any] = spec_doc([], name=name, selector={"team": team})
        del doc["spec"]["namespaces"]["include"]
        specs.create(doc)
        wait_until(lambda: len(coverage(kube, name).secrets) >= COUNT // 4, "the leader well into the batch", 30)
        assert leader.writes() > 0
        killed = leader.kill()
        at_kill = coverage(kube, name)
        assert not at_kill.complete(targets), "the batch was done before the kill: nothing was interrupted"
        assert follower.identity is None, "two leaders"
        assert follower.writes() == 0, "the follower wrote while the leader lived"

        wait_until(lambda: follower.identity, "the follower leading", LEASE + RETRY + SLACK + 5)
        took = follower.logged("leading")[0][0] - killed
        assert took <= LEASE + RETRY + SLACK, f"took over {took:.1f} s after the kill"
        wait_until(lambda: coverage(kube, name).complete(targets), "convergence under the new leader", 60)
        assert follower.writes() > 0  # the count that was 0 above does count its writes
    finally:
        for r in replicas:
            r.end()
    assert follower.proc.returncode == 0, follower.tail()
    assert rewritten(at_kill, coverage(kube, name)) == [], "the new leader wrote again what the old one had"
    print(f"took over {took:.1f} s after SIGKILL; at the kill {len(at_kill.secrets)} of {COUNT} Secrets")

    if kube.supports_hooks:
        writes = [(i, r) for i, r in enumerate(kube.request_log) if i >= start and r.method in WRITES and
                  r.status < 400]
        old = [i for i, r in writes if r.user == users[id(leader)]]
        new = [(i, r.resource) for i, r in writes if r.user == users[id(follower)]]
        assert old and new
        first_lease = next(i for i, resource in new if resource.startswith("leases"))
        assert new[0][0] == first_lease, "the follower wrote before it held the Lease"
        assert max(old) < first_lease, "both replicas wrote at the same time"
        assert written_twice(kube, targets) == []

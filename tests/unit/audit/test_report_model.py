"""The data of `audit --report` (core.audit.reportmodel): the coverage matrix, findings by code, credential status."""

from __future__ import annotations

import datetime as dt
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from regcred.core.audit.findings import CODES, AuditReport, ClusterState, CredentialCheck, Finding
from regcred.core.audit.reportmodel import (
    BROKEN,
    COVERED,
    MISSING,
    NONE,
    NOT_NEEDED,
    build,
    check_status,
    namespace_of,
)
from regcred.core.audit.simulation import audit
from tests.support.auditobjects import deployment, entry, pod, pull_secret, service_account

NOW = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
REG = "reg.example.com"
OTHER = "quay.io"


def matrix(model: Any) -> dict[str, dict[str, str]]:
    return {row.namespace: dict(zip(model.registries, (c.state for c in row.cells), strict=True))
            for row in model.matrix}


def verify_row(registry: str, *, login: bool = True, pull_ok: bool = True, over: bool = False,
               error: str | None = None, expires_in: int | None = None) -> dict[str, Any]:
    return {"key": registry, "registry": registry, "ok": login and pull_ok, "login": login,
            "pull": {f"{registry}/web:1": pull_ok}, "error": error, "over_privileged": over,
            "expires_in": expires_in}


def test_each_cell_state_from_a_simulated_cluster() -> None:
    objects = [
        pull_secret("pull", "good", {REG: entry("robot", "pw-1")}),
        service_account("default", "good", "pull"),
        deployment("web", "good", f"{REG}/web:1", "nginx:1"),
        deployment("web", "gap", f"{REG}/web:1"),  # REG needs credentials (good has some): missing
        pull_secret("bad", "broken", raw='{"auths": []}'),
        deployment("web", "broken", f"{REG}/web:1", secrets=("bad",)),
        service_account("default", "idle"),  # a namespace that pulls nothing
    ]
    model = build(audit(ClusterState(objects, live=True)), NOW)
    assert model.registries == ["docker.io", REG]
    assert matrix(model) == {
        "broken": {"docker.io": NONE, REG: BROKEN},
        "gap": {"docker.io": NONE, REG: MISSING},
        "good": {"docker.io": NOT_NEEDED, REG: COVERED},
        "idle": {"docker.io": NONE, REG: NONE},
    }
    assert {row.namespace: row.worst for row in model.matrix} == {
        "broken": BROKEN, "gap": MISSING, "good": COVERED, "idle": NONE}
    assert model.namespaces_by_state() == {BROKEN: 1, MISSING: 1, COVERED: 1, NOT_NEEDED: 0, NONE: 1}
    assert model.registry_states()[REG] == {BROKEN: 1, MISSING: 1, COVERED: 1, NOT_NEEDED: 0}
    assert [g.code for g in model.groups] == sorted({g.code for g in model.groups},
                                                    key=lambda c: (CODES[c] != "error", c))


def test_a_rejected_credential_breaks_the_cells_that_use_it() -> None:
    objects = [pull_secret("pull", "a", {REG: entry("robot", "pw-1")}),
               pod("p", "a", f"{REG}/web:1", secrets=("pull",))]
    report = audit(ClusterState(objects, live=True))
    report.checks = [CredentialCheck("Secret/a/pull", REG, "robot", verify_row(REG, login=False, error="401"))]
    model = build(report, NOW, verified=True)
    assert matrix(model)["a"][REG] == BROKEN
    [status] = model.credentials
    assert (status.status, status.source, status.pulls_ok, status.pulls) == ("rejected", "Secret/a/pull", 1, 1)
    report.checks = [CredentialCheck("Secret/a/pull", REG, "robot", verify_row(REG, over=True, error="x"))]
    assert matrix(build(report, NOW))["a"][REG] == COVERED  # over-privileged still pulls


def test_check_status_follows_the_credential_rejected_rule() -> None:
    assert check_status(verify_row(REG)) == "ok"
    assert check_status(verify_row(REG, login=False)) == "rejected"
    assert check_status(verify_row(REG, pull_ok=False)) == "rejected"
    assert check_status(verify_row(REG, error="503 server error")) == "rejected"
    assert check_status(verify_row(REG, over=True, error="over-privileged: push")) == "over-privileged"


def test_secret_ages_come_from_creation_timestamps() -> None:
    old = pull_secret("old", "a", {REG: entry("u", "p")})
    old["metadata"]["creationTimestamp"] = "2025-06-01T00:00:00Z"
    odd = pull_secret("odd", "a", {REG: entry("u", "p")})
    odd["metadata"]["creationTimestamp"] = "not a date"
    fresh = pull_secret("fresh", "a", {REG: entry("u", "p")})  # a manifest: no timestamp
    model = build(audit(ClusterState([old, odd, fresh], live=True)), NOW)
    assert [(a.secret, round(a.age_days)) for a in model.ages] == [("Secret/a/old", 365)]


def test_a_slash_in_a_manifest_namespace_keeps_its_row() -> None:
    assert namespace_of("Deployment/a/b/web", {"a/b"}) == "a/b"
    assert namespace_of("Deployment/a/b/web", {"a"}) == "a"
    assert namespace_of("Deployment/x/web", set()) == "x"
    assert namespace_of("NodeConfig/path", set()) is None
    hostile = "<b>/x"
    objects = [pull_secret("s", hostile, {REG: entry("u", "p")}), pod("p", hostile, f"{REG}/a:1", secrets=("s",))]
    assert matrix(build(audit(ClusterState(objects, live=True)), NOW)) == {hostile: {REG: COVERED}}


rows = st.lists(st.tuples(
    st.sampled_from(["a", "b", "c/d", "e"]),  # namespace
    st.sampled_from([REG, OTHER, "localhost:5000"]),  # registry
    st.sampled_from(["cred", "anon", "fails"]),
), max_size=30)
findings = st.lists(st.builds(Finding, st.sampled_from(sorted(CODES)), st.text(max_size=20), st.text(max_size=20)),
                    max_size=40)


def image_row(ns: str, registry: str, how: str) -> dict[str, Any]:
    cred = {"key": registry, "source": f"Secret/{ns}/s", "username": "u"} if how == "cred" else None
    return {"object": f"Pod/{ns}/p", "container": "c", "image": f"{registry}/x:1", "repository": f"{registry}/x",
            "credential": cred, "anonymous": how == "anon", "fails": "boom" if how == "fails" else None}


@given(rows, st.lists(st.sampled_from(["a", "z", "c/d"]), max_size=3))
def test_the_matrix_covers_every_namespace_and_registry(spec: list[tuple[str, str, str]], extra: list[str]) -> None:
    # as the simulation does, the report lists every namespace it saw (the one a workload's row names, too)
    report = AuditReport(images=[image_row(*r) for r in spec], namespaces=sorted({r[0] for r in spec} | set(extra)))
    model = build(report, NOW)
    assert [row.namespace for row in model.matrix] == sorted({r[0] for r in spec} | set(extra))
    assert model.registries == sorted({r[1] for r in spec})
    for row in model.matrix:
        assert len(row.cells) == len(model.registries)
        for registry, cell in zip(model.registries, row.cells, strict=True):
            mine = [how for ns, reg, how in spec if (ns, reg) == (row.namespace, registry)]
            assert cell.images == len(mine)
            assert (cell.state == NONE) == (not mine)
            assert (cell.state == BROKEN) == ("fails" in mine)
    assert sum(model.namespaces_by_state().values()) == len(model.matrix)


@given(findings)
def test_every_finding_appears_in_exactly_one_group(found: list[Finding]) -> None:
    model = build(AuditReport(findings=found), NOW)
    grouped = [f for group in model.groups for f in group.findings]
    assert sorted(grouped, key=repr) == sorted(found, key=repr)
    assert all(f.code == g.code and f.severity == g.severity for g in model.groups for f in g.findings)
    assert len({g.code for g in model.groups}) == len(model.groups)
    assert sum(model.severities.values()) == len(found)

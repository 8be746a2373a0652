"""`regcred audit` end to end: manifests, node files, a live API (the real KubeApi over an in-process
fake). `--verify` against the real token registry: tests/real/audit."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from regcred.core.audit.findings import ClusterState
from regcred.core.audit.simulation import audit
from regcred.shells.kube import KubeApi
from regcred.usecases.audit import read_live
from tests.support.auditobjects import deployment, entry, pod, pull_secret, service_account
from tests.support.cli import assert_clean_error, assert_no_secret, run_regcred

REG = "reg.example.com"


def write(tmp_path: Path, name: str, *objects: dict[str, Any]) -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump_all(objects))
    return path


def test_manifest_audit_json_and_exit_codes(tmp_path: Path) -> None:
    good = write(tmp_path, "good.yaml", pull_secret("pull", "app", {REG: entry("robot", "pw-xyz")}),
                 service_account("default", "app", "pull"), deployment("web", "app", f"{REG}/web:1"))
    good_result = run_regcred("audit", "-f", good, "-o", "json")
    assert good_result.returncode == 0, good_result.stderr
    data = json.loads(good_result.stdout)
    assert data["findings"] == [] and data["images"][0]["credential"]["source"] == "Secret/app/pull"
    bad = write(tmp_path, "bad.yaml", pull_secret("pull", "app", raw='{"auths":[]}'),
                deployment("web", "app", f"{REG}/web:1", secrets=("pull",)))
    bad_result = run_regcred("audit", "-f", bad, "-o", "json")
    assert_clean_error(bad_result, 1, "audit found 1 error finding(s)")
    assert json.loads(bad_result.stdout)["findings"][0]["code"] == "secret-unusable"
    for r in (good_result, bad_result):
        assert_no_secret(r.stdout + r.stderr, ["pw-xyz"])


def test_table_lists_images_and_findings(tmp_path: Path) -> None:
    path = write(tmp_path, "m.yaml", deployment("web", "app", f"{REG}/web:1", secrets=("missing",)))
    result = run_regcred("audit", "-f", path)
    assert result.returncode == 1
    assert "anonymous" in result.stdout and "missing-secret" in result.stdout and "Secret/app/missing" in result.stdout


def test_node_config_and_json_list_dump_with_namespace_filter(tmp_path: Path) -> None:
    node = tmp_path / "config.json"
    node.write_text(json.dumps({"auths": {REG: entry("node", "node-pw")}}))
    dump = tmp_path / "dump.json"
    dump.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": [
        pod("p", "app", f"{REG}/x:1"), pod("q", "other", f"{REG}/y:1")]}))
    result = run_regcred("audit", "-f", dump, "--node-config", node, "-n", "app", "-o", "json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert [r["object"] for r in data["images"]] == ["Pod/app/p"]
    assert data["findings"][0]["code"] == "node-credentials-shared"
    assert data["findings"][0]["object"] == f"NodeConfig/{node}"
    assert "node-pw" not in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("args", "needle", "code"),
    [
        (("-f", "/nonexistent.yaml"), "/nonexistent.yaml", 2),
        (("-f", "BAD"), "invalid YAML", 2),
        (("-f", "GOOD", "--node-config", "BADNODE"), "BADNODE", 2),
        (("-f", "GOOD", "-n", "Bad_NS"), "namespace", 2),
        (("-f", "GOOD", "--namespace-selector", "a=b"), "needs a live cluster", 2),
    ],
)
def test_bad_input(tmp_path: Path, args: tuple[str, ...], needle: str, code: int) -> None:
    (tmp_path / "bad.yaml").write_text("kind: [unclosed\n")
    (tmp_path / "node.json").write_text('{"auths": []}')
    good = write(tmp_path, "good.yaml", pod("p", "app", "nginx"))
    subst = {"BAD": str(tmp_path / "bad.yaml"), "GOOD": str(good), "BADNODE": str(tmp_path / "node.json")}
    result = run_regcred("audit", *[subst.get(a, a) for a in args])
    line = assert_clean_error(result, code)
    assert subst.get(needle, needle) in line


@pytest.mark.parametrize("content", ["- 1\n", "", "a: 1\n---\nb: 2\n", "[]"])
def test_file_without_kubernetes_objects_is_input_exit_2(tmp_path: Path, content: str) -> None:
    """Auditing nothing must not pass a CI gate silently (as `match --secret-file` refuses a file without Secret)."""
    empty = tmp_path / "empty.yaml"
    empty.write_text(content)
    line = assert_clean_error(run_regcred("audit", "-f", empty, "-o", "json"), 2)
    assert f"{empty}: no Kubernetes objects found" in line


def test_empty_kubectl_list_dump_is_a_clean_audit(tmp_path: Path) -> None:
    dump = tmp_path / "pods.json"
    dump.write_text('{"apiVersion": "v1", "items": [], "kind": "List", "metadata": {"resourceVersion": ""}}')
    result = run_regcred("audit", "-f", dump, "-o", "json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"images": [], "findings": []}


# --- live: the real KubeApi over an in-process API fake ----------------------------------------------------


PLURALS = {"secrets": "Secret", "serviceaccounts": "ServiceAccount", "pods": "Pod", "deployments": "Deployment",
           "statefulsets": "StatefulSet", "daemonsets": "DaemonSet", "replicasets": "ReplicaSet", "jobs": "Job",
           "cronjobs": "CronJob", "replicationcontrollers": "ReplicationController", "podtemplates": "PodTemplate"}


class ListOnlyApi:
    """Serves LIST requests from a fixed set of objects; any other request fails the test."""

    def __init__(self, objects: list[dict[str, Any]], forbid: frozenset[str] = frozenset()) -> None:
        self.objects = objects
        self.forbid = forbid
        self.paths: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        assert request.method == "GET"
        path = request.url.path
        self.paths.append(path)
        parts = path.strip("/").split("/")
        kind = PLURALS[parts[-1]]
        if parts[-1] in self.forbid:
            return httpx.Response(403, json={"kind": "Status", "reason": "Forbidden", "message": "forbidden", "code": 403})
        ns = parts[parts.index("namespaces") + 1] if "namespaces" in parts else None
        items = [{k: v for k, v in o.items() if k not in ("kind", "apiVersion")} for o in self.objects
                 if o["kind"] == kind and (ns is None or o["metadata"]["namespace"] == ns)]
        return httpx.Response(200, json={"kind": f"{kind}List", "metadata": {}, "items": items})


def test_live_reads_one_list_per_kind_and_audits(tmp_path: Path) -> None:
    objects = [pull_secret("pull", "app", {REG: entry("robot", "pw")}), service_account("default", "app", "pull"),
               deployment("web", "app", f"{REG}/web:1"), pod("old", "app", f"{REG}/web:1"),
               service_account("default", "other"), deployment("x", "other", f"{REG}/x:1")]
    fake = ListOnlyApi(objects, forbid=frozenset({"podtemplates"}))
    api = KubeApi(httpx.Client(transport=httpx.MockTransport(fake), base_url="https://k8s.test"),
                  server="https://k8s.test", namespace="default")
    notes: list[str] = []
    live = read_live(api, None, notes.append)
    assert len(fake.paths) == 11 and len(set(fake.paths)) == 11  # one cluster-wide LIST per kind, no GETs
    assert notes and "PodTemplate not read" in notes[0]
    report = audit(ClusterState(live, live=True))
    found = {(f.code, f.object) for f in report.findings}
    assert ("pod-stale-pull-secrets", "Pod/app/old") in found
    assert ("uncovered-image", "Deployment/other/x") in found
    fake.paths.clear()
    read_live(api, ["app"], notes.append)
    assert all("/namespaces/app/" in p for p in fake.paths) and len(fake.paths) == 11


def test_live_forbidden_secrets_is_an_error_not_a_silent_gap() -> None:
    from regcred.shells.kube import KubeForbidden

    fake = ListOnlyApi([], forbid=frozenset({"secrets"}))
    api = KubeApi(httpx.Client(transport=httpx.MockTransport(fake), base_url="https://k8s.test"),
                  server="https://k8s.test", namespace="default")
    with pytest.raises(KubeForbidden):
        read_live(api, None, lambda _m: None)

"""`regcred why -f`: without cluster access, on manifests; node files under --host-root; the JSON shape; bad input."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from regcred.core.credentials.pullsecret import dockerconfigjson_payload
from tests.support.cli import assert_clean_error, run_regcred

REG = "registry.example.com:5000"
IMAGE = f"{REG}/team/app:v1"
IMAGE_KEYS = {"object", "container", "image", "repository", "credentials", "anonymous", "problems", "events",
              "will_pull", "cause", "explanation", "fix"}


def manifests(tmp_path: Path, *docs: dict[str, Any]) -> Path:
    path = tmp_path / "app.json"
    path.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": list(docs)}))
    return path


def pod(pull: list[str] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": [{"name": "app", "image": IMAGE}]}
    if pull is not None:
        spec["imagePullSecrets"] = [{"name": n} for n in pull]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "app", "namespace": "team"}, "spec": spec}


def secret(name: str, key: str, password: str) -> dict[str, Any]:
    data = base64.b64encode(dockerconfigjson_payload(key, "robot", password)).decode()
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": "team"},
            "type": "kubernetes.io/dockerconfigjson", "data": {".dockerconfigjson": data}}


def why(*args: str | Path, code: int) -> dict[str, Any]:
    result = run_regcred("why", *args, "-o", "json", "--kubeconfig", "/nonexistent/kubeconfig")
    assert result.returncode == code, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def test_a_pod_manifest_is_explained_without_a_cluster(tmp_path: Path) -> None:
    path = manifests(tmp_path, pod(["pull", "other"]), secret("pull", REG, "manifest-pw"),
                     secret("other", f"{REG}/team", "manifest-pw2"))
    data = why("pod/app", "-f", path, "-n", "team", code=0)
    assert set(data) == {"objects", "verified", "node", "images", "will_pull", "notes"}
    assert data["objects"] == [{"object": "Pod/team/app", "origin": "manifest", "note": None}]
    image = data["images"][0]
    assert set(image) == IMAGE_KEYS
    # the kubelet tries the most specific key first (docs/concepts/kubelet-rules.md), then the others
    assert [(c["order"], c["source"], c["key"]) for c in image["credentials"]] == [
        (1, "Secret/team/other", f"{REG}/team"), (2, "Secret/team/pull", REG)]
    assert image["will_pull"] is None and data["verified"] is False
    assert "manifest-pw" not in json.dumps(data)


def test_a_node_file_shadowed_by_an_empty_one(tmp_path: Path) -> None:
    root = tmp_path / "node"
    (root / "var/lib/kubelet").mkdir(parents=True)
    (root / "var/lib/kubelet/config.json").write_text('{"auths": {}}')
    (root / ".docker").mkdir()
    (root / ".docker/config.json").write_text(json.dumps({"auths": {REG: {"auth": base64.b64encode(
        b"robot:node-pw").decode()}}}))
    path = manifests(tmp_path, pod())
    data = why("-f", path, "-n", "team", "--host-root", root, code=0)
    image = data["images"][0]
    assert image["cause"] == "node-file-shadowed"
    assert any("never reads /.docker/config.json" in p for p in data["node"]["problems"]), data["node"]
    assert image["fix"].startswith(f"regcred node install {REG} -u USER --password-stdin")


def test_bad_targets_are_one_line_errors(tmp_path: Path) -> None:
    path = manifests(tmp_path, pod())
    for args, needle in ((["service/app"], "expected KIND/NAME"), (["pod/other", "-f", str(path), "-n", "team"],
                                                                   "no matching Pod"), ([], "nothing to explain")):
        result = run_regcred("why", *args, "--kubeconfig", "/nonexistent/kubeconfig")
        assert_clean_error(result, 2, needle)


def test_node_credentials_come_after_the_pod_secrets(tmp_path: Path) -> None:
    node = tmp_path / "config.json"
    node.write_text(json.dumps({"auths": {REG: {"auth": base64.b64encode(b"node:node-pw").decode()}}}))
    path = manifests(tmp_path, pod(["pull"]), secret("pull", REG, "pod-pw"))
    result = run_regcred("why", "-f", path, "-n", "team", "--node-config", node)
    assert result.returncode == 0, result.stderr
    assert [line.split(" from ")[-1] for line in result.stdout.splitlines() if line.startswith("  1.") or
            line.startswith("  2.")] == ["Secret/team/pull: not verified", f"NodeConfig/{node}: not verified"]
    assert "node-pw" not in result.stdout and "pod-pw" not in result.stdout

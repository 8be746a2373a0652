"""$KUBECONFIG with several files is merged as kubectl merges it (first definition and current-context win)."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import yaml

from regcred.shells.kube.kubeconfig import merge_kubeconfigs
from tests.support.cli import assert_clean_error, run_regcred


def test_merge_rules(tmp_path: Path) -> None:
    a = {"current-context": "a", "contexts": [{"name": "a", "context": {"cluster": "ca", "user": "ua"}}],
         "clusters": [{"name": "ca", "cluster": {"server": "https://a", "certificate-authority": "ca.crt"}}],
         "users": [{"name": "ua", "user": {"client-key": "/abs/key"}}]}
    b = {"current-context": "b",
         "contexts": [{"name": "a", "context": {"cluster": "other"}}, {"name": "b", "context": {"cluster": "cb"}}],
         "clusters": [{"name": "cb", "cluster": {"server": "https://b"}}]}
    merged = merge_kubeconfigs([(tmp_path / "one" / "a.yaml", a), (tmp_path / "b.yaml", b)])
    assert merged["current-context"] == "a"
    assert [c["name"] for c in merged["contexts"]] == ["a", "b"]
    assert merged["contexts"][0]["context"]["cluster"] == "ca"  # the first file's definition wins
    assert merged["clusters"][0]["cluster"]["certificate-authority"] == str(tmp_path / "one" / "ca.crt")
    assert merged["users"][0]["user"]["client-key"] == "/abs/key"


def test_kubeconfig_list_is_merged(kube: Any, tmp_path: Path) -> None:
    ns = kube.unique_ns("kcm")
    kube.create_namespace(ns)
    payload = base64.b64encode(b'{"auths":{"r.io":{"auth":"dTpw"}}}').decode()
    kube.create({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "pull", "namespace": ns},
                 "type": "kubernetes.io/dockerconfigjson", "data": {".dockerconfigjson": payload}})
    real = yaml.safe_load(Path(kube.kubeconfig).read_text())
    first = tmp_path / "first.yaml"  # names a dead cluster and makes it current
    first.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "dead",
        "contexts": [{"name": "dead", "context": {"cluster": "dead", "user": "nobody"}}],
        "clusters": [{"name": "dead", "cluster": {"server": "https://127.0.0.1:9"}}],
        "users": [{"name": "nobody", "user": {"token": "x"}}]}))
    second = tmp_path / "second.yaml"
    real.pop("current-context", None)
    second.write_text(yaml.safe_dump(real))
    env = {"KUBECONFIG": f"{first}:{tmp_path / 'missing.yaml'}:{second}"}
    context = real["contexts"][0]["name"]
    ok = run_regcred("sa", "attach", "pull", "-n", ns, "--context", context, "-o", "json", env=env)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    names = [e["name"] for e in kube.get("v1", "ServiceAccount", "default", ns).get("imagePullSecrets", [])]
    assert names == ["pull"]
    dead = run_regcred("sa", "attach", "pull", "-n", ns, env=env)  # current-context comes from the first file
    assert_clean_error(dead, 2, "cannot reach the Kubernetes API at https://127.0.0.1:9")


def test_a_missing_token_file_is_one_clear_line(kube: Any, tmp_path: Path) -> None:
    config = yaml.safe_load(Path(kube.kubeconfig).read_text())
    for user in config["users"]:
        user["user"] = {"tokenFile": str(tmp_path / "gone-token")}
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(config))
    result = run_regcred("sa", "attach", "pull", "-n", "default", "--kubeconfig", str(path))
    assert_clean_error(result, 2, "cannot read the kubeconfig's credentials")
    assert "gone-token" in result.stderr

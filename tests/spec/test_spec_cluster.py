"""plan/apply against an API server through the real CLI: the fake, and envtest when KUBEBUILDER_ASSETS is set.

Uses the shared `kube` fixture (kubeconfig, create, create_namespace, get), as the sa/secret tests do.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.support.cli import run_regcred

SPEC = """\
apiVersion: regcred.dev/v1alpha1
kind: RegistryCredential
metadata: {{name: harbor}}
spec:
  registries:
{registries}
  namespaces: {{include: ["sp-*"], exclude: {exclude}}}
"""
REGISTRY = "    - {{server: {server}, username: u, passwordFrom: {{env: REG_PW}}}}"


def write_spec(tmp_path: Path, servers: tuple[str, ...] = ("r.example.com",), exclude: str = "[]") -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(SPEC.format(registries="\n".join(REGISTRY.format(server=s) for s in servers), exclude=exclude))
    return path


def regcred(kube: Any, *args: Any) -> Any:
    return run_regcred(*args, "--kubeconfig", kube.kubeconfig, env={"REG_PW": "pw-1"})


def namespace(kube: Any, name: str) -> None:
    kube.create_namespace(name)
    if kube.get("v1", "ServiceAccount", "default", name) is None:
        kube.create({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default", "namespace": name}})


def test_plan_exit_codes_apply_and_idempotence(kube: Any, tmp_path: Path) -> None:
    namespace(kube, "sp-a")
    namespace(kube, "sp-b")
    spec = write_spec(tmp_path)
    planned = regcred(kube, "plan", "-f", spec, "-o", "json")
    assert planned.returncode == 1, planned.stderr
    doc = json.loads(planned.stdout)
    assert {(c["namespace"], c["kind"], c["action"]) for c in doc["changes"]} >= {
        ("sp-a", "Secret", "create"), ("sp-a", "ServiceAccount", "add"), ("sp-b", "Secret", "create")}
    assert "pw-1" not in planned.stdout
    applied = regcred(kube, "apply", "-f", spec, "-o", "json")
    assert applied.returncode == 0, applied.stderr
    sa = kube.get("v1", "ServiceAccount", "default", "sp-a")
    assert {"name": "harbor"} in sa["imagePullSecrets"]
    versions = (sa["metadata"]["resourceVersion"],
                kube.get("v1", "Secret", "harbor", "sp-a")["metadata"]["resourceVersion"])
    clean = regcred(kube, "plan", "-f", spec)
    assert clean.returncode == 0 and "No changes" in clean.stdout
    assert regcred(kube, "apply", "-f", spec).returncode == 0
    after = (kube.get("v1", "ServiceAccount", "default", "sp-a")["metadata"]["resourceVersion"],
             kube.get("v1", "Secret", "harbor", "sp-a")["metadata"]["resourceVersion"])
    assert after == versions  # the second apply wrote nothing


def test_drop_registry_and_exclude_namespace(kube: Any, tmp_path: Path) -> None:
    namespace(kube, "sp-c")
    assert regcred(kube, "apply", "-f", write_spec(tmp_path, ("r.example.com", "ghcr.io"))).returncode == 0
    planned = regcred(kube, "plan", "-f", write_spec(tmp_path, ("r.example.com",)), "-o", "json")
    changes = json.loads(planned.stdout)["changes"]
    secret_changes = [c for c in changes if c["namespace"] == "sp-c"]
    assert secret_changes == [{"kind": "Secret", "action": "update", "namespace": "sp-c", "name": "harbor",
                               "credential": "harbor",
                               "registries": {"added": [], "removed": ["ghcr.io"], "updated": []}}]
    assert regcred(kube, "apply", "-f", write_spec(tmp_path, ("r.example.com",))).returncode == 0
    excluded = write_spec(tmp_path, ("r.example.com",), exclude='["sp-c"]')
    assert regcred(kube, "apply", "-f", excluded).returncode == 0
    assert kube.get("v1", "Secret", "harbor", "sp-c") is None
    assert "harbor" not in [e["name"] for e in kube.get("v1", "ServiceAccount", "default", "sp-c").get(
        "imagePullSecrets") or []]


def test_missing_secret_key_ref(kube: Any, tmp_path: Path) -> None:
    path = tmp_path / "ref.yaml"
    path.write_text("apiVersion: regcred.dev/v1alpha1\nkind: RegistryCredential\nmetadata: {name: q}\nspec:\n"
                    "  registries:\n    - server: q.io\n      username: u\n      passwordFrom:\n"
                    "        secretKeyRef: {namespace: default, name: nope, key: token}\n")
    result = regcred(kube, "plan", "-f", path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "spec.registries[0].passwordFrom.secretKeyRef: Secret default/nope not found" in result.stderr


def test_two_specs_conflicting(kube: Any, tmp_path: Path) -> None:
    a = write_spec(tmp_path)
    b = tmp_path / "b.yaml"
    b.write_text(a.read_text().replace("name: harbor", "name: other").replace("r.example.com", "o.io")
                 .replace("namespaces:", "secretName: harbor\n  namespaces:"))
    result = regcred(kube, "plan", "-f", a, "-f", b)
    assert result.returncode == 2
    assert "both write Secret 'harbor' with different registries" in result.stderr

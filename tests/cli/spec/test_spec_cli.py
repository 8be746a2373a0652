"""The commands as users run them (a real `regcred` process): exit codes, error lines, render output."""

from __future__ import annotations

import base64
import json
import stat
from pathlib import Path

import yaml

from tests.support.cli import run_regcred

ROOT = Path(__file__).resolve().parents[3]

SPEC = """\
apiVersion: regcred.dev/v1alpha1
kind: RegistryCredential
metadata: {name: harbor}
spec:
  registries:
    - server: r.example.com
      username: robot
      passwordFrom: {env: HARBOR_TOKEN}
  namespaces: {include: ["team-*"], selector: {matchLabels: {pull: "yes"}}}
  serviceAccounts: [default, builder]
  workloads: {enabled: true}
  nodes: {enabled: true}
---
apiVersion: v1
kind: Namespace
metadata: {name: team-a, labels: {pull: "yes"}}
---
apiVersion: v1
kind: Namespace
metadata: {name: team-b}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: team-a}
spec:
  template:
    spec:
      containers: [{name: c, image: r.example.com/web:1}]
"""


def test_invalid_spec_lists_every_problem_and_exits_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("apiVersion: regcred.dev/v1alpha1\nkind: RegistryCredential\nmetadata: {name: x}\n"
                   "spec:\n  registries:\n    - {server: a.io, password: hunter2}\n  extra: 1\n")
    result = run_regcred("plan", "-f", bad)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert all(line.startswith("regcred: error: ") for line in lines)
    assert any("bad.yaml: spec: unknown field 'extra'" in line for line in lines)
    assert any("spec.registries[0]: unknown field 'password'" in line for line in lines)
    assert "hunter2" not in result.stderr


def test_validate_and_schema(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(SPEC)
    result = run_regcred("spec", "validate", "-f", path)
    assert result.returncode == 0 and "RegistryCredential harbor is valid" in result.stdout
    schema = json.loads(run_regcred("spec", "schema").stdout)
    assert schema["properties"]["kind"]["enum"] == ["RegistryCredential"]
    crd = yaml.safe_load(run_regcred("spec", "crd").stdout)
    assert crd["metadata"]["name"] == "registrycredentials.regcred.dev"
    assert run_regcred("spec", "validate", "-f", tmp_path / "missing.yaml").returncode == 2


def test_render_resolves_secrets_and_says_so(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(SPEC)
    result = run_regcred("render", "-f", path, env={"HARBOR_TOKEN": "tok-123"})
    assert result.returncode == 0, result.stderr
    assert "resolved from passwordFrom at render time" in result.stdout
    docs = [d for d in yaml.safe_load_all(result.stdout) if d]
    kinds = sorted((d["kind"], d["metadata"].get("namespace"), d["metadata"]["name"]) for d in docs)
    assert kinds == [
        ("DaemonSet", "kube-system", "regcred-node-harbor"),
        ("Deployment", "team-a", "web"),
        ("Secret", "kube-system", "harbor"),
        ("Secret", "team-a", "harbor"),
        ("ServiceAccount", "team-a", "builder"),
        ("ServiceAccount", "team-a", "default"),
    ]  # team-b lacks the label: not a target
    secret = next(d for d in docs if d["kind"] == "Secret" and d["metadata"]["namespace"] == "team-a")
    payload = json.loads(base64.b64decode(secret["data"][".dockerconfigjson"]))
    assert payload["auths"]["r.example.com"]["password"] == "tok-123"
    web = next(d for d in docs if d["kind"] == "Deployment")
    assert web["spec"]["template"]["spec"]["imagePullSecrets"] == [{"name": "harbor"}]
    assert "1 Secret(s)" in result.stderr or "Secret(s) hold credentials" in result.stderr


def test_render_no_secrets_uses_placeholders_and_writes_files(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(SPEC)
    out = tmp_path / "out"
    result = run_regcred("render", "-f", path, "--no-secrets", "--out", out, env={"HARBOR_TOKEN": "tok-123"})
    assert result.returncode == 0, result.stderr
    secret_file = out / "team-a" / "secret-harbor.yaml"
    text = secret_file.read_text()
    assert "tok-123" not in text and "${REGCRED_AUTH_HARBOR_0}" in text
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    secret = yaml.safe_load(text)
    assert json.loads(secret["stringData"][".dockerconfigjson"]) == {  # the kubelet reads auth: base64 USER:PASSWORD
        "auths": {"r.example.com": {"username": "robot", "auth": "${REGCRED_AUTH_HARBOR_0}"}}}
    assert ("note:   export REGCRED_AUTH_HARBOR_0=\"$(printf '%s:%s' robot \"${HARBOR_TOKEN}\" | base64 | tr -d '\\n')\""
            in result.stderr)
    assert (out / "team-a" / "serviceaccount-default.yaml").exists()
    assert (out / "kube-system" / "daemonset-regcred-node-harbor.yaml").exists()
    assert not any("tok-123" in p.read_text() for p in out.rglob("*.yaml"))


def test_render_without_the_env_variable_is_one_clear_line(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(SPEC)
    result = run_regcred("render", "-f", path, env={"HARBOR_TOKEN": ""})
    assert result.returncode == 2
    assert "spec.registries[0].passwordFrom: the password from env HARBOR_TOKEN is empty" in result.stderr


WORKLOADS = """\
# Team A workloads: keep this header
apiVersion: apps/v1
kind: Deployment
metadata:
  name: api   # the API tier
  namespace: team-a
spec:
  replicas: 2
  template:
    metadata:
      labels: {app: api}
    spec:
      containers:
        - name: api
          image: "r.example.com/api:1"   # pinned
          ports: [{containerPort: 8080}]
---
# not from our registry: must come out byte for byte
apiVersion: apps/v1
kind: Deployment
metadata: {name: hub, namespace: team-a}
spec:
  template:
    spec:
      containers: [{name: c, image: 'docker.io/library/nginx:1'}]   # quoted on purpose
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: builder   # CI builds
  namespace: team-a
imagePullSecrets:
  - name: existing  # keep me
"""


def test_render_edits_given_manifests_in_their_own_text(tmp_path: Path) -> None:
    import difflib

    spec = tmp_path / "s.yaml"
    spec.write_text(SPEC)
    manifests = tmp_path / "apps.yaml"
    manifests.write_text(WORKLOADS)
    api_doc, hub_doc, builder_doc = WORKLOADS.split("---\n")
    out = tmp_path / "out"
    result = run_regcred("render", "-f", spec, "-f", manifests, "--out", out, env={"HARBOR_TOKEN": "tok-123"})
    assert result.returncode == 0, result.stderr
    api = (out / "team-a" / "deployment-api.yaml").read_text()
    added = [line for line in difflib.ndiff(api_doc.splitlines(), api.splitlines()) if line[:1] in "+-"]
    assert added == ["+       imagePullSecrets:", "+         - name: harbor"]  # every other line as it was
    assert (out / "team-a" / "deployment-hub.yaml").read_text() == hub_doc  # untouched: byte-identical
    assert "apps.yaml: document 2: Deployment/hub: written unchanged" in result.stderr
    builder = (out / "team-a" / "serviceaccount-builder.yaml").read_text()
    assert "# CI builds" in builder and "# keep me" in builder and builder.startswith("apiVersion: v1\n")
    assert yaml.safe_load(builder)["imagePullSecrets"] == [{"name": "existing"}, {"name": "harbor"}]
    stream = run_regcred("render", "-f", spec, "-f", manifests, env={"HARBOR_TOKEN": "tok-123"})
    assert stream.returncode == 0, stream.stderr
    assert f"---\n{api}" in stream.stdout and f"---\n{hub_doc}" in stream.stdout
    assert len([d for d in yaml.safe_load_all(stream.stdout) if d]) == 8  # 2 Secrets, 2 SAs, 3 Deployments, DS
    # the input plus the ownership annotation and the one entry, in the file's own list indentation
    assert builder == builder_doc.replace(
        "  namespace: team-a\n", "  namespace: team-a\n  annotations:\n    regcred.dev/added-pull-secrets: harbor\n"
    ) + "  - name: harbor\n"


def test_render_node_daemonset_handles_every_runtime(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(SPEC.replace("nodes: {enabled: true}", "nodes: {enabled: true, runtimes: [containerd, k3s]}"))
    result = run_regcred("render", "-f", path, "--no-secrets")
    assert result.returncode == 0, result.stderr
    (ds,) = [d for d in yaml.safe_load_all(result.stdout) if d and d["kind"] == "DaemonSet"]
    pod = ds["spec"]["template"]["spec"]
    script = pod["containers"][0]["command"][-1]
    assert "for rt in containerd k3s; do" in script and '--runtime "$rt"' in script and "--runtime none" not in script
    mounts = {m["mountPath"] for m in pod["containers"][0]["volumeMounts"]}
    assert {"/host/etc/containerd", "/host/etc/rancher/k3s"} <= mounts
    assert {v["hostPath"]["path"] for v in pod["volumes"] if "hostPath" in v} == {
        "/var/lib/kubelet", "/etc/containerd", "/etc/rancher/k3s"}
    assert "restart it on each node" in result.stderr


def test_a_list_from_kubectl_get_is_read_item_by_item(tmp_path: Path) -> None:
    spec = yaml.safe_load(SPEC.split("---")[0])
    spec["metadata"].update(uid="0f1e", resourceVersion="42", generation=1)  # as read back from the cluster
    spec["status"] = {"observedGeneration": 1}
    other = json.loads(json.dumps(spec))
    other["metadata"]["name"] = "quay"
    other["spec"]["namespaces"]["selector"] = {"matchExpressions": [{"key": "a", "operator": "In"}]}
    path = tmp_path / "list.yaml"
    path.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": [spec, other]}))
    result = run_regcred("spec", "validate", "-f", path)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"regcred: error: {path}: items[1]: spec.namespaces.selector.matchExpressions[0].values: "
        "operator In and NotIn need at least one value")
    other["spec"]["namespaces"]["selector"]["matchExpressions"][0]["values"] = ["x"]
    path.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": [spec, other]}))
    result = run_regcred("spec", "validate", "-f", path)
    assert result.returncode == 0, result.stderr
    assert "RegistryCredential harbor is valid" in result.stdout and "RegistryCredential quay is valid" in result.stdout


def test_render_says_what_it_could_not_write(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("apiVersion: regcred.dev/v1alpha1\nkind: RegistryCredential\nmetadata: {name: harbor}\n"
                    "spec:\n  registries:\n    - {server: r.example.com, username: u, passwordFrom: {env: T}}\n"
                    "    - fromSecret: {namespace: ops, name: legacy}\n  namespaces: {include: ['team-*']}\n")
    result = run_regcred("render", "-f", path, "--no-secrets")
    assert result.returncode == 0, result.stderr
    assert "note: harbor: no target namespace is known" in result.stderr  # nothing rendered: never silent
    assert ("note: harbor: spec.registries[1]: fromSecret ops/legacy is left out of the Secrets "
            "(--no-secrets cannot render it)") in result.stderr
    result = run_regcred("render", "-f", path, "--no-secrets", "--namespace", "team-a")
    assert result.returncode == 0, result.stderr
    assert "no target namespace" not in result.stderr and "fromSecret ops/legacy is left out" in result.stderr
    (secret,) = [d for d in yaml.safe_load_all(result.stdout) if d and d["kind"] == "Secret"]
    assert list(json.loads(secret["stringData"][".dockerconfigjson"])["auths"]) == ["r.example.com"]


def test_apply_and_the_controller_refuse_a_bad_registry_ca_bundle_before_any_cluster_is_contacted(
    tmp_path: Path
) -> None:
    bundle = tmp_path / "ca.pem"
    bundle.write_text("not a certificate\n")
    for args in (("apply", "-f", str(ROOT / "examples" / "registrycredential.yaml")), ("controller",)):
        result = run_regcred(*args, "--ca-file", bundle, "--kubeconfig", tmp_path / "no-kubeconfig")
        assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
        assert f"--ca-file {bundle}: not a PEM CA bundle" in result.stderr.strip().splitlines()[0], result.stderr

"""`regcred controller manifests`: the objects, their hardening, RBAC from the table, the committed kustomize base."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from regcred import __version__
from regcred.core.controller import rbac
from regcred.core.controller.manifests import (
    DEFAULT_NAMESPACE,
    NAME,
    RUN_AS,
    controller_manifests,
    file_name,
    kustomization,
)
from regcred.core.spec.schema import crd
from tests.support.cli import run_regcred
from tests.support.fixtures import require_binaries

ROOT = Path(__file__).resolve().parents[3]
BASE = ROOT / "deploy" / "controller"
IMAGE = f"ghcr.io/regcred/regcred:{__version__}"
REGENERATE = "run: regcred controller manifests --out-dir deploy/controller"


def by_kind(objects: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {o["kind"]: o for o in objects}


def key(obj: dict[str, Any]) -> tuple[str, str, str]:
    return obj["kind"], obj["metadata"].get("namespace", ""), obj["metadata"]["name"]


def printed(*args: str) -> list[dict[str, Any]]:
    done = run_regcred("controller", "manifests", *args)
    assert done.returncode == 0, done.stderr
    return [d for d in yaml.safe_load_all(done.stdout) if d is not None]


def test_the_command_prints_every_object_once_in_apply_order() -> None:
    objects = printed()
    assert objects == controller_manifests(image=IMAGE)
    assert [o["kind"] for o in objects] == [
        "CustomResourceDefinition", "Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role",
        "RoleBinding", "Deployment", "PodDisruptionBudget"]
    assert objects[0] == crd(), "the CRD is the spec's one definition"
    assert len({key(o) for o in objects}) == len(objects)


def test_json_is_a_v1_list_of_the_same_objects() -> None:
    done = run_regcred("controller", "manifests", "-o", "json")
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert (doc["apiVersion"], doc["kind"]) == ("v1", "List")
    assert doc["items"] == controller_manifests(image=IMAGE)


def test_namespace_image_and_replicas_options() -> None:
    objects = by_kind(printed("--namespace", "ops", "--image", "reg.example/regcred:9", "--replicas", "3"))
    for kind in ("ServiceAccount", "Role", "RoleBinding", "Deployment", "PodDisruptionBudget"):
        assert objects[kind]["metadata"]["namespace"] == "ops"
    assert objects["Namespace"]["metadata"]["name"] == "ops"
    for kind in ("ClusterRoleBinding", "RoleBinding"):
        assert objects[kind]["subjects"] == [{"kind": "ServiceAccount", "name": NAME, "namespace": "ops"}]
    deployment = objects["Deployment"]
    assert deployment["spec"]["replicas"] == 3
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == "reg.example/regcred:9"


def test_one_replica_has_no_disruption_budget_that_would_block_drains() -> None:
    assert "PodDisruptionBudget" not in by_kind(printed("--replicas", "1"))


@pytest.mark.parametrize(("args", "needle"), [
    (("--namespace", "Bad_NS"), "namespace"),
    (("--image", "a b"), "--image"),
    (("--image", " "), "--image"),
    (("--replicas", "0"), "--replicas"),
])
def test_bad_options_are_one_line_and_exit_2(args: tuple[str, ...], needle: str) -> None:
    done = run_regcred("controller", "manifests", *args)
    assert done.returncode == 2
    assert done.stdout == ""
    assert len(done.stderr.strip().splitlines()) == 1 and needle in done.stderr, done.stderr
    assert "Traceback" not in done.stderr


def test_a_bad_bind_address_is_one_line_before_any_connection() -> None:
    done = run_regcred("controller", "--metrics-bind-address", "nonsense", "--kubeconfig", "/nonexistent")
    assert done.returncode == 2 and "invalid bind address" in done.stderr and "Traceback" not in done.stderr


def test_the_pod_is_hardened() -> None:
    deployment = by_kind(controller_manifests(image=IMAGE))["Deployment"]
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    sc = container["securityContext"]
    assert sc["runAsNonRoot"] is True and sc["runAsUser"] == RUN_AS
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"] == {"drop": ["ALL"]}
    assert sc["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert "hostNetwork" not in pod and "hostPID" not in pod
    assert all("hostPath" not in v for v in pod.get("volumes", []))
    resources = container["resources"]
    assert {"cpu", "memory"} <= set(resources["requests"]) and {"cpu", "memory"} <= set(resources["limits"])


def test_the_user_is_the_images_default_user() -> None:
    dockerfile = (ROOT / "deploy" / "image" / "Dockerfile").read_text()
    assert re.search(rf"^USER {RUN_AS}:{RUN_AS}$", dockerfile, re.M)
    assert f"USER_ID = {RUN_AS}" in (ROOT / "deploy" / "image" / "build.py").read_text()


def test_the_container_runs_the_leader_elected_controller_with_probes_and_metrics() -> None:
    deployment = by_kind(controller_manifests(image=IMAGE))["Deployment"]
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert "command" not in container, "the image's entrypoint is regcred"
    assert container["args"][:2] == ["controller", "--leader-elect"]
    assert "--metrics-bind-address=:8080" in container["args"]
    assert "--health-probe-bind-address=:8081" in container["args"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"metrics": 8080, "health": 8081}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "health"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "health"}
    env = {e["name"]: e["valueFrom"]["fieldRef"]["fieldPath"] for e in container["env"]}
    assert env == {"POD_NAMESPACE": "metadata.namespace", "POD_NAME": "metadata.name"}
    assert pod["serviceAccountName"] == NAME
    assert deployment["spec"]["replicas"] == 2
    (term,) = pod["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
    assert term["podAffinityTerm"]["topologyKey"] == "kubernetes.io/hostname"
    selector = deployment["spec"]["selector"]["matchLabels"]
    assert term["podAffinityTerm"]["labelSelector"]["matchLabels"] == selector
    assert selector.items() <= deployment["spec"]["template"]["metadata"]["labels"].items()
    pdb = by_kind(controller_manifests(image=IMAGE))["PodDisruptionBudget"]
    assert pdb["spec"] == {"minAvailable": 1, "selector": {"matchLabels": selector}}


def expand(rules: list[dict[str, Any]]) -> set[tuple[str, str, str]]:
    return {(g, r, v) for rule in rules for g in rule["apiGroups"] for r in rule["resources"] for v in rule["verbs"]}


def test_rbac_rules_are_exactly_the_table() -> None:
    objects = by_kind(controller_manifests(image=IMAGE))
    cluster, role = objects["ClusterRole"]["rules"], objects["Role"]["rules"]
    assert expand(cluster) == rbac.granted("cluster")
    assert expand(role) == rbac.granted("namespace")
    assert all("*" not in v for rule in cluster + role for v in (*rule["verbs"], *rule["resources"],
                                                                   *rule["apiGroups"]))
    assert all("resourceNames" not in r and "nonResourceURLs" not in r for r in cluster + role)
    assert ("", "secrets", "update") not in expand(cluster), "the use cases patch Secrets, never PUT them"
    assert not any(p.feature for p in rbac.permissions()), "the webhook's rows only with the webhook"
    webhook = rbac.granted("cluster", ["webhook"]) - rbac.granted("cluster")
    assert webhook == {("admissionregistration.k8s.io", "mutatingwebhookconfigurations", v) for v in ("get", "patch")}
    assert all(p.why for p in rbac.PERMISSIONS)


def test_bindings_point_at_the_roles_and_the_service_account() -> None:
    objects = by_kind(controller_manifests(image=IMAGE))
    for kind in ("ClusterRole", "Role"):
        binding = objects[f"{kind}Binding"]
        assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": kind,
                                      "name": objects[kind]["metadata"]["name"]}
        assert binding["subjects"] == [{"kind": "ServiceAccount", "name": objects["ServiceAccount"]["metadata"]["name"],
                                        "namespace": DEFAULT_NAMESPACE}]


def test_the_committed_kustomize_base_is_what_the_command_writes(tmp_path: Path) -> None:
    objects = controller_manifests(image=IMAGE)
    files = {p.name for p in BASE.iterdir()}
    assert files == {file_name(o) for o in objects} | {"kustomization.yaml"}, REGENERATE
    assert yaml.safe_load((BASE / "kustomization.yaml").read_text()) == kustomization(objects), REGENERATE
    for obj in objects:
        assert yaml.safe_load((BASE / file_name(obj)).read_text()) == obj, f"{file_name(obj)} is stale: {REGENERATE}"
    done = run_regcred("controller", "manifests", "--out-dir", tmp_path / "base")
    assert done.returncode == 0, done.stderr
    for name in files:
        assert (tmp_path / "base" / name).read_bytes() == (BASE / name).read_bytes(), REGENERATE
    assert (BASE / "crd.yaml").read_bytes() == (ROOT / "deploy" / "crd" / "registrycredential.yaml").read_bytes()


def test_kubectl_kustomize_builds_the_same_objects() -> None:
    require_binaries("kubectl")
    kubectl = shutil.which("kubectl")
    assert kubectl is not None
    done = subprocess.run([kubectl, "kustomize", str(BASE)], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    built = [d for d in yaml.safe_load_all(done.stdout) if d is not None]
    expected = controller_manifests(image=IMAGE)
    assert sorted(built, key=key) == sorted(expected, key=key)


@pytest.mark.parametrize("fraction", ["1.5", "0", "nan", "0.99"])
def test_a_refresh_fraction_out_of_range_is_one_line_before_any_connection(fraction: str) -> None:
    done = run_regcred("controller", "--credential-refresh-fraction", fraction, "--kubeconfig", "/nonexistent")
    assert done.returncode == 2 and "--credential-refresh-fraction" in done.stderr, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr

"""`regcred controller manifests --webhook`: the Service, the MutatingWebhookConfiguration that never blocks a
cluster, the RBAC rows of the webhook feature and the Deployment's flag and port; and `regcred controller --webhook`
refusing a bad bind address in one line."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

from regcred import __version__
from regcred.core.controller import rbac
from regcred.core.controller.manifests import WEBHOOK_PORT, WEBHOOK_SERVICE, controller_manifests
from regcred.core.webhook.patch import OPT_OUT_LABEL, OPT_OUT_VALUE
from tests.cli.controller.test_controller_manifests import IMAGE, ROOT, by_kind, expand, key
from tests.support.cli import run_regcred
from tests.support.fixtures import require_binaries


def printed(*args: str) -> list[dict[str, Any]]:
    done = run_regcred("controller", "manifests", "--webhook", *args)
    assert done.returncode == 0, done.stderr
    return [d for d in yaml.safe_load_all(done.stdout) if d is not None]


def test_the_webhook_objects_come_last_and_the_rest_is_the_plain_deployment_plus_its_flag() -> None:
    objects = printed()
    assert objects == controller_manifests(image=IMAGE, features=("webhook",))
    assert [o["kind"] for o in objects][-2:] == ["Service", "MutatingWebhookConfiguration"]
    plain = by_kind(controller_manifests(image=IMAGE))
    for kind in ("CustomResourceDefinition", "Namespace", "ServiceAccount", "PodDisruptionBudget"):
        assert by_kind(objects)[kind] == plain[kind]
    assert f"ghcr.io/regcred/regcred:{__version__}" == IMAGE


def test_the_registration_never_blocks_the_cluster() -> None:
    config = by_kind(printed("--namespace", "ops"))["MutatingWebhookConfiguration"]
    (hook,) = config["webhooks"]
    assert hook["failurePolicy"] == "Ignore" and hook["timeoutSeconds"] <= 5
    assert hook["sideEffects"] == "NoneOnDryRun" and hook["admissionReviewVersions"] == ["v1"]
    assert hook["reinvocationPolicy"] == "IfNeeded"
    assert hook["rules"] == [{"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"],
                              "resources": ["pods"], "scope": "Namespaced"}]
    assert hook["clientConfig"] == {"service": {"name": WEBHOOK_SERVICE, "namespace": "ops", "path": "/mutate-pods",
                                                "port": 443}}
    opt_out = {"key": OPT_OUT_LABEL, "operator": "NotIn", "values": [OPT_OUT_VALUE]}
    assert hook["namespaceSelector"]["matchExpressions"] == [
        {"key": "kubernetes.io/metadata.name", "operator": "NotIn", "values": ["kube-system", "ops"]}, opt_out]
    assert hook["objectSelector"] == {"matchExpressions": [opt_out]}
    assert "caBundle" not in hook["clientConfig"], "the controller injects it (or cert-manager's cainjector)"


def test_the_service_reaches_every_replica_on_the_webhook_port() -> None:
    objects = by_kind(printed())
    service, deployment = objects["Service"], objects["Deployment"]
    assert service["spec"]["ports"] == [{"name": "webhook", "port": 443, "targetPort": "webhook", "protocol": "TCP"}]
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert {"name": "webhook", "containerPort": WEBHOOK_PORT, "protocol": "TCP"} in container["ports"]
    assert "--webhook" in container["args"] and f"--webhook-bind-address=:{WEBHOOK_PORT}" in container["args"]
    assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"], "the certificate is written under /tmp"


def test_rbac_adds_exactly_the_webhook_rows() -> None:
    objects = by_kind(printed())
    assert expand(objects["ClusterRole"]["rules"]) == rbac.granted("cluster", ["webhook"])
    assert expand(objects["Role"]["rules"]) == rbac.granted("namespace", ["webhook"])
    assert rbac.granted("namespace", ["webhook"]) - rbac.granted("namespace") == {
        ("", "secrets", v) for v in ("get", "create", "patch")}


def test_a_bad_webhook_bind_address_is_one_line_before_any_connection() -> None:
    done = run_regcred("controller", "--webhook", "--webhook-bind-address", "nope", "--kubeconfig", "/nonexistent")
    assert done.returncode == 2 and "invalid bind address" in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_the_kustomize_component_over_the_base_builds_the_same_objects(tmp_path: Path) -> None:
    """deploy/webhook (a Component) on deploy/controller, through the real `kubectl kustomize`."""
    require_binaries("kubectl")
    kubectl = shutil.which("kubectl")
    assert kubectl is not None
    overlay = ROOT / "deploy" / f".overlay-{os.getpid()}"  # kustomize refuses absolute and out-of-tree bases
    overlay.mkdir()
    try:
        (overlay / "kustomization.yaml").write_text("resources: [../controller]\ncomponents: [../webhook]\n")
        done = subprocess.run([kubectl, "kustomize", str(overlay)], capture_output=True, text=True, timeout=60,
                              check=False)
    finally:
        shutil.rmtree(overlay)
    assert done.returncode == 0, done.stderr
    built = [d for d in yaml.safe_load_all(done.stdout) if d is not None]
    expected = controller_manifests(image=IMAGE, features=("webhook",))
    assert sorted(built, key=key) == sorted(expected, key=key), "deploy/webhook is stale: see its kustomization.yaml"
    for name, obj in (("service.yaml", expected[-2]), ("mutatingwebhookconfiguration.yaml", expected[-1])):
        assert yaml.safe_load((ROOT / "deploy" / "webhook" / name).read_text()) == obj, name

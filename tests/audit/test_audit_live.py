"""`regcred audit` against an API server (the fake, and a real kube-apiserver in the envtest tier)."""

from __future__ import annotations

import json
from typing import Any

from regcred.core.pullsecret import dockerconfigjson_payload
from tests.cluster.test_secrets_sa_cli import make_sa, make_secret, namespace
from tests.support.cli import run_regcred

REGISTRY = "registry.example.com"


def deployment(ns: str, name: str, image: str, *, pull: list[str] | None = None, sa: str | None = None) -> dict:
    spec: dict[str, Any] = {"containers": [{"name": "app", "image": image}]}
    if pull is not None:
        spec["imagePullSecrets"] = [{"name": n} for n in pull]
    if sa:
        spec["serviceAccountName"] = sa
    return {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": ns},
        "spec": {"selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}}, "spec": spec}},
    }


def test_live_audit_finds_what_the_kubelet_would_fail_on(kube: Any) -> None:
    ns = namespace(kube, "audit")
    make_secret(kube, ns, "good", dockerconfigjson_payload(REGISTRY, "robot", "s3cret-pw"))
    make_secret(kube, ns, "broken", b'{"auths": []}')  # accepted by the API server, fatal for the kubelet
    make_sa(kube, ns, "default", pull=["gone"])
    make_sa(kube, ns, "app", pull=["good"])
    make_sa(kube, ns, "plain")
    kube.create(deployment(ns, "via-sa", f"{REGISTRY}/team/api:1", sa="app"))
    kube.create(deployment(ns, "uses-broken", f"{REGISTRY}/team/web:1", pull=["broken"]))
    kube.create(deployment(ns, "uses-missing", f"{REGISTRY}/team/job:1", pull=["nope"]))
    kube.create(deployment(ns, "uncovered", f"{REGISTRY}/team/batch:1", sa="plain"))

    result = run_regcred("audit", "-n", ns, "-o", "json", "--kubeconfig", kube.kubeconfig)
    assert result.returncode == 1, result.stderr  # error findings gate CI
    assert "Traceback" not in result.stderr and "s3cret-pw" not in result.stdout + result.stderr
    report = json.loads(result.stdout)
    codes = {(f["code"], f["object"]) for f in report["findings"]}
    assert ("secret-unusable", f"Secret/{ns}/broken") in codes
    assert ("missing-secret", f"Secret/{ns}/nope") in codes
    assert ("sa-missing-secret", f"ServiceAccount/{ns}/default") in codes
    assert ("uncovered-image", f"Deployment/{ns}/uncovered") in codes
    by_image = {row["image"]: row for row in report["images"]}
    via_sa = by_image[f"{REGISTRY}/team/api:1"]
    assert via_sa["credential"] == {"key": REGISTRY, "source": f"Secret/{ns}/good", "username": "robot"}
    assert by_image[f"{REGISTRY}/team/batch:1"]["anonymous"] is True


def test_live_audit_of_a_clean_namespace_exits_zero(kube: Any) -> None:
    ns = namespace(kube, "clean")
    make_secret(kube, ns, "pull", dockerconfigjson_payload(REGISTRY, "robot", "pw"))
    make_sa(kube, ns, "default", pull=["pull"])
    kube.create(deployment(ns, "web", f"{REGISTRY}/team/web:1"))
    result = run_regcred("audit", "-n", ns, "-o", "json", "--kubeconfig", kube.kubeconfig)
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert [f for f in report["findings"] if f["severity"] == "error"] == []
    assert report["images"][0]["credential"]["source"] == f"Secret/{ns}/pull"

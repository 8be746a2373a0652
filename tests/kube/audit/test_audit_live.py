"""`regcred audit` against an API server (the fake, and a real kube-apiserver in the envtest tier)."""

from __future__ import annotations

import json
from typing import Any

from regcred.core.credentials.pullsecret import dockerconfigjson_payload
from tests.support.cli import run_regcred_kube
from tests.support.clusterobjects import make_sa, make_secret, namespace

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

    result = run_regcred_kube(kube, "audit", "-n", ns, "-o", "json", secrets=["s3cret-pw"])
    assert result.returncode == 1, result.stderr  # error findings gate CI
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
    make_secret(kube, ns, "pull", dockerconfigjson_payload(REGISTRY, "robot", "clean-ns-pw"))
    make_sa(kube, ns, "default", pull=["pull"])
    kube.create(deployment(ns, "web", f"{REGISTRY}/team/web:1"))
    result = run_regcred_kube(kube, "audit", "-n", ns, "-o", "json", secrets=["clean-ns-pw"])
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert [f for f in report["findings"] if f["severity"] == "error"] == []
    assert report["images"][0]["credential"]["source"] == f"Secret/{ns}/pull"


def test_live_pod_created_before_its_service_account_was_patched_is_stale(kube: Any) -> None:
    """The API server's admission copies the SA list into the Pod at creation; a later SA patch leaves it behind."""
    ns = namespace(kube, "stale")
    make_secret(kube, ns, "old", dockerconfigjson_payload(REGISTRY, "robot", "old-pw"))
    make_secret(kube, ns, "new", dockerconfigjson_payload("other.example.com", "robot", "new-pw"))
    make_sa(kube, ns, "default", pull=["old"])
    rs = kube.create({"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "web-1", "namespace": ns},
                      "spec": {"selector": {"matchLabels": {"app": "web"}},
                               "template": {"metadata": {"labels": {"app": "web"}},
                                            "spec": {"containers": [{"name": "app", "image": "other.example.com/a:1"}]}}}})
    owner = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-1", "uid": rs["metadata"]["uid"]}
    created = kube.create({"apiVersion": "v1", "kind": "Pod",
                           "metadata": {"name": "web-1-a", "namespace": ns, "ownerReferences": [owner]},
                           "spec": {"containers": [{"name": "app", "image": "other.example.com/a:1"}]}})
    assert [r["name"] for r in created["spec"]["imagePullSecrets"]] == ["old"]  # the admission copy
    make_sa(kube, ns, "default", pull=["old", "new"])

    result = run_regcred_kube(kube, "audit", "-n", ns, "-o", "json", secrets=["old-pw", "new-pw"])
    assert result.returncode == 1, result.stderr  # the Pod pulls anonymously: an error finding
    report = json.loads(result.stdout)
    assert ("uncovered-image", f"Pod/{ns}/web-1-a") in {(f["code"], f["object"]) for f in report["findings"]}
    codes = {(f["code"], f["object"]) for f in report["findings"]}
    assert ("pod-stale-pull-secrets", f"Pod/{ns}/web-1-a") in codes
    rows = {row["object"]: row for row in report["images"]}
    assert rows[f"Pod/{ns}/web-1-a"]["anonymous"] is True  # its list still lacks `new`
    assert rows[f"ReplicaSet/{ns}/web-1"]["credential"]["source"] == f"Secret/{ns}/new"  # new pods get it

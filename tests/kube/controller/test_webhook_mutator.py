"""PodMutator against an API server (the fake, and a real kube-apiserver in the envtest tier): a Pod admitted
right after its namespace gets the Secret, which exists before the answer; the patched Pod is accepted by the API
server; a dry run creates nothing; another owner's Secret is never named.

The AdmissionReviews are built here (the API server calling the webhook over HTTPS is tests/kube/webhook, with
the server); the caches are Stores filled from one LIST each, with the namespace missing as when the watch lags.
"""

from __future__ import annotations

import base64
import copy
import json
import uuid
from typing import Any

import pytest

from regcred.controller.cachedapi import Store
from regcred.controller.metrics import ControllerMetrics
from regcred.controller.webhook.mutator import PodMutator
from regcred.core.credentials.pullsecret import MANAGED_BY_LABEL, MANAGED_BY_VALUE
from regcred.shells.kube.client import KubeApi
from tests.support.fakekube.patch import apply_json_patch

PASSWORD = "pw-webhook-live-not-printed"


@pytest.fixture(autouse=True)
def password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REG_PW", PASSWORD)


def world(api: KubeApi, include: str) -> tuple[PodMutator, ControllerMetrics]:
    spec = {"apiVersion": "regcred.dev/v1alpha1", "kind": "RegistryCredential",
            "metadata": {"name": "harbor", "resourceVersion": "1"},
            "spec": {"registries": [{"server": "harbor.example.com", "username": "u",
                                     "passwordFrom": {"env": "REG_PW"}}],
                     "namespaces": {"include": [include]}}}
    caches = {"RegistryCredential": Store([spec]), "Namespace": Store(), "ServiceAccount": Store(),
              "Secret": Store(api.list("Secret", label_selector=f"{MANAGED_BY_LABEL}={MANAGED_BY_VALUE}"))}
    metrics = ControllerMetrics()
    return PodMutator(api, caches, metrics=metrics), metrics


def pod(ns: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"generateName": "web-", "namespace": ns},
            "spec": {"containers": [{"name": "app", "image": "harbor.example.com/team/app:1"}],
                     "imagePullSecrets": [{"name": "from-sa"}]}}


def admit(mutator: PodMutator, obj: dict[str, Any], *, dry_run: bool = False) -> list[Any]:
    review = {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
              "request": {"uid": str(uuid.uuid4()), "kind": {"group": "", "version": "v1", "kind": "Pod"},
                          "namespace": obj["metadata"]["namespace"], "operation": "CREATE", "object": obj,
                          "dryRun": dry_run}}
    response = json.loads(mutator(json.dumps(review).encode()))["response"]
    assert response["allowed"] is True
    return json.loads(base64.b64decode(response["patch"])) if "patch" in response else []


def test_a_pod_right_after_its_namespace_gets_the_secret_created_first(kube: Any, api: KubeApi) -> None:
    ns = kube.unique_ns("wh")
    kube.create_namespace(ns)
    mutator, metrics = world(api, ns)
    try:
        obj = pod(ns)
        patch = admit(mutator, obj)
        assert patch == [{"op": "add", "path": "/spec/imagePullSecrets/-", "value": {"name": "harbor"}}]
        secret = kube.get("v1", "Secret", "harbor", ns)
        assert secret is not None and secret["type"] == "kubernetes.io/dockerconfigjson"
        created = kube.create(apply_json_patch(copy.deepcopy(obj), patch))
        assert [e["name"] for e in created["spec"]["imagePullSecrets"]] == ["from-sa", "harbor"]
        before = api.requests.total
        assert admit(mutator, pod(ns)) == patch
        assert api.requests.total == before  # the next Pod is answered from the caches
        assert metrics.registry.get_sample_value("regcred_webhook_secrets_created_total") == 1
    finally:
        mutator.close()


def test_a_dry_run_creates_nothing(kube: Any, api: KubeApi) -> None:
    ns = kube.unique_ns("wh")
    kube.create_namespace(ns)
    mutator, _ = world(api, ns)
    try:
        assert admit(mutator, pod(ns), dry_run=True) != []
        assert kube.get("v1", "Secret", "harbor", ns) is None
    finally:
        mutator.close()


def test_another_owners_secret_is_not_named(kube: Any, api: KubeApi) -> None:
    ns = kube.unique_ns("wh")
    kube.create_namespace(ns)
    kube.create({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "harbor", "namespace": ns},
                 "type": "Opaque", "data": {}})
    mutator, _ = world(api, ns)
    try:
        assert admit(mutator, pod(ns)) == []
        assert kube.get("v1", "Secret", "harbor", ns)["type"] == "Opaque"
    finally:
        mutator.close()

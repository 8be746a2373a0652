"""The self-managed certificate against an API server (the fake, and a real kube-apiserver in the envtest tier):
the Secret is created once for every replica, the caBundle goes into the registration that
`regcred controller manifests --webhook` prints (accepted by the API server), and a steady state writes nothing.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from regcred.controller.webhook.certs import SECRET_NAME, CertKeeper, decode, service_hosts
from regcred.core.controller.manifests import WEBHOOK_SERVICE, webhook_configuration
from regcred.shells.kube.client import KubeApi
from regcred.shells.kube.kubeconfig import ClusterConfig, connect

MWC = ("admissionregistration.k8s.io/v1", "MutatingWebhookConfiguration")


@pytest.fixture
def api(kube: Any) -> Iterator[KubeApi]:
    with connect(ClusterConfig(kubeconfig=str(kube.kubeconfig))) as client:
        yield client


def test_the_ca_bundle_is_injected_into_the_printed_registration(kube: Any, api: KubeApi, tmp_path: Path) -> None:
    ns = kube.unique_ns("regcred-system")
    kube.create_namespace(ns)
    config = webhook_configuration(ns)
    config["metadata"]["name"] = name = kube.unique_ns(WEBHOOK_SERVICE)  # envtest: one apiserver for all tests
    kube.create(config)
    try:
        replicas = [CertKeeper(api, namespace=ns, hosts=service_hosts(WEBHOOK_SERVICE, ns), cert_dir=tmp_path / r,
                               config_name=name) for r in ("a", "b")]
        for keeper in replicas:
            keeper.sync()
        secret = kube.get("v1", "Secret", SECRET_NAME, ns)
        bundle = decode(secret)["ca.crt"]
        registered = kube.get(*MWC, name)
        (hook,) = registered["webhooks"]
        assert base64.b64decode(hook["clientConfig"]["caBundle"]) == bundle
        assert hook["clientConfig"]["service"]["path"] == "/mutate-pods"
        assert (tmp_path / "a" / "tls.crt").read_bytes() == (tmp_path / "b" / "tls.crt").read_bytes()
        writes = api.requests.by_method.get("POST", 0) + api.requests.by_method.get("PATCH", 0)
        for keeper in replicas:
            keeper.sync()
        assert api.requests.by_method.get("POST", 0) + api.requests.by_method.get("PATCH", 0) == writes
        assert kube.get(*MWC, name)["metadata"]["resourceVersion"] == registered["metadata"]["resourceVersion"]
    finally:
        kube.delete(*MWC, name)

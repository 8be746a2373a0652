"""The self-managed certificate against an API server (the fake, and a real kube-apiserver in the envtest tier):
the Secret is created once for every replica, the caBundle goes into the registration that
`regcred controller manifests --webhook` prints (accepted by the API server), and a steady state writes nothing.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest

from regcred.controller.webhook.certs import SECRET_NAME, CertKeeper, decode, service_hosts
from regcred.core.controller.manifests import WEBHOOK_SERVICE, webhook_configuration
from regcred.shells.kube.client import KubeApi
from regcred.shells.kube.kubeconfig import ClusterConfig, connect

MWC = ("admissionregistration.k8s.io/v1", "MutatingWebhookConfiguration")


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


def test_the_keeper_needs_exactly_the_webhook_rows_of_the_rbac_table(kube: Any, tmp_path: Path) -> None:
    """As the controller's ServiceAccount: with the `--webhook` manifests' rules the round succeeds; with the
    plain manifests' rules the caBundle cannot be injected (the Secret alone is covered by the cluster-wide Secret
    rows; the Role's Secret row keeps the webhook's needs stated even if those are ever narrowed)."""
    from regcred.core.controller.manifests import NAME, controller_manifests
    from regcred.shells.kube.errors import KubeForbidden
    from tests.support.saaccess import service_account_access

    ns = kube.unique_ns("regcred-system")
    hooked = {o["kind"]: o for o in controller_manifests(namespace=ns, image="x", features=("webhook",))}
    plain = {o["kind"]: o for o in controller_manifests(namespace=ns, image="x")}
    config = webhook_configuration(ns)
    config["metadata"]["name"] = name = kube.unique_ns(WEBHOOK_SERVICE)
    kube.create(config)
    try:
        for rules, allowed in ((plain, False), (hooked, True)):
            access = service_account_access(kube, ns, f"{NAME}-{'on' if allowed else 'off'}",
                                            cluster_rules=rules["ClusterRole"]["rules"],
                                            namespace_rules=rules["Role"]["rules"])
            with connect(ClusterConfig(kubeconfig=str(access.kubeconfig))) as as_controller:
                keeper = CertKeeper(as_controller, namespace=ns, hosts=service_hosts(WEBHOOK_SERVICE, ns),
                                    cert_dir=tmp_path / str(allowed), config_name=name)
                if allowed:
                    keeper.sync()
                    assert kube.get(*MWC, name)["webhooks"][0]["clientConfig"].get("caBundle")
                else:
                    with pytest.raises(KubeForbidden) as refused:
                        keeper.sync()  # the Secret is written (the ClusterRole's Secret rows), the caBundle is not
                    assert refused.value.resource is not None and "mutatingwebhookconfigurations" in str(
                        refused.value.resource)
                    kube.delete("v1", "Secret", SECRET_NAME, ns)
    finally:
        kube.delete(*MWC, name)

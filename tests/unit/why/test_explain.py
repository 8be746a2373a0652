"""The explanation as pure data: the simulation, the Pod's Events and the registry's answers give one verdict,
cause and fix per image (the kube and real tiers run the same rules through the command)."""

from __future__ import annotations

from typing import Any

from regcred.core.audit.findings import ClusterState
from regcred.core.audit.simulation import audit
from regcred.core.why.events import pull_events
from regcred.core.why.explain import Subject, WhyInput, explain
from tests.support.auditobjects import entry, pod, pull_secret, service_account

REG = "reg.example.com"
IMAGE = f"{REG}/team/app:1"


def why(*objects: dict[str, Any], events: tuple[str, ...] = (), **data: Any) -> dict[str, Any]:
    report = audit(ClusterState(list(objects), live=True))
    found = pull_events([{"reason": "Failed", "message": m, "lastTimestamp": f"2026-12-02T10:0{i}:00Z"}
                         for i, m in enumerate(events)])
    subject = Subject("Pod/app/p", "pod", frozenset({"Secret/app/pull", "ServiceAccount/app/default"}), tuple(found))
    result: dict[str, Any] = explain(WhyInput(report, [subject], **data))
    return result


SETUP = (service_account("default", "app"), pull_secret("pull", "app", {REG: entry("robot", "pw")}),
         pod("p", "app", IMAGE, secrets=("pull",)))


def test_a_certificate_the_node_does_not_trust_has_no_regcred_fix() -> None:
    data = why(*SETUP, events=(f'Failed to pull image "{IMAGE}": failed to do request: Head "https://{REG}/v2/team/app/'
                               'manifests/1": tls: failed to verify certificate: x509: certificate signed by unknown '
                               "authority",))
    [image] = data["images"]
    assert (image["cause"], image["fix"], image["will_pull"]) == ("x509", None, False)
    assert "does not trust the registry's TLS certificate" in image["explanation"]


def test_a_timeout_is_told_apart_from_a_refusal() -> None:
    [image] = why(*SETUP, events=(f'Failed to pull image "{IMAGE}": dial tcp 10.0.0.9:443: i/o timeout',))["images"]
    assert image["cause"] == "timeout" and image["will_pull"] is False


def test_the_registry_accepting_a_credential_wins_over_old_events() -> None:
    checked = {("Secret/app/pull", REG, "robot"): (True, None)}
    data = why(*SETUP, events=(f'Failed to pull image "{IMAGE}": 401 Unauthorized',), checked=checked, verified=True)
    [image] = data["images"]
    assert image["will_pull"] is True and image["credentials"][0]["verified"] is True and data["will_pull"] is True


def test_a_refused_credential_names_the_reason_and_the_secret_to_rewrite() -> None:
    checked = {("Secret/app/pull", REG, "robot"): (False, "login: 401 unauthorized: the registry rejected the "
                                                          "credentials")}
    [image] = why(*SETUP, checked=checked, verified=True)["images"]
    assert image["cause"] == "credential-rejected" and image["credentials"][0]["error"].startswith("login: 401")
    assert "renew the credential" in image["explanation"]
    assert image["fix"] == ("regcred secret create pull -n app --server reg.example.com --username USER "
                            "--password-stdin --overwrite")

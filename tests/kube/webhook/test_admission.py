"""The controller's webhook closes the race for new namespaces (registered through clientConfig.url, own CA).

Runs on the fake API and, with KUBEBUILDER_ASSETS, on a real kube-apiserver (the `kube` fixture): the whole
controller (`regcred controller --webhook --webhook-cert-dir`) serves /mutate-pods on loopback; the test registers
it as the manifests do, but through `clientConfig.url` + `caBundle` of its own CA.
"""

from __future__ import annotations

import base64
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest

from regcred.controller.manager import Options, run
from regcred.core.controller.manifests import webhook_configuration
from regcred.core.webhook.patch import OPT_OUT_LABEL, OPT_OUT_VALUE
from regcred.localregistry.tls import generate_pki
from tests.kube.controller.test_reconcile import PASSWORD, spec_doc
from tests.kube.controller.test_status import SPECS, install_crd
from tests.support.waiting import eventually as _eventually

eventually = partial(_eventually, timeout=15.0)

MWC = ("admissionregistration.k8s.io/v1", "MutatingWebhookConfiguration")
OPT_OUT = (OPT_OUT_LABEL, OPT_OUT_VALUE)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])



def pod(ns: str, name: str = "") -> dict[str, Any]:
    meta: dict[str, Any] = {"namespace": ns, **({"name": name} if name else {"generateName": "web-"})}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta,
            "spec": {"containers": [{"name": "app", "image": "r.example.com/team/app:1"}]}}


def pull_secrets(obj: dict[str, Any]) -> list[str]:
    return [ref.get("name", "") for ref in obj["spec"].get("imagePullSecrets") or []]


@dataclass
class Admission:
    """A running controller with its webhook registered: the spec (and Secret) name, the team label, its stop."""

    kube: Any
    secret: str
    team: str
    home: str  # the controller's own namespace
    metrics_url: str
    stop: threading.Event
    thread: threading.Thread

    def namespace(self, prefix: str = "new", **labels: str) -> str:
        ns = self.kube.unique_ns(prefix)
        self.kube.create_namespace(ns, {"team": self.team, **labels})
        return ns

    def created_on_admission(self) -> float:
        text = httpx.get(self.metrics_url, timeout=5).text
        return sum(float(line.split()[-1]) for line in text.splitlines()
                   if line.startswith("regcred_webhook_secrets_created_total"))

    def halt(self) -> None:
        self.stop.set()
        self.thread.join(timeout=10)


def registration(name: str, url: str, ca: bytes, team: str, home: str) -> dict[str, Any]:
    """What `regcred controller manifests --webhook` registers, with clientConfig.url + caBundle instead of the
    Service, and restricted to this test's team label (envtest shares one apiserver between tests)."""
    doc = webhook_configuration(home)
    doc["metadata"] = {"name": name}
    hook = doc["webhooks"][0]
    hook["clientConfig"] = {"url": url, "caBundle": base64.b64encode(ca).decode()}
    hook["namespaceSelector"]["matchExpressions"].append({"key": "team", "operator": "In", "values": [team]})
    return doc


@pytest.fixture
def admission(kube: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Admission]:
    monkeypatch.setenv("REG_PW", PASSWORD)
    install_crd(kube)
    team, home, name = kube.unique_ns("team"), kube.unique_ns("regcred"), kube.unique_ns("harbor")
    kube.create_namespace(home, {"team": team})
    doc = spec_doc([], name=name, selector={"team": team})
    doc["spec"]["namespaces"].pop("include")
    answer = kube.request("POST", SPECS, json={**doc, "metadata": {"name": name}})
    assert answer.status_code == 201, answer.text
    pki = generate_pki("webhook")
    pki.write(tmp_path / "certs", cert="tls.crt", key="tls.key")
    port, metrics, probes = free_port(), free_port(), free_port()
    options = Options(kubeconfig=str(kube.kubeconfig), metrics_bind_address=f"127.0.0.1:{metrics}",
                      health_probe_bind_address=f"127.0.0.1:{probes}", workers=2, leader_election_namespace=home,
                      webhook=True, webhook_bind_address=f"127.0.0.1:{port}",
                      webhook_cert_dir=str(tmp_path / "certs"))
    stop = threading.Event()
    thread = threading.Thread(target=lambda: run(options, stop), daemon=True)
    thread.start()
    state = Admission(kube, name, team, home, f"http://127.0.0.1:{metrics}/metrics", stop, thread)
    registered = kube.unique_ns("regcred-webhook")
    try:
        assert eventually(lambda: _ready(probes)), "the controller never became ready"
        kube.create(registration(registered, f"https://127.0.0.1:{port}/mutate-pods", pki.ca_pem, team, home))
        probe_ns = state.namespace("probe")
        assert eventually(lambda: name in pull_secrets(kube.create(pod(probe_ns), dry_run=True))), \
            "the webhook never patched a Pod"
        yield state
    finally:
        kube.delete(*MWC, registered)
        state.halt()


def _ready(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def test_a_pod_right_after_its_namespace_gets_the_secret(admission: Admission) -> None:
    kube = admission.kube
    for i in range(10):
        ns = admission.namespace(f"race{i}")
        created = kube.create(pod(ns))  # no pause: the reconciler has not seen the namespace yet
        assert admission.secret in pull_secrets(created), f"Pod {i} was created without the pull Secret"
        assert kube.get("v1", "Secret", admission.secret, ns) is not None, f"namespace {i} has no Secret yet"


def test_a_dry_run_creates_no_secret(admission: Admission) -> None:
    kube = admission.kube
    before = admission.created_on_admission()
    ns = admission.namespace("dry")
    answer = kube.create(pod(ns, "dry"), dry_run=True)
    assert admission.secret in pull_secrets(answer)  # the answer shows the Pod as it would be ...
    assert admission.created_on_admission() == before  # ... and the webhook created nothing for it
    assert kube.get("v1", "Pod", "dry", ns) is None
    real = kube.create(pod(ns, "real"))
    assert admission.secret in pull_secrets(real)


def test_excluded_namespaces_and_opted_out_pods_are_untouched(admission: Admission) -> None:
    """Pods that bring their own list (so the ServiceAccount plugin copies nothing): only the webhook could add."""
    kube = admission.kube

    def own(ns: str, **labels: str) -> dict[str, Any]:
        obj = pod(ns)
        obj["spec"]["imagePullSecrets"] = [{"name": "own"}]
        if labels:
            obj["metadata"]["labels"] = labels
        return obj

    in_opted_out = kube.create(own(admission.namespace("optout", **{OPT_OUT[0]: OPT_OUT[1]})))
    in_home = kube.create(own(admission.home))
    labelled = admission.namespace("labelled")
    opted_out_pod = kube.create(own(labelled, **{OPT_OUT[0]: OPT_OUT[1]}))
    for created in (in_opted_out, in_home, opted_out_pod):
        assert pull_secrets(created) == ["own"]
    assert pull_secrets(kube.create(own(labelled))) == ["own", admission.secret]  # the same Pod, not excluded


def test_pods_are_still_created_when_the_webhook_is_gone(admission: Admission) -> None:
    kube = admission.kube
    admission.halt()
    ns = admission.namespace("after")
    created = kube.create(pod(ns))  # failurePolicy Ignore: admitted without the webhook
    assert created["metadata"]["name"].startswith("web-")
    assert admission.secret not in pull_secrets(created)

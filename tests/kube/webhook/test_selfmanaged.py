"""`regcred controller --webhook` without `--webhook-cert-dir`, on the fake API and a real kube-apiserver: the
controller makes its own CA and certificate (a Secret in its namespace), serves it for the Service's DNS name, and
answers an AdmissionReview over HTTPS; stopping it closes the port.
"""

from __future__ import annotations

import base64
import json
import socket
import ssl
import threading
from pathlib import Path
from typing import Any

import pytest

from regcred.controller.manager import Options, run
from regcred.controller.webhook.certs import SECRET_NAME, decode
from tests.kube.controller.test_reconcile import PASSWORD, spec_doc
from tests.kube.controller.test_status import SPECS, install_crd
from tests.kube.webhook.test_admission import _ready, free_port
from tests.support.waiting import eventually


def post_review(port: int, bundle: bytes, hostname: str, review: dict[str, Any]) -> dict[str, Any]:
    """One HTTPS POST verifying the certificate against `bundle` for `hostname` (as the API server dials it)."""
    context = ssl.create_default_context(cadata=bundle.decode())
    body = json.dumps(review).encode()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw, \
            context.wrap_socket(raw, server_hostname=hostname) as tls:
        tls.sendall(b"POST /mutate-pods?timeout=3s HTTP/1.1\r\nHost: " + hostname.encode() +
                    b"\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: " +
                    str(len(body)).encode() + b"\r\n\r\n" + body)
        data = b""
        while chunk := tls.recv(65536):
            data += chunk
    head, _, payload = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), head
    answer: dict[str, Any] = json.loads(payload)
    return answer


def test_the_controller_serves_its_own_certificate(kube: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("REG_PW", PASSWORD)
    install_crd(kube)
    home, target, name = kube.unique_ns("regcred"), kube.unique_ns("team"), kube.unique_ns("harbor")
    kube.create_namespace(home)
    kube.create_namespace(target)
    doc = spec_doc([target], name=name)
    assert kube.request("POST", SPECS, json={**doc, "metadata": {"name": name}}).status_code == 201
    port, probes = free_port(), free_port()
    options = Options(kubeconfig=str(kube.kubeconfig), metrics_bind_address="0",
                      health_probe_bind_address=f"127.0.0.1:{probes}", leader_election_namespace=home,
                      webhook=True, webhook_bind_address=f"127.0.0.1:{port}")
    stop = threading.Event()
    thread = threading.Thread(target=lambda: run(options, stop), daemon=True)
    thread.start()
    try:
        assert eventually(lambda: _ready(probes), 30), "the controller never became ready"
        secret = kube.get("v1", "Secret", SECRET_NAME, home)
        assert secret is not None and secret["type"] == "kubernetes.io/tls"
        review = {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
            "uid": "u-1", "kind": {"group": "", "version": "v1", "kind": "Pod"}, "namespace": target,
            "operation": "CREATE", "dryRun": False,
            "object": {"apiVersion": "v1", "kind": "Pod", "metadata": {"generateName": "web-"},
                       "spec": {"containers": [{"name": "a", "image": "r.example.com/team/app:1"}]}}}}
        answer = post_review(port, decode(secret)["ca.crt"], f"regcred-webhook.{home}.svc", review)["response"]
        assert answer["uid"] == "u-1" and answer["allowed"] is True
        assert json.loads(base64.b64decode(answer["patch"])) == [
            {"op": "add", "path": "/spec/imagePullSecrets", "value": [{"name": name}]}]
        with pytest.raises(ssl.SSLCertVerificationError):  # a name the certificate does not carry
            post_review(port, decode(secret)["ca.crt"], "elsewhere.example", review)
    finally:
        stop.set()
        thread.join(timeout=15)
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()

"""A scripted admission webhook over TLS on loopback: records what the apiserver sends, answers what a test says.

Why: the fake API's webhook calls are checked against recordings of a real kube-apiserver (path, headers, the
AdmissionReview) and through every failure mode (wrong uid, no patchType, a denial, a timeout, a closed port).
"""

from __future__ import annotations

import base64
import contextlib
import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from regcred.localregistry.tls import Pki, generate_pki

Answer = Callable[[dict[str, Any]], dict[str, Any]]  # the request -> the response object


def allow(request: dict[str, Any]) -> dict[str, Any]:
    return {"uid": request["uid"], "allowed": True}


def json_patch(*ops: dict[str, Any], warnings: list[str] | None = None) -> Answer:
    def answer(request: dict[str, Any]) -> dict[str, Any]:
        out = {"uid": request["uid"], "allowed": True, "patchType": "JSONPatch",
               "patch": base64.b64encode(json.dumps(list(ops)).encode()).decode()}
        if warnings:
            out["warnings"] = warnings
        return out
    return answer


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


class ScriptedWebhook:
    """``url`` (https://127.0.0.1:<port>/mutate), ``ca_bundle`` (base64 PEM), ``received``, ``answer``, ``delay``."""

    def __init__(self, path: str = "/mutate", pki: Pki | None = None) -> None:
        self.pki = pki or generate_pki("webhook-peer")
        self.answer: Answer = allow
        self.delay = 0.0
        self.received: list[Received] = []
        self.connections: set[socket.socket] = set()
        peer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                peer.connections.add(self.connection)

            def finish(self) -> None:
                peer.connections.discard(self.connection)
                with contextlib.suppress(OSError):
                    super().finish()

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
                peer.received.append(Received(self.path, dict(self.headers.items()), body))
                if peer.delay:
                    time.sleep(peer.delay)
                review = {"apiVersion": body.get("apiVersion"), "kind": "AdmissionReview",
                          "response": peer.answer(body["request"])}
                data = json.dumps(review).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.socket = self.pki.server_context().wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.url = f"https://127.0.0.1:{self.port}{path}"
        self.ca_bundle = base64.b64encode(self.pki.ca_pem).decode()
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)
        self._thread.start()

    def registration(self, name: str = "regcred-injector", **webhook: Any) -> dict[str, Any]:
        """A MutatingWebhookConfiguration for Pod CREATE pointing here (fields override the webhook's)."""
        return self.registration_for(self.url, self.ca_bundle, name, **webhook)

    @staticmethod
    def registration_for(url: str, ca_bundle: str, name: str, **webhook: Any) -> dict[str, Any]:
        hook = {"name": "inject.regcred.example.dev", "clientConfig": {"url": url, "caBundle": ca_bundle},
                "rules": [{"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"]}],
                "sideEffects": "NoneOnDryRun", "failurePolicy": "Ignore", "timeoutSeconds": 5,
                "admissionReviewVersions": ["v1"], **webhook}
        return {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "MutatingWebhookConfiguration",
                "metadata": {"name": name}, "webhooks": [hook]}

    def stop(self) -> None:
        """Stop as a process would: the port closes and so do the connections kept alive."""
        self.server.shutdown()
        self.server.server_close()
        for conn in list(self.connections):
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

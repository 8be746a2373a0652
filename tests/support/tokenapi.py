"""A cloud token API for tests, like ECR's GetAuthorizationToken: a long-lived account buys a short-lived password.

`GET /authorization-token[?lifetime=SECONDS]` with the account's own password (Basic auth) answers
`{"username", "password", "expiresIn", "expiresAt"}`: a fresh password that the token server
(`tokenserver.TokenServer.issue_password`) accepts at `/token` until it expires and refuses after, so the real
docker-registry behind that token server accepts a credential, then refuses it. The credential-provider test
plugin (`credplugin.py`, CREDPLUGIN_TOKEN_URL) fetches from here as ecr-credential-provider fetches from AWS.
"""

from __future__ import annotations

import base64
import binascii
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.support.tokenserver import TokenServer


class TokenApi:
    """The API on 127.0.0.1:0, issuing through `tokens`; `lifetime` seconds unless the request asks otherwise."""

    def __init__(self, tokens: TokenServer, *, lifetime: float = 60.0) -> None:
        self.tokens, self.lifetime = tokens, lifetime
        self.issued = 0  # passwords handed out
        self.expires_at = 0.0  # time.time() when the last one expires
        self._httpd: ThreadingHTTPServer | None = None

    def __enter__(self) -> TokenApi:
        handler = type("BoundTokenApiHandler", (_Handler,), {"api": self})
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True,
                         name="regcred-token-api").start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    @property
    def url(self) -> str:
        assert self._httpd is not None, "token API not started"
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/authorization-token"

    def answer(self, authorization: str, query: dict[str, list[str]]) -> tuple[int, dict[str, Any]]:
        scheme, _, value = authorization.partition(" ")
        try:
            user, _, password = base64.b64decode(value, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            user, password = "", ""
        account = self.tokens.accounts.get(user)
        if scheme.lower() != "basic" or account is None or account[0] != password:
            return 401, {"error": "the account's own credentials are required"}
        lifetime = float((query.get("lifetime") or [str(self.lifetime)])[0])
        self.issued += 1
        password = self.tokens.issue_password(user, lifetime)
        self.expires_at = time.time() + lifetime
        expires = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.expires_at))
        return 200, {"username": user, "password": password,
                     "expiresIn": lifetime, "expiresAt": expires}


class _Handler(BaseHTTPRequestHandler):
    api: TokenApi
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        """No access log on stderr."""

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        if url.path != "/authorization-token":
            status, body = 404, {"error": "not found"}
        else:
            status, body = self.api.answer(self.headers.get("Authorization", ""), parse_qs(url.query))
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

"""Tiny local registries whose every answer a test scripts, and `verify` run against them as a user would."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tests.support.cli import run_regcred

PASSWORD = "fake-Secret-pw-42"
BASIC = base64.b64encode(f"alice:{PASSWORD}".encode()).decode()
Reply = tuple[int, dict[str, str], bytes]
Route = Callable[[BaseHTTPRequestHandler], Reply]


class FakeServer:
    """A threaded HTTP server whose answers come from `route`; it records (method, path, has-Authorization)."""

    def __init__(self, route: Route, tls_dir: Path | None = None) -> None:
        self.route = route
        self.ca_file: Path | None = None
        self.seen: list[tuple[str, str, bool]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _any(self) -> None:
                outer.seen.append((self.command, self.path, "Authorization" in self.headers))
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                status, headers, body = outer.route(self)
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            do_GET = do_HEAD = do_POST = do_DELETE = _any

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        if tls_dir is not None:  # HTTPS with a throw-away CA (ca_file)
            import ssl

            from regcred.localregistry.tls import generate_pki

            self.ca_file, cert, key = generate_pki().write(tls_dir)
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(cert, key)
            self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.httpd.server_address[1]}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def authed(h: BaseHTTPRequestHandler) -> bool:
    return h.headers.get("Authorization") == f"Basic {BASIC}"


def basic_registry(after_login: Callable[[BaseHTTPRequestHandler], Reply] | None = None) -> Route:
    def route(h: BaseHTTPRequestHandler) -> Reply:
        if not authed(h):
            return 401, {"WWW-Authenticate": 'Basic realm="fake"'}, b"{}"
        if after_login is not None:
            return after_login(h)
        return 200, {}, b"{}"

    return route


def verify(host: str, *extra: str) -> tuple[Any, dict[str, Any]]:
    result = run_regcred("verify", host, "-u", "alice", "--password-stdin", "--insecure-http", "-o", "json", *extra,
                         input=PASSWORD)
    assert "Traceback" not in result.stderr
    assert PASSWORD not in result.stdout + result.stderr and BASIC not in result.stdout + result.stderr
    data = json.loads(result.stdout) if result.stdout.strip() else {}
    return result, data


def error_of(data: dict[str, Any]) -> str:
    [row] = data["results"]
    return str(row["error"])

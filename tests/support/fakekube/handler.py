"""HTTP/1.1 wire handling: keep-alive, chunked watch streams, headers every response carries.

Why a raw http.server handler: it is a real socket the real client library talks to, and it
stays fast enough (one thread per connection, TCP_NODELAY, single write per response).
"""

from __future__ import annotations

import contextlib
import json
import select
import socket
import ssl
import time
import uuid
from collections.abc import Iterator
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

import yaml

from .errors import go_quote
from .listwatch import WatchDropped
from .request import ApiRequest, Response
from .router import dispatch

if TYPE_CHECKING:
    from .server import FakeKube

_REASONS = {200: "OK", 201: "Created", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden",
            404: "Not Found", 405: "Method Not Allowed", 406: "Not Acceptable", 409: "Conflict", 410: "Gone",
            415: "Unsupported Media Type", 422: "Unprocessable Entity", 429: "Too Many Requests",
            500: "Internal Server Error", 503: "Service Unavailable", 504: "Gateway Timeout"}


def _until_dropped(stream: Iterator[bytes]) -> Iterator[bytes | None]:
    try:
        yield from stream
    except WatchDropped:
        yield None


class KubeHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, addr: tuple[str, int], kube: FakeKube, tls: ssl.SSLContext | None = None) -> None:
        self.kube = kube
        self.tls = tls
        self.connections: set[socket.socket] = set()
        super().__init__(addr, KubeHandler)

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, addr = super().get_request()
        if self.tls is not None:  # the handshake happens in the handler thread, on first read
            sock = self.tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, addr


class KubeHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: KubeHTTPServer

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.connections.add(self.connection)

    def handle(self) -> None:
        try:
            if isinstance(self.connection, ssl.SSLSocket):
                self.connection.do_handshake()
            super().handle()
        except (ssl.SSLError, ConnectionResetError, BrokenPipeError, TimeoutError):
            self.close_connection = True

    def finish(self) -> None:
        self.server.connections.discard(self.connection)
        with contextlib.suppress(OSError):
            super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            out = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return out
                out += self.rfile.read(size)
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _handle(self) -> None:
        started = time.perf_counter()
        kube = self.server.kube
        split = urlsplit(self.path)
        req = ApiRequest(
            method=self.command,
            path=split.path,
            query=parse_qs(split.query, keep_blank_values=True),
            headers={k.lower(): v for k, v in self.headers.items()},
            body=self._read_body(),
        )
        resp, fmt = dispatch(kube, req)
        # Logged before the answer leaves: a client that got its response must see the record.
        kube.request_log.add(req, resp.code, time.perf_counter() - started)
        try:
            self._write(resp, fmt, req)
        except (BrokenPipeError, ConnectionResetError, OSError):
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _handle

    def _headers(self, resp: Response, ctype: str, req: ApiRequest) -> list[str]:
        kube = self.server.kube
        lines = [
            f"HTTP/1.1 {resp.code} {_REASONS.get(resp.code, 'Unknown')}",
            f"Audit-Id: {uuid.uuid4()}",
            f"Cache-Control: {resp.headers.pop('Cache-Control', 'no-cache, private')}",
            f"Content-Type: {resp.headers.pop('Content-Type', ctype)}",
            f"X-Kubernetes-Pf-Flowschema-Uid: {kube.flowschema_uid}",
            f"X-Kubernetes-Pf-Prioritylevel-Uid: {kube.prioritylevel_uid}",
            f"Date: {formatdate(usegmt=True)}",
        ]
        lines += [f"{k}: {v}" for k, v in resp.headers.items()]
        seen: list[str] = []
        for w in req.warnings:
            if w not in seen:
                seen.append(w)
                lines.append(f"Warning: 299 - {go_quote(w)}")
        return lines

    def _peer_closed(self) -> bool:
        """True when the client hung up on a watch (readable socket that reads EOF)."""
        try:
            readable, _, _ = select.select([self.connection], [], [], 0)
            return bool(readable) and self.connection.recv(1) == b""
        except (OSError, ValueError):
            return True

    def _write(self, resp: Response, fmt: str, req: ApiRequest) -> None:
        ctype = "application/yaml" if fmt == "yaml" else "application/json"
        if resp.stream is not None:
            head = [*self._headers(resp, "application/json", req), "Transfer-Encoding: chunked"]
            self.wfile.write(("\r\n".join(head) + "\r\n\r\n").encode())
            stream = resp.stream
            try:
                for chunk in _until_dropped(stream):
                    if chunk is None:  # dropped by a test: the connection dies without the last chunk
                        self.close_connection = True
                        with contextlib.suppress(OSError):
                            self.connection.shutdown(socket.SHUT_RDWR)
                        return
                    if chunk:
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                        self.wfile.flush()
                    elif self._peer_closed():
                        self.close_connection = True
                        return
            finally:
                close = getattr(stream, "close", None)
                if close is not None:
                    close()
            self.wfile.write(b"0\r\n\r\n")
            return
        body = resp.body
        if isinstance(body, dict):
            body = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
        body = body or b""
        if fmt == "yaml" and "Content-Type" not in resp.headers:
            body = yaml.safe_dump(json.loads(body), default_flow_style=False, sort_keys=True).encode()
        head = [*self._headers(resp, ctype, req), f"Content-Length: {len(body)}"]
        data = ("\r\n".join(head) + "\r\n\r\n").encode() + (b"" if self.command == "HEAD" else body)
        self.wfile.write(data)

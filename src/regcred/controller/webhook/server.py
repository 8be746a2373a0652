"""The webhook's HTTPS server: POST /mutate-pods, HTTP/1.1 keep-alive, TLS from a cert dir re-read on change.

Why this stack (measured, docs/decisions.md): one asyncio event loop on its own thread
reads and writes every connection, llhttp (`httptools`) parses HTTP/1.1, and the sync handler runs on a thread
pool, so a request that blocks for seconds (a Secret created on admission) never stalls the others. The loop
does only socket and TLS work; the pool is sized for many slow requests at once but grows only on demand.

The serving certificate is `cert_dir/tls.crt` + `tls.key` (the cert-manager and controller-runtime layout). It
is looked at again on new connections (at most once a second, by stat) and a changed pair is loaded into a
fresh TLS context; a half-written pair keeps the previous one until both files agree.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol, cast

from regcred.controller.metrics import parse_bind
from regcred.controller.webhook.certdir import CertDir
from regcred.core.errors import InputError
from regcred.core.webhook.review import answer_status

log = logging.getLogger("regcred.controller.webhook")
Handler = Callable[[bytes], bytes]
PATH = "/mutate-pods"
MAX_BODY = 3 * 1024 * 1024  # the API server's own request body limit; an AdmissionReview is smaller
MAX_HEAD = 64 * 1024  # request line + headers
POOL_SIZE = 64  # requests in the handler at once (threads start on demand; most requests take microseconds)
IDLE_SECONDS = 120.0  # a keep-alive connection with no request in flight
REQUEST_SECONDS = 15.0  # a request must arrive whole within this (slow-loris)
_REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed",
            413: "Content Too Large", 500: "Internal Server Error", 503: "Service Unavailable"}


class AdmissionObserver(Protocol):
    """The metrics hook (ControllerMetrics has it): requests the server answered without the handler."""

    def observe_admission(self, result: str, seconds: float) -> None: ...


class _Shared:
    """What every connection of one server uses."""

    def __init__(self, handler: Handler, metrics: AdmissionObserver | None) -> None:
        self.handler = handler
        self.metrics = metrics
        self.pool = ThreadPoolExecutor(POOL_SIZE, thread_name_prefix="webhook-handler")
        self.connections: set[_Connection] = set()

    async def sweep(self) -> None:
        """Close connections past their deadline (idle, or a request that never finishes arriving)."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(1.0)
            now = loop.time()
            for conn in [c for c in self.connections if c.deadline < now]:
                conn.close()

    def rejected(self, started: float) -> None:
        if self.metrics is not None:
            try:
                self.metrics.observe_admission("invalid", time.monotonic() - started)
            except Exception:  # metrics must not change an answer
                log.exception("webhook metrics failed")

    def handle(self, body: bytes) -> tuple[int, bytes]:
        try:
            answer = self.handler(body)
        except Exception:  # the handler promises not to raise; a bug still gets an answer
            log.exception("webhook handler failed")
            return 500, b'{"kind":"Status","apiVersion":"v1","status":"Failure","message":"internal error","code":500}'
        return answer_status(answer), answer


class _Connection(asyncio.Protocol):
    """One client connection: parse requests with llhttp, answer them in order, one at a time."""

    def __init__(self, shared: _Shared) -> None:
        import httptools  # lazy: only the webhook server parses HTTP itself

        self.shared = shared
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self.url = b""
        self.head = 0
        self.body: list[bytes] = []
        self.size = 0
        self.started = 0.0
        self.refused: tuple[int, bytes] | None = None  # an answer decided before the body arrived
        self.expects_continue = False
        self.pending: deque[tuple[int, bytes, float] | tuple[None, bytes, float]] = deque()
        self.busy = False
        self.paused = False
        self.closing = False
        self.loop = asyncio.get_running_loop()
        self.deadline = self.loop.time() + IDLE_SECONDS

    # --- connection life
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # a stream transport: create_server made it
        self.shared.connections.add(self)
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def connection_lost(self, exc: Exception | None) -> None:
        self.shared.connections.discard(self)
        self.closing = True

    def close(self) -> None:
        self.closing = True
        if self.transport is not None:
            self.transport.close()

    def data_received(self, data: bytes) -> None:
        import httptools  # lazy: cached module lookup

        if self.closing:
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._refuse_now(400, "upgrades are not served")
        except httptools.HttpParserError:
            self._refuse_now(400, "malformed HTTP request")

    # --- llhttp callbacks
    def on_message_begin(self) -> None:
        self.url, self.head, self.body, self.size, self.refused = b"", 0, [], 0, None
        self.expects_continue = False
        self.started = time.monotonic()
        self.deadline = self.loop.time() + REQUEST_SECONDS

    def on_url(self, url: bytes) -> None:
        self.url += url
        self.head += len(url)
        if self.head > MAX_HEAD:
            self._refuse_now(400, "request headers too large")

    def on_header(self, name: bytes, value: bytes) -> None:
        self.head += len(name) + len(value)
        if self.head > MAX_HEAD:
            self._refuse_now(400, "request headers too large")
        elif len(name) == 14 and name.lower() == b"content-length" and value.strip().isdigit() \
                and int(value) > MAX_BODY:
            self._refuse_now(413, f"the body is larger than {MAX_BODY} bytes")  # refused before it is sent
        elif len(name) == 6 and name.lower() == b"expect" and value.strip().lower() == b"100-continue":
            self.expects_continue = True

    def on_headers_complete(self) -> None:
        path = self.url.split(b"?", 1)[0]
        if path != PATH.encode():
            self.refused = 404, _status_body(404, "not found")
        elif self.parser.get_method() != b"POST":
            self.refused = 405, _status_body(405, "only POST is served")
        elif self.expects_continue and self.transport is not None and not self.closing:
            self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")  # curl waits for this before a large body

    def on_body(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > MAX_BODY:
            self._refuse_now(413, f"the body is larger than {MAX_BODY} bytes")
        elif self.refused is None:
            self.body.append(chunk)

    def on_message_complete(self) -> None:
        if self.closing:
            return
        if not self.parser.should_keep_alive():
            self.closing = True  # answer, then close
        if self.refused is not None:
            self.shared.rejected(self.started)
            self.pending.append((self.refused[0], self.refused[1], self.started))
        else:
            self.pending.append((None, b"".join(self.body), self.started))
        self.body = []
        self.deadline = self.loop.time() + IDLE_SECONDS
        self._next()

    # --- answering, in order
    def _next(self) -> None:
        while self.pending and not self.busy and self.transport is not None:
            code, data, _started = self.pending.popleft()
            if code is not None:
                self._write(code, data, close=self.closing and not self.pending)
                continue
            self.busy = True
            if len(self.pending) > 8 and not self.paused:
                self.paused = True
                self.transport.pause_reading()  # a pipelining client waits for its answers
            try:
                self.shared.pool.submit(self._work, data)
            except RuntimeError:  # the server is stopping
                self.close()

    def _work(self, body: bytes) -> None:
        """On a pool thread: the handler, then the answer handed back to the loop (no futures: fewer hops)."""
        answer = self.shared.handle(body)
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
            self.loop.call_soon_threadsafe(self._done, answer)

    def _done(self, answer: tuple[int, bytes]) -> None:
        self.busy = False
        if self.transport is None or self.transport.is_closing():
            return
        code, body = answer
        self._write(code, body, close=self.closing and not self.pending)
        if not self.transport.is_closing():
            if self.paused:
                self.paused = False
                self.transport.resume_reading()
            self._next()

    def _write(self, code: int, body: bytes, *, close: bool) -> None:
        assert self.transport is not None
        ctype = b"application/json"
        head = b"HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n%s\r\n" % (
            code, _REASONS.get(code, "Unknown").encode(), ctype, len(body), b"Connection: close\r\n" if close else b"")
        self.transport.write(head + body)
        if close:
            self.transport.close()

    def _refuse_now(self, code: int, message: str) -> None:
        """Answer at once and close: the rest of this request will not be read."""
        if self.closing or self.transport is None:
            return
        self.shared.rejected(self.started or time.monotonic())
        self.closing = True
        if not self.busy:
            self._write(code, _status_body(code, message), close=True)
        else:
            self.transport.close()


def _status_body(code: int, message: str) -> bytes:
    import json  # lazy: error answers only

    return json.dumps({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                       "message": message, "code": code}, separators=(",", ":")).encode()


class WebhookServer:
    """A running webhook server: `port` (the bound one) and `stop()`."""

    def __init__(self, bind: str, handler: Handler, cert_dir: str, metrics: AdmissionObserver | None) -> None:
        self._bind = parse_bind(bind)
        self.certs = CertDir(Path(cert_dir))
        self._context = self.certs.context()  # InputError when the pair is missing or unusable
        self._shared = _Shared(handler, metrics)
        self._loop = asyncio.new_event_loop()
        self._started: Future[int] = Future()
        self._server: asyncio.Server | None = None
        self._sweeper: asyncio.Task[None] | None = None
        # The loop binds, serves and closes on its own thread.
        self._thread = threading.Thread(target=self._run, name=f"webhook{bind}", daemon=True)
        self._thread.start()
        try:
            self.port: int = self._started.result()
        except OSError as exc:
            self._thread.join()
            raise InputError(f"cannot listen on {bind}: {exc.strerror or exc}",
                             hint="pick another address or port") from None

    def _run(self) -> None:
        loop = self._loop
        asyncio.set_event_loop(loop)
        loop.set_exception_handler(_one_line)
        host, port = self._bind
        try:
            self._server = loop.run_until_complete(loop.create_server(
                lambda: _Connection(self._shared), host or None, port, ssl=self._context, backlog=1024,
                reuse_address=True, ssl_handshake_timeout=10))
        except OSError as exc:
            loop.close()
            self._started.set_exception(exc)
            return
        self._sweeper = loop.create_task(self._shared.sweep())
        self._started.set_result(self._server.sockets[0].getsockname()[1])
        try:
            loop.run_forever()
        finally:
            loop.close()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop listening, close every connection and the loop; requests in the handler are abandoned."""
        if self._loop.is_closed():
            return

        def shutdown() -> None:
            if self._sweeper is not None:
                self._sweeper.cancel()
            if self._server is not None:
                self._server.close()
            for conn in list(self._shared.connections):
                conn.close()
            self._loop.call_later(0.05, self._loop.stop)  # the closes are sent first

        if self._thread.is_alive():
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                self._loop.call_soon_threadsafe(shutdown)
            self._thread.join(timeout)
        self._shared.pool.shutdown(wait=False, cancel_futures=True)


def _one_line(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """What the loop could not deliver (a connection's fatal error): one log line, no traceback."""
    exc = context.get("exception")
    log.warning("webhook connection error", extra={"error": context.get("message", ""),
                                                   "exception": repr(exc) if exc is not None else ""})


def serve_webhook(bind: str, handler: Handler, cert_dir: str, metrics: AdmissionObserver | None = None
                  ) -> WebhookServer:
    """Serve `handler` (AdmissionReview bytes in, answer bytes out) on POST /mutate-pods over HTTPS on `bind`."""
    return WebhookServer(bind, handler, cert_dir, metrics)

"""A network layer for httpx whose every socket wait ends by the deadline of the request in progress.

httpx's timeouts bound each socket operation, not a request (encode/httpx#1450): a server sending one
header byte per second keeps a request alive for hours although no read ever times out. Under this
httpcore network backend each connect, read and write waits at most what is left of the deadline the
calling thread set (`DeadlineBackend.until`), so a registry check cannot outlive its deadline in any
phase — connect, TLS, headers or body. A socket wait cut short this way surfaces as httpx's ordinary
timeout exception.

httpx 0.28 cannot take a network backend yet (encode/httpx#3749), so `deadline_transport` builds its
default transport and swaps in a connection pool with this backend; if httpx's internals change, the
transport stays httpx's own and only the per-read deadline checks remain (a test catches that).
"""

from __future__ import annotations

import ssl
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import httpcore
import httpx

_SHORTEST = 0.001  # a socket timeout of 0 would mean "non-blocking", not "expired"


class DeadlineBackend(httpcore.NetworkBackend):
    """httpcore's synchronous backend, with each timeout capped by the calling thread's deadline."""

    def __init__(self) -> None:
        self._inner = httpcore.SyncBackend()
        self._local = threading.local()

    @contextmanager
    def until(self, at: float | None) -> Iterator[None]:
        """Socket waits of this thread end by `at` (time.monotonic()); None: only their own timeouts."""
        previous = getattr(self._local, "at", None)
        self._local.at = at
        try:
            yield
        finally:
            self._local.at = previous

    def capped(self, timeout: float | None) -> float | None:
        at: float | None = getattr(self._local, "at", None)
        if at is None:
            return timeout
        left = max(at - time.monotonic(), _SHORTEST)
        return left if timeout is None else min(timeout, left)

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
        stream = self._inner.connect_tcp(host, port, self.capped(timeout), local_address, socket_options)
        return _DeadlineStream(stream, self)

    def connect_unix_socket(self, path: str, timeout: float | None = None,
                            socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
        return _DeadlineStream(self._inner.connect_unix_socket(path, self.capped(timeout), socket_options), self)

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class _DeadlineStream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream, backend: DeadlineBackend) -> None:
        self._inner = inner
        self._backend = backend

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, self._backend.capped(timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, self._backend.capped(timeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(self, ssl_context: ssl.SSLContext, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore.NetworkStream:
        stream = self._inner.start_tls(ssl_context, server_hostname, self._backend.capped(timeout))
        return _DeadlineStream(stream, self._backend)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


def deadline_transport(backend: DeadlineBackend, *, verify: ssl.SSLContext, limits: httpx.Limits) -> httpx.HTTPTransport:
    """httpx's default transport (no proxy, HTTP/1.1), its connections made through `backend`."""
    transport = httpx.HTTPTransport(verify=verify, limits=limits, trust_env=False)
    if isinstance(getattr(transport, "_pool", None), httpcore.ConnectionPool):
        transport._pool = httpcore.ConnectionPool(
            ssl_context=verify,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=backend,
        )
    return transport

"""The webhook's serving certificate from a directory (`tls.crt` + `tls.key`), followed as it changes.

Why a directory: it is what cert-manager mounts, what controller-runtime's webhook server reads and what the
self-managed certificates (certs.py) materialise, so one code path serves all three. Rotation needs no restart:
every TLS handshake asks for the current context (OpenSSL's server-name callback runs on every handshake, with or
without SNI); the files are looked at again at most once a second; a changed pair is loaded into a fresh context
and only swapped in once it loads, so a rotation caught half-way keeps serving the previous pair.
"""

from __future__ import annotations

import logging
import os
import ssl
import threading
import time
from pathlib import Path

from regcred.core.errors import InputError

log = logging.getLogger("regcred.controller.webhook")
CERT, KEY = "tls.crt", "tls.key"
Signature = tuple[tuple[int, int, int], ...]


class CertDir:
    """`context()` is the SSLContext to serve with; it switches each new handshake to the newest pair."""

    def __init__(self, directory: Path, *, check_every: float = 1.0) -> None:
        self.directory = directory
        self.check_every = check_every
        self.reloads = 0
        self._lock = threading.Lock()
        self._checked = 0.0
        self._signature: Signature | None = None
        self._current: ssl.SSLContext | None = None
        self._front: ssl.SSLContext | None = None

    def context(self) -> ssl.SSLContext:
        """The context to give the server; raises InputError when the directory holds no usable pair."""
        if self._front is None:
            signature = self._stat()
            if signature is None:
                raise InputError(f"no TLS certificate in {self.directory}: {CERT} and {KEY} are needed",
                                 hint="point --webhook-cert-dir at a directory with tls.crt and tls.key")
            try:
                self._current = self._front = self._load()
            except (ssl.SSLError, OSError) as exc:
                raise InputError(f"cannot use the TLS pair in {self.directory}: {_reason(exc)}",
                                 hint="tls.crt must hold the certificate (chain) and tls.key its private key") from None
            self._signature, self._checked = signature, time.monotonic()
            self._front.sni_callback = self._select
        return self._front

    def _stat(self) -> Signature | None:
        try:
            stats = [os.stat(self.directory / name) for name in (CERT, KEY)]
        except OSError:
            return None
        return tuple((s.st_mtime_ns, s.st_size, s.st_ino) for s in stats)

    def _load(self) -> ssl.SSLContext:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.set_alpn_protocols(["http/1.1"])
        ctx.load_cert_chain(self.directory / CERT, self.directory / KEY)
        return ctx

    def current(self) -> ssl.SSLContext | None:
        """The newest loadable pair's context (looked at again when `check_every` has passed)."""
        now = time.monotonic()
        if now - self._checked < self.check_every:
            return self._current
        with self._lock:
            if now - self._checked < self.check_every:
                return self._current
            self._checked = now
            signature = self._stat()
            if signature is None or signature == self._signature:
                return self._current
            try:
                fresh = self._load()
            except (ssl.SSLError, OSError) as exc:  # mid-rotation or broken: keep serving the previous pair
                log.warning("webhook keeps its previous TLS certificate", extra={
                    "directory": str(self.directory), "error": _reason(exc)})
                return self._current
            self._current, self._signature = fresh, signature
            self.reloads += 1
            log.info("webhook TLS certificate reloaded", extra={"directory": str(self.directory)})
            return fresh

    def _select(self, conn: ssl.SSLObject | ssl.SSLSocket, server_name: str | None,
                ctx: ssl.SSLContext) -> None:
        fresh = self.current()
        if fresh is not None and fresh is not ctx:
            conn.context = fresh


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(getattr(exc, "reason", None) or exc)

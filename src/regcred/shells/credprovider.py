"""Running a kubelet credential-provider plugin as the kubelet does, and nothing more.

The executable runs with its arguments and no shell; the request goes to stdin; `env` is added to
regcred's own environment (the spec's value wins, as in the kubelet's exec). Unlike the kubelet (one fixed
minute) the spec's `timeout` applies; then the plugin's whole process group is killed. stdout is read up to
MAX_OUTPUT bytes and stderr up to a small bound; stderr is never shown (a plugin may print a token there),
only its size. No error line holds anything the plugin wrote.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from regcred.core.controller.backoff import JitteredBackoff
from regcred.core.credentials.provider import (
    MAX_OUTPUT,
    CredentialProvider,
    PluginResponseError,
    choose,
    lifetime,
    parse_response,
    request_document,
)
from regcred.core.errors import InputError

MAX_STDERR = 64 * 1024


@dataclass(frozen=True, slots=True)
class PluginCredential:
    """What one plugin call gave: the credential for the image, and how long it may be reused."""

    username: str
    password: str = field(repr=False)
    lifetime: float  # seconds; 0: not to be reused
    fetched_at: float  # time.time() when the plugin answered


def _kill(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def _collect(proc: subprocess.Popen[bytes], request: bytes, deadline: float) -> tuple[bytes, int, str | None]:
    """stdout, stderr size, and the problem (None: the plugin finished in time within the bounds)."""
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    try:
        proc.stdin.write(request)  # a request is far smaller than a pipe buffer: never blocks
        proc.stdin.close()
    except BrokenPipeError:
        pass  # a plugin that does not read its stdin: its exit status and output tell the rest
    out, err_size = bytearray(), 0
    with selectors.DefaultSelector() as selector:
        selector.register(proc.stdout, selectors.EVENT_READ)
        selector.register(proc.stderr, selectors.EVENT_READ)
        while selector.get_map():
            left = deadline - time.monotonic()
            if left <= 0:
                return bytes(out), err_size, "timeout"
            for key, _ in selector.select(left):
                chunk = os.read(key.fd, 65536)
                if not chunk:
                    selector.unregister(key.fileobj)
                elif key.fileobj is proc.stdout:
                    out += chunk
                    if len(out) > MAX_OUTPUT:
                        return bytes(out), err_size, "oversize"
                else:
                    err_size += len(chunk)
                    if err_size > MAX_STDERR:
                        return bytes(out), err_size, "stderr"
    try:
        proc.wait(max(deadline - time.monotonic(), 0.001))
    except subprocess.TimeoutExpired:
        return bytes(out), err_size, "timeout"
    return bytes(out), err_size, None


def run_plugin(provider: CredentialProvider, where: str) -> bytes:
    """The plugin's stdout for the provider's request; InputError (one line, naming `where`) on failure."""
    name = os.path.basename(provider.command)
    env = {**os.environ, **dict(provider.env)}
    try:
        proc = subprocess.Popen([provider.command, *provider.args], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, env=env, start_new_session=True, close_fds=True)
    except OSError as exc:
        raise InputError(f"{where}: cannot run {provider.command}: {exc.strerror or type(exc).__name__}",
                         hint="give the absolute path of an executable plugin") from None
    problem: str | None = "interrupted"
    try:
        out, err_size, problem = _collect(proc, request_document(provider), time.monotonic() + provider.timeout)
    finally:
        if proc.poll() is None or problem is not None:  # its children too (one may hold the pipes open)
            _kill(proc)
        for pipe in (proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()
    said = f"; its {err_size}-byte stderr is not shown, it may hold a credential" if err_size else ""
    if problem == "timeout":
        raise InputError(f"{where}: plugin {name} did not answer within {provider.timeout:g}s and was killed{said}",
                         hint="raise credentialProvider.timeout, or check the plugin")
    if problem == "oversize":
        raise InputError(f"{where}: plugin {name} wrote more than {MAX_OUTPUT} bytes and was killed")
    if problem == "stderr":
        raise InputError(f"{where}: plugin {name} wrote more than {MAX_STDERR} bytes on stderr and was killed")
    if proc.returncode != 0:
        status = (f"was killed by signal {-proc.returncode}" if proc.returncode < 0
                  else f"exited with status {proc.returncode}")
        raise InputError(f"{where}: plugin {name} {status}{said}")
    return out


def fetch(provider: CredentialProvider, where: str) -> PluginCredential:
    """Run the plugin and take the credential the kubelet would use for the provider's image."""
    out = run_plugin(provider, where)
    name = os.path.basename(provider.command)
    try:
        response = parse_response(out, provider.api_version)
        credential = choose(response, provider.image)
    except PluginResponseError as exc:
        raise InputError(f"{where}: plugin {name}: {exc.message}") from None
    if credential.password == "" and credential.username == "":
        raise InputError(f"{where}: plugin {name}: the auth entry for {provider.image!r} is empty")
    return PluginCredential(credential.username, credential.password, lifetime(response, provider), time.time())


class PluginCache:
    """Plugin answers reused, so that one source costs one plugin call however many namespaces it feeds.

    `PluginCache()` keeps every answer for its own life (one resolution: `plan`, `apply`, `render`). With
    `fraction` (the controller's, which lives on) an answer is reused until that fraction of its lifetime has
    passed; one without a lifetime (the plugin said "do not cache") for `floor` seconds, so it is not run once
    per namespace; a failure is remembered too, with jittered exponential backoff per source (`floor`, doubled up
    to `retry_cap`, each wait stretched by up to 100 %), so a failing or throttled token API is asked neither once
    per namespace nor in step with every other replica.
    Calls for one source are serialised: concurrent reconciles share one call; other sources do not wait.
    """

    def __init__(self, fraction: float | None = None, *, floor: float = 0.0, retry_cap: float = 300.0,
                 clock: Callable[[], float] = time.time) -> None:
        self.fraction, self.floor, self.retry_cap, self.clock = fraction, floor, max(floor, retry_cap), clock
        self.calls = 0
        self._answers: dict[CredentialProvider, PluginCredential] = {}
        # a failing source: until when its error is repeated without a call, the error, and its backoff
        self._failures: dict[CredentialProvider, tuple[float, InputError, JitteredBackoff]] = {}
        self._lock = threading.Lock()  # the maps; `_sources` serialises the calls of each source
        self._sources: dict[CredentialProvider, threading.Lock] = {}

    def _until(self, answer: PluginCredential) -> float:
        """Until when an answer is reused: a fraction of its lifetime; `floor` for one without a lifetime."""
        if self.fraction is None:
            return float("inf")
        return answer.fetched_at + (answer.lifetime * self.fraction if answer.lifetime > 0 else self.floor)

    def refresh_at(self, providers: Iterable[CredentialProvider]) -> float | None:
        """When the first of these sources' answers stops being reused (time.time()); None: none is kept."""
        with self._lock:
            times = [self._until(a) for a in (self._answers.get(p) for p in providers) if a is not None]
        return min(times, default=None)

    def get(self, provider: CredentialProvider, where: str) -> PluginCredential:
        with self._lock:
            source = self._sources.setdefault(provider, threading.Lock())
        with source:  # one call per source at a time; other sources (a hanging plugin's neighbours) go on
            with self._lock:
                now = self.clock()
                answer = self._answers.get(provider)
                if answer is not None and now < self._until(answer):
                    return answer
                failed = self._failures.get(provider)
                if failed is not None and now < failed[0]:
                    raise failed[1]
                self.calls += 1
            try:
                answer = fetch(provider, where)
            except InputError as exc:
                if self.fraction is not None:
                    backoff = failed[2] if failed is not None else JitteredBackoff(self.floor, self.retry_cap)
                    with self._lock:
                        self._failures[provider] = (now + backoff.next(), exc, backoff)
                raise
            with self._lock:
                self._failures.pop(provider, None)
                self._answers[provider] = answer
            return answer

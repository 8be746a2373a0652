"""Why a registry check stopped: one user-facing reason per failure, and the deadline of a whole check.

Transport errors (DNS, refused, TLS, timeouts) become one line naming the host; the deadline bounds a
check whose server trickles bytes (each read then stays under `--timeout`, the whole would not).
"""

from __future__ import annotations

import socket
import ssl
import time
from dataclasses import dataclass

import httpx

from regcred.core.verify.results import RegistryProblem


class DeadlinePassed(RegistryProblem):
    """The whole check ran past its deadline: no further request is sent for it."""

    ends_check = True


@dataclass(frozen=True, slots=True)
class Deadline:
    """When one registry check must be over (monotonic clock), and its budget for the message."""

    at: float
    budget: float

    @classmethod
    def for_check(cls, timeout: float, repositories: int) -> Deadline:
        """S × (2 + repositories): the login flow, then one step per repository pulled."""
        budget = timeout * (2 + repositories)
        return cls(time.monotonic() + budget, budget)

    def remaining(self) -> float:
        return self.at - time.monotonic()

    def expired(self) -> bool:
        """Past the deadline, give or take the clock granularity of a socket wait cut short at it."""
        return self.remaining() <= 0.01

    def problem(self, host: str) -> DeadlinePassed:
        return DeadlinePassed(f"timeout: the check of {host} passed its {self.budget:g}s deadline "
                              "(the registry answers too slowly)")


def _root_cause(exc: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain and len(chain) < 10:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def transport_reason(exc: httpx.HTTPError, host: str, timeout: float) -> RegistryProblem:
    """DNS, refused, TLS, timeout...: one reason naming the host."""
    chain = _root_cause(exc)
    if isinstance(exc, httpx.RemoteProtocolError) and "location header" in str(exc).lower():
        # httpx parses a redirect's Location before the response is handed over (even unfollowed)
        return RegistryProblem(f"{host} redirected to a URL no client can follow (its Location header); refused")
    if isinstance(exc, httpx.TimeoutException):
        reachable = not isinstance(exc, httpx.ConnectTimeout)
        return RegistryProblem(f"timeout after {timeout:g}s talking to {host}", reachable=reachable)
    for cause in chain:
        if isinstance(cause, ssl.SSLCertVerificationError):
            detail = cause.verify_message or "certificate verification failed"
            return RegistryProblem(f"TLS error with {host}: {detail} (give its CA with --ca-file)", tls=False)
        if isinstance(cause, ssl.SSLError):
            hint = " (it may speak plain HTTP: then use --insecure-http)" if cause.reason == "WRONG_VERSION_NUMBER" else ""
            return RegistryProblem(f"TLS error with {host}: {cause.reason or 'handshake failed'}{hint}", tls=False)
        if isinstance(cause, socket.gaierror):
            return RegistryProblem(f"DNS: cannot resolve {host}", reachable=False)
        if isinstance(cause, ConnectionRefusedError):
            return RegistryProblem(f"connection refused by {host}", reachable=False)
    text = " ".join(str(exc).split()).lower()
    if "refused" in text:
        return RegistryProblem(f"connection refused by {host}", reachable=False)
    if "name or service not known" in text or "name resolution" in text:
        return RegistryProblem(f"DNS: cannot resolve {host}", reachable=False)
    if "ssl" in text or "certificate" in text:
        return RegistryProblem(f"TLS error with {host}", tls=False)
    reachable = not isinstance(exc, httpx.ConnectError)
    return RegistryProblem(f"{type(exc).__name__} talking to {host}", reachable=reachable)

"""Send the requests of the registry auth flow over HTTP, and nothing clever: the flow decides.

`core.verify.authflow.check_flow` yields each request a pulling client would send and reads the
responses; this shell sends them with one shared httpx client, applies the flow's redirect policy
(`next_hop`) by hand, reads replies up to a cap, and turns transport failures into reasons it throws
back into the flow. The token and the password never appear in a result, a log line or an error.

`--timeout S` bounds each network read; a server trickling bytes could hold a request open for ever, so each
registry check as a whole also has a deadline, S × (2 + number of repositories) seconds, that caps every
socket wait (shells/deadlinenet), after which the check stops with a timeout reason.

Per-registry isolation: whatever one registry's check runs into — a reason the flow words, or anything
unforeseen that a server's reply provokes — becomes that registry's result (`RegistryClient.verify`);
it never ends the run, so `verify` and `audit --verify` report every other registry as usual.
"""

from __future__ import annotations

import datetime as dt
import ssl
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from regcred import __version__
from regcred.core.errors import InputError
from regcred.core.verify.authflow import (
    MAX_REDIRECTS,
    REDIRECT_STATUSES,
    FlowOptions,
    Request,
    Response,
    check_flow,
    next_hop,
    run_flow,
)
from regcred.core.verify.plan import Target
from regcred.core.verify.results import CheckResult, RegistryProblem
from regcred.shells.deadlinenet import DeadlineBackend, deadline_transport
from regcred.shells.input import read_file
from regcred.shells.registryproblems import Deadline, transport_reason

MAX_BODY_BYTES = 1024 * 1024
DEFAULT_TIMEOUT = 10.0
DEFAULT_CONCURRENCY = 8


@dataclass(frozen=True, slots=True)
class VerifyOptions:
    """Transport settings of a run (the CLI flags)."""

    ca_file: Path | None = None
    insecure_http: bool = False
    timeout: float = DEFAULT_TIMEOUT
    probe_upload: bool = False
    concurrency: int = DEFAULT_CONCURRENCY
    max_body: int = MAX_BODY_BYTES


def ssl_context(ca_file: Path | None) -> ssl.SSLContext:
    """The system trust store, or only the given CA bundle; a bad file is a usage error (exit 2)."""
    try:
        if ca_file is None:
            return ssl.create_default_context()
        return ssl.create_default_context(cadata=read_file(ca_file, what="CA bundle (--ca-file)").decode("latin-1"))
    except (ssl.SSLError, OSError, ValueError) as exc:
        raise InputError(f"--ca-file {ca_file}: not a PEM CA bundle ({type(exc).__name__})",
                         hint="give the registry's CA certificate in PEM format") from None


class RegistryClient:
    """One HTTP client (shared pool, thread-safe) for a verification run."""

    def __init__(self, options: VerifyOptions) -> None:
        self.options = options
        self.network = DeadlineBackend()
        limits = httpx.Limits(max_connections=max(4, options.concurrency * 2))
        self.http = httpx.Client(
            transport=deadline_transport(self.network, verify=ssl_context(options.ca_file), limits=limits),
            follow_redirects=False,
            timeout=httpx.Timeout(options.timeout),
            headers={"User-Agent": f"regcred/{__version__}"},
            trust_env=False,
        )

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def scheme(self) -> str:
        return "http" if self.options.insecure_http else "https"

    # --- one request, with the flow's redirect policy and the size cap -----------------------------------

    def send(self, request: Request, deadline: Deadline | None = None) -> Response:
        """Send; follow redirects the flow allows; cap the body and the time; RegistryProblem on failure."""
        for _ in range(MAX_REDIRECTS + 1):
            host = urlsplit(request.url).netloc
            if deadline is not None and deadline.expired():
                raise deadline.problem(host)
            try:
                with (
                    self.network.until(deadline.at if deadline else None),  # caps every socket wait
                    self.http.stream(request.method, request.url, headers=dict(request.headers),
                                     data=dict(request.form) if request.form is not None else None,
                                     params=httpx.QueryParams(list(request.params)) if request.params else None,
                                     ) as resp,
                ):
                    if resp.status_code in REDIRECT_STATUSES and "location" in resp.headers:
                        request = next_hop(request, resp.status_code, resp.headers["location"], str(resp.url))
                        continue
                    body = self._read_capped(resp, host, deadline) if request.reads_body else b""
                    headers = {name.lower(): value for name, value in resp.headers.items()}
                    return Response(resp.status_code, headers, body, str(resp.url))
            except httpx.HTTPError as exc:
                if deadline is not None and isinstance(exc, httpx.TimeoutException) and deadline.expired():
                    raise deadline.problem(host) from None
                raise transport_reason(exc, host, self.options.timeout) from None
            except (ValueError, httpx.InvalidURL) as exc:  # httpx reads a redirect's Location (IDNA) even unfollowed
                raise RegistryProblem(f"{host} sent a reply no client can use ({type(exc).__name__}, for example "
                                      "a Location header naming an invalid host); refused") from None
        raise RegistryProblem(f"more than {MAX_REDIRECTS} redirects from {urlsplit(request.url).netloc}")

    def _read_capped(self, resp: httpx.Response, host: str, deadline: Deadline | None = None) -> bytes:
        chunks: list[bytes] = []
        size = 0
        for chunk in resp.iter_bytes():
            if deadline is not None and deadline.expired():
                raise deadline.problem(host)
            size += len(chunk)
            if size > self.options.max_body:
                raise RegistryProblem(
                    f"reply from {host} is larger than {self.options.max_body // 1024} KiB; stopped reading"
                )
            chunks.append(chunk)
        return b"".join(chunks)

    # --- the checks ----------------------------------------------------------------------------------

    def verify(self, target: Target) -> CheckResult:
        """Every check for one target. Per-registry isolation: nothing this check runs into escapes it."""
        try:
            flow = check_flow(target, FlowOptions(self.scheme, self.options.probe_upload), now=dt.datetime.now(dt.UTC))
            deadline = Deadline.for_check(self.options.timeout, len(target.repositories))
            return run_flow(flow, lambda request: self.send(request, deadline))
        except Exception as exc:  # the rule: one registry's failure is that registry's result, whatever it is
            return unforeseen_failure(target, exc)

    def verify_all(self, targets: Sequence[Target]) -> list[CheckResult]:
        """Every target, concurrently with a bound; results in the order given."""
        if len(targets) <= 1 or self.options.concurrency <= 1:
            return [self.verify(t) for t in targets]
        with ThreadPoolExecutor(max_workers=min(self.options.concurrency, len(targets))) as pool:
            return list(pool.map(self.verify, targets))


def unforeseen_failure(target: Target, exc: Exception) -> CheckResult:
    """The result of a check that failed in a way no rule words: the registry and the kind of failure,
    never the exception's text (it could quote a reply, a header, a credential)."""
    return CheckResult(registry=target.registry, errors=[
        f"the check of {target.registry} stopped on an unexpected {type(exc).__name__}; other registries are "
        "checked as usual"])

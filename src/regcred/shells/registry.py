"""Speak the registry HTTP API v2 the way a pulling client does, to prove a credential really works.

`GET /v2/` (the challenge), then Basic, or a Bearer token from the announced realm (GET with Basic
credentials; the OAuth2 password form as fallback), then `HEAD` on each manifest with the Accept types
a runtime sends. Push rights are read from the `access` claim of a token asked for `pull,push`; nothing
is ever pushed. Redirects are followed by hand and only within the registry and its realm, so a
credential never leaves for another host; replies are read up to a cap; the token and the password
never appear in a result, a log line or an error.

`--timeout S` bounds each network read; a server trickling bytes could hold a request open for ever, so each
registry check as a whole also has a deadline, S × (2 + number of repositories) seconds, that caps every
socket wait (shells/deadlinenet), after which the check stops with a timeout reason.
"""

from __future__ import annotations

import base64
import datetime as dt
import ssl
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx

from regcred import __version__
from regcred.core.errors import InputError
from regcred.core.verify.challenge import (
    ChallengeError,
    bearer_parameters,
    parse_challenges,
    select_challenge,
)
from regcred.core.verify.verification import (
    CheckResult,
    RepositoryRef,
    Target,
    TokenGrant,
    TokenReplyError,
    expires_at,
    read_token_reply,
    status_reason,
)
from regcred.shells.registryproblems import Deadline, DeadlinePassed, RegistryProblem, transport_reason

MANIFEST_ACCEPT = ", ".join((
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.docker.distribution.manifest.v2+json",
))
MAX_BODY_BYTES = 1024 * 1024
MAX_REDIRECTS = 5
DEFAULT_TIMEOUT = 10.0
DEFAULT_CONCURRENCY = 8
_REDIRECTS = frozenset({301, 302, 303, 307, 308})


@dataclass(frozen=True, slots=True)
class VerifyOptions:
    """Transport settings of a run (the CLI flags)."""

    ca_file: Path | None = None
    insecure_http: bool = False
    timeout: float = DEFAULT_TIMEOUT
    probe_upload: bool = False
    concurrency: int = DEFAULT_CONCURRENCY
    max_body: int = MAX_BODY_BYTES


@dataclass(frozen=True, slots=True)
class _Reply:
    status: int
    headers: httpx.Headers
    body: bytes
    url: str


def ssl_context(ca_file: Path | None) -> ssl.SSLContext:
    """The system trust store, or only the given CA bundle; a bad file is a usage error (exit 2)."""
    try:
        return ssl.create_default_context(cafile=str(ca_file)) if ca_file else ssl.create_default_context()
    except FileNotFoundError:
        raise InputError(f"--ca-file {ca_file}: no such file") from None
    except (ssl.SSLError, OSError, ValueError) as exc:
        raise InputError(f"--ca-file {ca_file}: not a PEM CA bundle ({type(exc).__name__})",
                         hint="give the registry's CA certificate in PEM format") from None


def _basic_header(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode("ascii")


class RegistryClient:
    """One HTTP client (shared pool, thread-safe) for a verification run."""

    def __init__(self, options: VerifyOptions) -> None:
        from regcred.shells.deadlinenet import DeadlineBackend, deadline_transport

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

    # --- one request, with the redirect and size policy ------------------------------------------------

    def request(self, method: str, url: str, *, allowed_hosts: Iterable[str], headers: dict[str, str] | None = None,
                data: dict[str, str] | None = None, params: Sequence[tuple[str, str]] | None = None,
                deadline: Deadline | None = None) -> _Reply:
        """Send; follow same-host redirects by hand; refuse any other host; cap the body and the time."""
        allowed = {h.lower() for h in allowed_hosts}
        start_scheme = urlsplit(url).scheme
        for _ in range(MAX_REDIRECTS + 1):
            host = urlsplit(url).netloc
            if deadline is not None and deadline.expired():
                raise deadline.problem(host)
            try:
                with (
                    self.network.until(deadline.at if deadline else None),  # caps every socket wait
                    self.http.stream(method, url, headers=headers, data=data,
                                     params=httpx.QueryParams(list(params)) if params else None) as resp,
                ):
                    if resp.status_code in _REDIRECTS and "location" in resp.headers:
                        location = urljoin(str(resp.url), resp.headers["location"])
                        target = urlsplit(location)
                        if target.netloc.lower() not in allowed:
                            raise RegistryProblem(
                                f"{host} redirected to another host ({target.netloc or location[:60]}); "
                                "regcred does not send credentials there"
                            )
                        if start_scheme == "https" and target.scheme != "https":
                            raise RegistryProblem(f"{host} redirected from https to plain http; refused")
                        url, params = location, None
                        if resp.status_code == 303:
                            method, data = "GET", None
                        continue
                    body = self._read_capped(resp, host, deadline) if method != "HEAD" else b""
                    return _Reply(resp.status_code, resp.headers, body, str(resp.url))
            except httpx.HTTPError as exc:
                if deadline is not None and isinstance(exc, httpx.TimeoutException) and deadline.expired():
                    raise deadline.problem(host) from None
                raise transport_reason(exc, host, self.options.timeout) from None
        raise RegistryProblem(f"more than {MAX_REDIRECTS} redirects from {urlsplit(url).netloc}")

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

    # --- the check -------------------------------------------------------------------------------------

    def verify(self, target: Target) -> CheckResult:
        """Run every check for one target; failures become reasons in the result, never exceptions."""
        result = CheckResult(registry=target.registry)
        try:
            _Check(self, target, result).run()
        except RegistryProblem as problem:
            result.errors.append(problem.message)
            if result.tls is None and problem.tls is not None:
                result.tls = problem.tls
            if not result.reachable:
                result.reachable = problem.reachable
        for repo in target.repositories:
            result.pull.setdefault(repo.label, False)
        return result

    def verify_all(self, targets: Sequence[Target]) -> list[CheckResult]:
        """Every target, concurrently with a bound; results in the order given."""
        if len(targets) <= 1 or self.options.concurrency <= 1:
            return [self.verify(t) for t in targets]
        with ThreadPoolExecutor(max_workers=min(self.options.concurrency, len(targets))) as pool:
            return list(pool.map(self.verify, targets))


class _Check:
    """The v2 flow for one target, writing into `result` as it learns things."""

    def __init__(self, client: RegistryClient, target: Target, result: CheckResult) -> None:
        self.client = client
        self.target = target
        self.result = result
        self.base = f"{client.scheme}://{target.registry}"
        self.hosts = {target.registry.lower()}
        self.basic = _basic_header(target.username, target.password)
        self.token_hosts = set(self.hosts)
        self.deadline = Deadline.for_check(client.options.timeout, len(target.repositories))

    def _request(self, method: str, url: str, **kwargs: Any) -> _Reply:
        return self.client.request(method, url, deadline=self.deadline, **kwargs)

    def run(self) -> None:
        ping = self._request("GET", f"{self.base}/v2/", allowed_hosts=self.hosts)
        self.result.reachable = True
        self.result.tls = True if self.client.scheme == "https" else None
        if ping.status == 200:
            self.result.scheme = "none"
            self.result.login = True
            self._pulls(lambda _repo, _actions: {})
            return
        if ping.status != 401:
            raise RegistryProblem(status_reason(ping.status, what="GET /v2/"))
        header = ping.headers.get("www-authenticate")
        if not header:
            raise RegistryProblem("GET /v2/: 401 without a WWW-Authenticate challenge")
        try:
            challenge = select_challenge(parse_challenges(header))
        except ChallengeError as exc:
            raise RegistryProblem(f"malformed WWW-Authenticate challenge: {exc}") from None
        if challenge is None:
            raise RegistryProblem("the registry offers no Basic or Bearer authentication")
        if challenge.scheme == "basic":
            self._basic()
        else:
            try:
                realm, service, _scope = bearer_parameters(challenge)
            except ChallengeError as exc:
                raise RegistryProblem(f"malformed WWW-Authenticate challenge: {exc}") from None
            self._bearer(realm, service)

    # Basic ----------------------------------------------------------------------------------------------

    def _basic(self) -> None:
        self.result.scheme = "basic"
        auth = {"Authorization": self.basic}
        reply = self._request("GET", f"{self.base}/v2/", allowed_hosts=self.hosts, headers=auth)
        if reply.status != 200:
            raise RegistryProblem(status_reason(reply.status, what="login"))
        self.result.login = True
        self._pulls(lambda _repo, _actions: auth)
        if self.client.options.probe_upload:
            self.result.push_granted = self._upload_probe(auth)

    # Bearer ---------------------------------------------------------------------------------------------

    def _bearer(self, realm: str, service: str | None) -> None:
        self.result.scheme = "bearer"
        if self.client.scheme == "https" and not realm.startswith("https://"):
            raise RegistryProblem(f"the Bearer realm {realm} is plain http while the registry is https; regcred "
                                  "does not send credentials in clear text")
        realm_host = urlsplit(realm).netloc.lower()
        self.token_hosts = {realm_host, *self.hosts}
        token, grant = self._token(realm, service, None)
        self._record_lifetime(grant)
        # As `docker login`: the registry itself must accept the token (a realm it does not trust fails here).
        ping = self._request("GET", f"{self.base}/v2/", allowed_hosts=self.hosts,
                                   headers={"Authorization": f"Bearer {token}"})
        if ping.status != 200:
            raise RegistryProblem(status_reason(ping.status, what="login with the token"))
        self.result.login = True

        def pull_auth(repo: RepositoryRef, actions: str) -> dict[str, str]:
            token, _ = self._token(realm, service, f"repository:{repo.path}:{actions}")
            return {"Authorization": f"Bearer {token}"}

        self._pulls(pull_auth)
        pushes: list[bool | None] = []
        for repo in self.target.repositories:
            token, grant = self._token(realm, service, f"repository:{repo.path}:pull,push")
            actions = grant.actions_for(repo.path)
            if actions is None and self.client.options.probe_upload:
                pushes.append(self._upload_probe({"Authorization": f"Bearer {token}"}, repo))
            else:
                pushes.append(None if actions is None else "push" in actions)
        if any(p is True for p in pushes):
            self.result.push_granted = True
        elif pushes and all(p is False for p in pushes):
            self.result.push_granted = False

    def _record_lifetime(self, grant: TokenGrant) -> None:
        self.result.expires_in = grant.expires_in
        self.result.expires_at = expires_at(grant, dt.datetime.now(dt.UTC))

    def _token(self, realm: str, service: str | None, scope: str | None) -> tuple[str, TokenGrant]:
        """GET the realm with Basic credentials; on 404/405 try the OAuth2 password form."""
        params: list[tuple[str, str]] = []
        if service:
            params.append(("service", service))
        if scope:
            params.append(("scope", scope))
        params.append(("account", self.target.username))
        what = "token request" if scope is None else f"token for {scope}"
        reply = self._request("GET", realm, allowed_hosts=self.token_hosts, params=params,
                                    headers={"Authorization": self.basic})
        if reply.status in (404, 405):
            form = {"grant_type": "password", "username": self.target.username, "password": self.target.password,
                    "client_id": "regcred"}
            if service:
                form["service"] = service
            if scope:
                form["scope"] = scope
            reply = self._request("POST", realm, allowed_hosts=self.token_hosts, data=form)
        if reply.status != 200:
            raise RegistryProblem(status_reason(reply.status, what=what))
        try:
            return read_token_reply(reply.body)
        except TokenReplyError as exc:
            raise RegistryProblem(f"{what}: {exc}") from None

    # shared ---------------------------------------------------------------------------------------------

    def _pulls(self, auth_for: Callable[[RepositoryRef, str], dict[str, str]]) -> None:
        """HEAD each manifest with the credential a pull would use; reasons per repository."""
        for repo in self.target.repositories:
            try:
                headers = dict(auth_for(repo, "pull"))
                headers["Accept"] = MANIFEST_ACCEPT
                url = f"{self.base}/v2/{repo.path}/manifests/{repo.reference}"
                reply = self._request("HEAD", url, allowed_hosts=self.hosts, headers=headers)
                ok = reply.status == 200
                self.result.pull[repo.label] = ok
                if ok:
                    continue
                if reply.status == 401 and self.result.login:  # Harbor robots: login fine, pull not allowed
                    self.result.errors.append(f"pull {repo.label}: 401 unauthorized: the login works but this "
                                              "credential may not pull it (insufficient scope)")
                else:
                    self.result.errors.append(status_reason(reply.status, what=f"pull {repo.label}"))
            except DeadlinePassed:
                raise  # the check is over: reported once, the remaining repositories count as not pulled
            except RegistryProblem as problem:
                self.result.pull[repo.label] = False
                self.result.errors.append(f"pull {repo.label}: {problem.message}")

    def _upload_probe(self, auth: dict[str, str], repo: RepositoryRef | None = None) -> bool | None:
        """Start a blob upload and cancel it at once: 202 means push is allowed. Nothing is written."""
        repo = repo or (self.target.repositories[0] if self.target.repositories else None)
        if repo is None:
            return None
        url = f"{self.base}/v2/{repo.path}/blobs/uploads/"
        reply = self._request("POST", url, allowed_hosts=self.hosts, headers=auth)
        if reply.status in (401, 403):
            return False
        if reply.status != 202:
            return None
        location = reply.headers.get("location")
        if location:
            cancel = self._request("DELETE", urljoin(reply.url, location), allowed_hosts=self.hosts,
                                         headers=auth)
            if cancel.status not in (200, 202, 204):
                self.result.errors.append(f"push probe: could not cancel the upload session ({cancel.status})")
        return True

"""Registry authentication and the checks of one credential, as a flow that never touches the network.

Like httpx's auth flows, `check_flow` is a generator: it yields each `Request` a pulling client would
send and receives the `Response`, and decides everything itself — `GET /v2/` (the challenge), Basic or
a Bearer token from the announced realm (GET with Basic credentials; the OAuth2 password form on
404/405), the realm checks (an http(s) URL to a valid host, never plain http for an https registry),
the token's scope per repository, `HEAD` on each manifest, push rights from the `access` claim of a
`pull,push` token (or, when asked, an upload started and cancelled at once). The shell that drives it
only sends requests and feeds back responses, or throws a RegistryProblem in when one could not be
sent; the flow returns the CheckResult. `next_hop` is the redirect policy the shell applies to every
request: same hosts only (the registry, and its realm for token requests), never https to http.

A target without a username and a password is checked as an anonymous pull (what the kubelet does when no
credential matches an image): no login, a token asked for without credentials, only the pulls are checked.
"""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Callable, Generator, Iterator, Mapping
from dataclasses import dataclass, field, replace

from regcred.core.verify.challenge import (
    ChallengeError,
    bearer_parameters,
    parse_challenges,
    select_challenge,
)
from regcred.core.verify.hosts import HostError, http_url
from regcred.core.verify.plan import Target
from regcred.core.verify.repository import RepositoryRef
from regcred.core.verify.results import CheckResult, RegistryProblem, status_reason
from regcred.core.verify.tokens import TokenGrant, TokenReplyError, expires_at, read_token_reply

MANIFEST_ACCEPT = ", ".join((
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.docker.distribution.manifest.v2+json",
))
MAX_REDIRECTS = 5
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


@dataclass(frozen=True, slots=True)
class Request:
    """One request to send: where, with what, and which hosts a redirect may lead to."""

    method: str
    url: str
    allowed_hosts: frozenset[str]
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)  # may hold credentials
    params: tuple[tuple[str, str], ...] = ()
    form: Mapping[str, str] | None = field(default=None, repr=False)  # the OAuth2 form holds the password

    @property
    def reads_body(self) -> bool:
        return self.method != "HEAD"


@dataclass(frozen=True, slots=True)
class Response:
    """What came back (after redirects): header names in lower case, the body read up to the cap."""

    status: int
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    url: str = ""


@dataclass(frozen=True, slots=True)
class FlowOptions:
    """How to talk: https or plain http (`--insecure-http`), and whether an upload may be probed."""

    scheme: str = "https"
    probe_upload: bool = False


Flow = Generator[Request, Response, CheckResult]
_Steps = Generator[Request, Response, None]
_AuthFor = Callable[[RepositoryRef, str], Generator[Request, Response, dict[str, str]]]


def basic_header(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode("ascii")


def next_hop(request: Request, status: int, location: str, current_url: str) -> Request:
    """The request a redirect leads to; RegistryProblem when it leaves the allowed hosts or drops TLS."""
    start = http_url(request.url, what="request URL")
    here = http_url(current_url, what="request URL").netloc
    try:
        target = http_url(location, what=f"{here} redirected to", base=current_url)
    except HostError as exc:
        raise RegistryProblem(str(exc)) from None
    if target.netloc.lower() not in request.allowed_hosts:
        raise RegistryProblem(f"{here} redirected to another host ({target.netloc[:60]}); "
                              "regcred does not send credentials there")
    if start.scheme == "https" and target.scheme != "https":
        raise RegistryProblem(f"{here} redirected from https to plain http; refused")
    hop = replace(request, url=target.geturl(), params=())
    return replace(hop, method="GET", form=None) if status == 303 else hop


def check_flow(target: Target, options: FlowOptions, *, now: dt.datetime) -> Flow:
    """Every check of one target; each failure becomes a reason in the returned result, never an exception."""
    result = CheckResult(registry=target.registry)
    try:
        yield from _Check(target, options, now, result).run()
    except RegistryProblem as problem:
        result.stopped(problem)
    for repo in target.repositories:
        result.pull.setdefault(repo.label, False)
    return result


def run_flow(flow: Flow, send: Callable[[Request], Response]) -> CheckResult:
    """Drive a flow with `send`, the only I/O: each response is fed back; a RegistryProblem raised by
    `send` (the request could not be made) is thrown into the flow, which decides what it means."""
    try:
        request = next(flow)
        while True:
            try:
                response = send(request)
            except RegistryProblem as problem:
                request = flow.throw(problem)
            else:
                request = flow.send(response)
    except StopIteration as done:
        result: CheckResult = done.value
        return result


class _Check:
    """The v2 flow for one target, writing into `result` as it learns things."""

    def __init__(self, target: Target, options: FlowOptions, now: dt.datetime, result: CheckResult) -> None:
        self.target = target
        self.options = options
        self.now = now
        self.result = result
        self.base = f"{options.scheme}://{target.registry}"
        self.hosts = frozenset({target.registry.lower()})
        self.anonymous = not target.username and not target.password
        self.basic = basic_header(target.username, target.password)

    def to_registry(self, method: str, path: str, headers: Mapping[str, str] | None = None) -> Request:
        return Request(method, f"{self.base}{path}", self.hosts, dict(headers or {}))

    def run(self) -> _Steps:
        ping = yield self.to_registry("GET", "/v2/")
        self.result.reachable = True
        self.result.tls = True if self.options.scheme == "https" else None
        if ping.status == 200:
            self.result.scheme = "none"
            self.result.login = True
            yield from self.pulls(_fixed({}))
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
        if challenge.scheme == "basic" and self.anonymous:
            self.result.scheme = "basic"
            yield from self.pulls(_fixed({}))  # each HEAD is refused: Basic has no anonymous access
            return
        if challenge.scheme == "basic":
            yield from self._basic()
            return
        try:
            realm, service, _scope = bearer_parameters(challenge)
            http_url(realm, what="the Bearer realm")
        except (ChallengeError, HostError) as exc:
            raise RegistryProblem(f"malformed WWW-Authenticate challenge: {exc}") from None
        yield from _Bearer(self, realm, service).run()

    def _basic(self) -> _Steps:
        self.result.scheme = "basic"
        auth = {"Authorization": self.basic}
        reply = yield self.to_registry("GET", "/v2/", auth)
        if reply.status != 200:
            raise RegistryProblem(status_reason(reply.status, what="login"))
        self.result.login = True
        yield from self.pulls(_fixed(auth))
        if self.options.probe_upload:
            self.result.push_granted = yield from self.upload_probe(auth)

    def pulls(self, auth_for: _AuthFor) -> _Steps:
        """HEAD each manifest with the credential a pull would use; reasons per repository."""
        for repo in self.target.repositories:
            try:
                headers = dict((yield from auth_for(repo, "pull")))
                headers["Accept"] = MANIFEST_ACCEPT
                reply = yield self.to_registry("HEAD", f"/v2/{repo.path}/manifests/{repo.reference}", headers)
                ok = reply.status == 200
                self.result.pull[repo.label] = ok
                if ok:
                    continue
                if reply.status in (401, 403) and self.anonymous:
                    self.result.errors.append(f"pull {repo.label}: {anonymous_refusal(reply.status)}")
                elif reply.status == 401 and self.result.login:  # Harbor robots: login fine, pull not allowed
                    self.result.errors.append(f"pull {repo.label}: 401 unauthorized: the login works but this "
                                              "credential may not pull it (insufficient scope)")
                else:
                    self.result.errors.append(status_reason(reply.status, what=f"pull {repo.label}"))
            except RegistryProblem as problem:
                if problem.ends_check:
                    raise  # reported once; the remaining repositories count as not pulled
                self.result.pull[repo.label] = False
                self.result.errors.append(f"pull {repo.label}: {problem.message}")

    def upload_probe(self, auth: Mapping[str, str],
                      repo: RepositoryRef | None = None) -> Generator[Request, Response, bool | None]:
        """Start a blob upload and cancel it at once: 202 means push is allowed. Nothing is written."""
        repo = repo or (self.target.repositories[0] if self.target.repositories else None)
        if repo is None:
            return None
        reply = yield self.to_registry("POST", f"/v2/{repo.path}/blobs/uploads/", auth)
        if reply.status in (401, 403):
            return False
        if reply.status != 202:
            return None
        location = reply.headers.get("location")
        if location:
            try:
                url = http_url(location, what="the upload location", base=reply.url or self.base).geturl()
            except HostError as exc:
                self.result.errors.append(f"push probe: could not cancel the upload session: {exc}")
                return True
            cancel = yield Request("DELETE", url, self.hosts, dict(auth))
            if cancel.status not in (200, 202, 204):
                self.result.errors.append(f"push probe: could not cancel the upload session ({cancel.status})")
        return True


ANONYMOUS_REFUSED = "the registry refuses anonymous pulls"


def anonymous_refusal(status: int) -> str:
    return f"{status} {'unauthorized' if status == 401 else 'denied'}: {ANONYMOUS_REFUSED}"


def _fixed(headers: Mapping[str, str]) -> _AuthFor:
    """The same headers for every repository (none, or Basic): no request needed to get them."""

    def auth_for(_repo: RepositoryRef, _actions: str) -> Generator[Request, Response, dict[str, str]]:
        yield from ()
        return dict(headers)

    return auth_for


class _Bearer:
    """Token authentication: one token for the login, one per repository and scope."""

    def __init__(self, check: _Check, realm: str, service: str | None) -> None:
        self.check = check
        self.realm = realm
        self.service = service
        self.token_hosts = frozenset({http_url(realm, what="the Bearer realm").netloc.lower(), *check.hosts})

    def run(self) -> _Steps:
        check, result = self.check, self.check.result
        result.scheme = "bearer"
        if check.anonymous:  # as a pull without credentials: a token per repository, no login, no push check
            yield from check.pulls(self._pull_auth)
            return
        if check.options.scheme == "https" and not self.realm.startswith("https://"):
            raise RegistryProblem(f"the Bearer realm {self.realm} is plain http while the registry is https; "
                                  "regcred does not send credentials in clear text")
        token, grant = yield from self.token(None)
        self._record_lifetime(grant)
        # As `docker login`: the registry itself must accept the token (a realm it does not trust fails here).
        ping = yield check.to_registry("GET", "/v2/", _bearer(token))
        if ping.status != 200:
            raise RegistryProblem(status_reason(ping.status, what="login with the token"))
        result.login = True
        yield from check.pulls(self._pull_auth)
        pushes: list[bool | None] = []
        for repo in check.target.repositories:
            token, grant = yield from self.token(_scope(repo, "pull,push"))
            actions = grant.actions_for(repo.path)
            if actions is None and check.options.probe_upload:
                pushes.append((yield from check.upload_probe(_bearer(token), repo)))
            else:
                pushes.append(None if actions is None else "push" in actions)
        if any(p is True for p in pushes):
            result.push_granted = True
        elif pushes and all(p is False for p in pushes):
            result.push_granted = False

    def _pull_auth(self, repo: RepositoryRef, actions: str) -> Generator[Request, Response, dict[str, str]]:
        token, _grant = yield from self.token(_scope(repo, actions))
        return _bearer(token)

    def _record_lifetime(self, grant: TokenGrant) -> None:
        try:
            moment = expires_at(grant, self.check.now)
        except TokenReplyError as exc:
            raise RegistryProblem(f"token request: {exc}") from None
        self.check.result.expires_in = grant.expires_in
        self.check.result.expires_at = moment

    def token_requests(self, scope: str | None) -> Iterator[Request]:
        """The token request (GET with Basic credentials), then the OAuth2 password form as fallback."""
        target = self.check.target
        params = [("service", self.service)] if self.service else []
        if scope:
            params.append(("scope", scope))
        if self.check.anonymous:  # no credentials, no account (as docker and containerd ask anonymously)
            yield Request("GET", self.realm, self.token_hosts, {}, tuple(params))
            return
        params.append(("account", target.username))
        yield Request("GET", self.realm, self.token_hosts, {"Authorization": self.check.basic}, tuple(params))
        form = {"grant_type": "password", "username": target.username, "password": target.password,
                "client_id": "regcred"}
        if self.service:
            form["service"] = self.service
        if scope:
            form["scope"] = scope
        yield Request("POST", self.realm, self.token_hosts, form=form)

    def token(self, scope: str | None) -> Generator[Request, Response, tuple[str, TokenGrant]]:
        """A token for `scope` (None: the login); on 404/405 to the GET, the POST form is tried."""
        what = "token request" if scope is None else f"token for {scope}"
        requests = self.token_requests(scope)
        reply = yield next(requests)
        if reply.status in (404, 405) and (post := next(requests, None)) is not None:
            reply = yield post
        if reply.status in (401, 403) and self.check.anonymous:
            raise RegistryProblem(f"{what}: {anonymous_refusal(reply.status)}")
        if reply.status != 200:
            raise RegistryProblem(status_reason(reply.status, what=what))
        try:
            return read_token_reply(reply.body)
        except TokenReplyError as exc:
            raise RegistryProblem(f"{what}: {exc}") from None


def _scope(repo: RepositoryRef, actions: str) -> str:
    return f"repository:{repo.path}:{actions}"


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}

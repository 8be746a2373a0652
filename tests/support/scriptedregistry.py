"""A scripted registry and token server for the auth flow's tests: each request the flow yields is answered
by a route, and every request is recorded; `run` drives the flow with it as the shell would (run_flow)."""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from regcred.core.verify.authflow import FlowOptions, Request, Response, check_flow, run_flow
from regcred.core.verify.plan import Target
from regcred.core.verify.repository import RepositoryRef
from regcred.core.verify.results import CheckResult
from tests.support.fakejwt import unsigned_jwt

NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
REG = "reg.example.com"
AUTH = "auth.example.com"
PASSWORD = "s3cret-Pw"
BASIC = "Basic " + base64.b64encode(f"alice:{PASSWORD}".encode()).decode()
APP = RepositoryRef("team/app", "v1")
LIB = RepositoryRef("team/lib", "v2")


def token_body(access: list[dict[str, object]] | None = None, **extra: object) -> bytes:
    """A token reply: a JWT with `access` (opaque when None) plus any other fields."""
    token = unsigned_jwt({"exp": 1767226200, "access": access}) if access is not None else "opaque-token"
    return json.dumps({"token": token, **extra}).encode()


def grant(repo: RepositoryRef, *actions: str) -> list[dict[str, object]]:
    return [{"type": "repository", "name": repo.path, "actions": list(actions)}]


@dataclass
class Registry:
    """A scripted registry and token server: `routes` maps (method, host, path) to a reply or a problem."""

    challenge: str | None = f'Bearer realm="https://{AUTH}/token",service="reg"'
    routes: dict[tuple[str, str, str], Callable[[Request], Response]] = field(default_factory=dict)
    sent: list[Request] = field(default_factory=list)

    def __call__(self, request: Request) -> Response:
        self.sent.append(request)
        parts = urlsplit(request.url)
        route = self.routes.get((request.method, parts.netloc, parts.path))
        if route is not None:
            return route(request)
        if parts.path == "/v2/" and request.method == "GET":
            return self.ping(request)
        raise AssertionError(f"unexpected {request.method} {request.url}")

    def ping(self, request: Request) -> Response:
        authorization = request.headers.get("Authorization", "")
        if authorization.startswith("Bearer ") or (authorization == BASIC and "Basic" in (self.challenge or "")):
            return Response(200)
        return Response(401, {"www-authenticate": self.challenge} if self.challenge else {})

    def route(self, method: str, host: str, path: str, reply: Response | Callable[[Request], Response]) -> None:
        self.routes[(method, host, path)] = reply if callable(reply) else (lambda _r: reply)

    def to(self, method: str, path: str) -> list[Request]:
        return [r for r in self.sent if r.method == method and urlsplit(r.url).path == path]


def run(registry: Registry, *repos: RepositoryRef, scheme: str = "https", probe_upload: bool = False,
        password: str = PASSWORD) -> CheckResult:
    flow = check_flow(Target(REG, "alice", password, repos), FlowOptions(scheme, probe_upload), now=NOW)
    result = run_flow(flow, registry)
    text = json.dumps([result.errors, repr(result)])
    assert password not in text and BASIC.split()[1] not in text  # no reason ever carries the secret
    return result


def manifests_ok(registry: Registry, *repos: RepositoryRef, status: int = 200) -> None:
    for repo in repos:
        registry.route("HEAD", REG, f"/v2/{repo.path}/manifests/{repo.reference}", Response(status))


def token_server(registry: Registry, body: Callable[[str | None], bytes], *, get_status: int = 200) -> None:
    """GET /token answers `body(scope)` (or get_status); the scope is read from the query."""

    def answer(request: Request) -> Response:
        if get_status != 200:
            return Response(get_status)
        scope = dict(request.params).get("scope")
        return Response(200, {}, body(scope))

    registry.route("GET", AUTH, "/token", answer)

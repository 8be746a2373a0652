"""The auth flow as an anonymous pull (a target without username and password): what the kubelet does when no
credential matches an image. No login, no credentials sent anywhere, a token asked for without an account, only
the pulls checked, and a refusal worded so that audit and why can tell it."""

from __future__ import annotations

import datetime as dt

from regcred.core.verify.authflow import FlowOptions, Response, check_flow, run_flow
from regcred.core.verify.plan import Target
from regcred.core.verify.repository import RepositoryRef
from regcred.core.verify.results import CheckResult
from tests.support.scriptedregistry import (
    APP,
    AUTH,
    LIB,
    REG,
    Registry,
    grant,
    manifests_ok,
    token_body,
    token_server,
)

NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def anonymous(registry: Registry, *repos: RepositoryRef) -> CheckResult:
    return run_flow(check_flow(Target(REG, "", "", repos), FlowOptions("https"), now=NOW), registry)


def test_basic_registry_refuses_each_repository_without_a_login() -> None:
    registry = Registry('Basic realm="reg"')
    manifests_ok(registry, APP, LIB, status=401)
    result = anonymous(registry, APP, LIB)
    assert result.scheme == "basic" and result.login is False
    assert result.pull == {APP.label: False, LIB.label: False}
    assert result.errors == [f"pull {APP.label}: 401 unauthorized: the registry refuses anonymous pulls",
                             f"pull {LIB.label}: 401 unauthorized: the registry refuses anonymous pulls"]
    assert all("Authorization" not in r.headers for r in registry.sent)
    assert len(registry.to("GET", "/v2/")) == 1  # the challenge only: no login attempt


def test_token_registry_gives_an_anonymous_token_without_access() -> None:
    registry = Registry()
    token_server(registry, lambda scope: token_body([]))  # anonymous: a token with no access
    manifests_ok(registry, APP, status=401)
    result = anonymous(registry, APP)
    assert result.scheme == "bearer" and result.pull == {APP.label: False}
    assert result.errors == [f"pull {APP.label}: 401 unauthorized: the registry refuses anonymous pulls"]
    [token] = registry.to("GET", "/token")
    assert "Authorization" not in token.headers
    assert dict(token.params) == {"service": "reg", "scope": "repository:team/app:pull"}  # no account
    assert registry.to("POST", "/token") == []  # the password form needs a password


def test_token_server_refusing_anonymous_requests() -> None:
    registry = Registry()
    token_server(registry, lambda scope: b"", get_status=401)
    result = anonymous(registry, APP)
    assert result.pull == {APP.label: False}
    assert result.errors == [f"pull {APP.label}: token for repository:team/app:pull: 401 unauthorized: the registry "
                             "refuses anonymous pulls"]


def test_public_repository_on_a_token_registry_pulls() -> None:
    registry = Registry()
    token_server(registry, lambda scope: token_body(grant(APP, "pull")))
    manifests_ok(registry, APP)
    result = anonymous(registry, APP)
    assert result.pull == {APP.label: True} and result.errors == [] and result.push_granted is None
    assert [r.url for r in registry.sent if r.method == "GET" and AUTH in r.url] == [f"https://{AUTH}/token"]


def test_open_registry_pulls_anonymously() -> None:
    registry = Registry(routes={})
    registry.ping = lambda _r: Response(200)  # type: ignore[method-assign]
    manifests_ok(registry, APP)
    assert anonymous(registry, APP).pull == {APP.label: True}

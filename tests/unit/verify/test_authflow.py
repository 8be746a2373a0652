"""The registry auth flow without any network: a scripted registry answers each request the flow yields.

Every decision is the flow's — challenge kinds, where the realm may be, GET then the POST form, `token`
or `access_token`, scopes per repository, push rights from the `access` claim — so each is tested here
exhaustively (failures and the redirect policy in test_authflow_failures), and the shell's tests only
check that requests really go out.
"""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import pytest

from regcred.core.verify.authflow import MANIFEST_ACCEPT, Request, Response
from tests.support.scriptedregistry import (
    APP,
    AUTH,
    BASIC,
    LIB,
    PASSWORD,
    REG,
    Registry,
    grant,
    manifests_ok,
    run,
    token_body,
    token_server,
)

# --- challenge kinds ------------------------------------------------------------------------------------


def test_anonymous_registry_pulls_without_credentials() -> None:
    registry = Registry(routes={})
    registry.ping = lambda _r: Response(200)  # type: ignore[method-assign]
    manifests_ok(registry, APP)
    result = run(registry, APP)
    assert (result.scheme, result.login, result.pull, result.errors) == ("none", True, {"team/app:v1": True}, [])
    [head] = registry.to("HEAD", "/v2/team/app/manifests/v1")
    assert "Authorization" not in head.headers and head.headers["Accept"] == MANIFEST_ACCEPT
    assert result.reachable and result.tls is True


def test_basic_login_and_pull_send_basic_credentials_to_the_registry_only() -> None:
    registry = Registry('Basic realm="reg"')
    manifests_ok(registry, APP)
    result = run(registry, APP, scheme="http")
    assert (result.scheme, result.login, result.pull, result.ok, result.tls) == ("basic", True, {APP.label: True},
                                                                               True, None)
    assert [r.headers.get("Authorization") for r in registry.sent] == [None, BASIC, BASIC]
    assert all(r.allowed_hosts == {REG} for r in registry.sent)
    assert result.push_granted is None  # Basic says nothing about push without --probe-upload


def test_basic_wrong_password_is_a_login_reason() -> None:
    result = run(Registry('Basic realm="reg"'), APP, password="wrong")
    assert not result.login and result.errors == ["login: 401 unauthorized: the registry rejected the credentials"]
    assert result.pull == {APP.label: False}


@pytest.mark.parametrize("probe_status", [401, 403])
def test_basic_upload_probe_denied_means_no_push(probe_status: int) -> None:
    registry = Registry('Basic realm="reg"')
    manifests_ok(registry, APP)
    registry.route("POST", REG, "/v2/team/app/blobs/uploads/", Response(probe_status))
    result = run(registry, APP, probe_upload=True)
    assert result.push_granted is False and result.ok


def test_basic_upload_probe_accepted_is_cancelled_at_once() -> None:
    registry = Registry('Basic realm="reg"')
    manifests_ok(registry, APP)
    registry.route("POST", REG, "/v2/team/app/blobs/uploads/",
                   Response(202, {"location": "/v2/team/app/blobs/uploads/u1?state=x"}, url=f"https://{REG}/v2/"))
    registry.route("DELETE", REG, "/v2/team/app/blobs/uploads/u1", Response(204))
    result = run(registry, APP, probe_upload=True)
    assert result.push_granted is True and result.over_privileged
    [cancel] = registry.to("DELETE", "/v2/team/app/blobs/uploads/u1")
    assert cancel.url == f"https://{REG}/v2/team/app/blobs/uploads/u1?state=x"
    assert cancel.headers["Authorization"] == BASIC


def test_upload_cancel_to_a_bad_location_is_a_reason_not_a_request() -> None:
    registry = Registry('Basic realm="reg"')
    manifests_ok(registry, APP)
    registry.route("POST", REG, "/v2/team/app/blobs/uploads/", Response(202, {"location": "http://[::1"}))
    result = run(registry, APP, probe_upload=True)
    assert result.push_granted is True
    assert any("could not cancel the upload session" in e and "not a valid URL" in e for e in result.errors)
    assert not registry.to("DELETE", "/v2/team/app/blobs/uploads/u1")


@pytest.mark.parametrize(
    ("challenge", "needle"),
    [
        ('Bearer realm="https://auth/token', "malformed WWW-Authenticate challenge: unterminated"),
        ("Bearer service=x", "without a realm"),
        ('Bearer realm="ftp://x/token"', "not an http(s) URL"),
        ('Bearer realm="http://[::1"', "the Bearer realm 'http://[::1' is not a valid URL"),
        ('Bearer realm="http://xn--zz/t"', "the Bearer realm 'http://xn--zz/t' names no valid host"),
        ('Bearer realm="https://a..b/t"', "names no valid host: an empty label"),
        ('Bearer realm="https://user:pw@auth/t"', "carries a user name and password (not shown)"),
        ('Digest realm="x", nonce="1"', "no Basic or Bearer"),
        (None, "401 without a WWW-Authenticate"),
    ],
)
def test_challenges_that_cannot_be_answered_send_no_credentials(challenge: str | None, needle: str) -> None:
    registry = Registry(challenge)
    result = run(registry, APP)
    assert result.reachable and not result.login
    [error] = result.errors
    assert needle in error
    assert [r.url for r in registry.sent] == [f"https://{REG}/v2/"]  # nothing else was sent


def test_bearer_preferred_over_basic_when_both_are_offered() -> None:
    registry = Registry(f'Basic realm="reg", Bearer realm="https://{AUTH}/token"')
    token_server(registry, lambda _s: token_body([]))
    result = run(registry)
    assert result.scheme == "bearer" and result.login


def test_non_401_ping_is_a_status_reason() -> None:
    registry = Registry()
    registry.ping = lambda _r: Response(503)  # type: ignore[method-assign]
    assert run(registry).errors == ["GET /v2/: 503 server error at the registry"]


# --- Bearer: realm, token requests, scopes ---------------------------------------------------------------


def test_bearer_token_request_goes_to_the_realm_on_another_host_with_basic_credentials() -> None:
    registry = Registry()
    token_server(registry, lambda scope: token_body(grant(APP, "pull") if scope else []))
    manifests_ok(registry, APP)
    result = run(registry, APP)
    assert result.scheme == "bearer" and result.login and result.pull == {APP.label: True}
    tokens = registry.to("GET", "/token")
    assert all(r.url == f"https://{AUTH}/token" and r.headers["Authorization"] == BASIC for r in tokens)
    assert all(r.allowed_hosts == {AUTH, REG} for r in tokens)  # a redirect may stay within realm and registry
    assert [dict(r.params).get("scope") for r in tokens] == [None, "repository:team/app:pull",
                                                             "repository:team/app:pull,push"]
    assert all(dict(r.params)["service"] == "reg" and dict(r.params)["account"] == "alice" for r in tokens)
    registry_requests = [r for r in registry.sent if urlsplit(r.url).netloc == REG]
    assert all(r.allowed_hosts == {REG} for r in registry_requests)
    assert all(r.headers.get("Authorization") != BASIC for r in registry_requests)  # Bearer only at the registry


def test_no_service_parameter_is_sent_when_the_challenge_has_none() -> None:
    registry = Registry(f'Bearer realm="https://{AUTH}/token"')
    token_server(registry, lambda _s: token_body([]))
    run(registry)
    [login] = registry.to("GET", "/token")
    assert login.params == (("account", "alice"),)


@pytest.mark.parametrize("status", [404, 405])
def test_post_form_fallback_when_the_realm_refuses_get(status: int) -> None:
    registry = Registry()
    token_server(registry, lambda _s: b"", get_status=status)
    forms: list[dict[str, str]] = []

    def post(request: Request) -> Response:
        forms.append(dict(request.form or {}))
        return Response(200, {}, token_body(grant(APP, "pull")))

    registry.route("POST", AUTH, "/token", post)
    manifests_ok(registry, APP)
    result = run(registry, APP)
    assert result.login and result.pull == {APP.label: True}
    assert forms[0] == {"grant_type": "password", "username": "alice", "password": PASSWORD, "client_id": "regcred",
                        "service": "reg"}
    assert forms[1]["scope"] == "repository:team/app:pull"
    assert all("Authorization" not in r.headers for r in registry.to("POST", "/token"))
    assert "password" not in repr(registry.to("POST", "/token")[0])  # the form is kept out of repr


def test_post_fallback_not_tried_on_other_statuses() -> None:
    registry = Registry()
    token_server(registry, lambda _s: b"", get_status=401)
    result = run(registry)
    assert result.errors == ["token request: 401 unauthorized: the registry rejected the credentials"]
    assert not registry.to("POST", "/token")


@pytest.mark.parametrize("field_name", ["token", "access_token"])
def test_token_or_access_token_field(field_name: str) -> None:
    registry = Registry()
    seen: list[str] = []
    registry.route("GET", AUTH, "/token", Response(200, {}, json.dumps({field_name: "tok-1"}).encode()))

    def ping(request: Request) -> Response:
        seen.append(request.headers.get("Authorization", ""))
        return Response(200) if request.headers.get("Authorization") == "Bearer tok-1" else Response(
            401, {"www-authenticate": registry.challenge or ""})

    registry.ping = ping  # type: ignore[method-assign]
    assert run(registry).login and seen[-1] == "Bearer tok-1"


def test_plain_http_realm_of_an_https_registry_is_refused_before_any_token_request() -> None:
    registry = Registry(f'Bearer realm="http://{AUTH}/token"')
    result = run(registry, APP)
    assert "plain http while the registry is https" in result.errors[0]
    assert not registry.to("GET", "/token") and not result.login


def test_plain_http_realm_is_fine_for_a_plain_http_registry() -> None:
    registry = Registry(f'Bearer realm="http://{AUTH}/token"')
    registry.route("GET", AUTH, "/token", Response(200, {}, token_body([])))
    assert run(registry, scheme="http").login


def test_token_the_registry_does_not_accept_is_not_a_login() -> None:
    registry = Registry()
    token_server(registry, lambda _s: token_body([]))
    registry.ping = lambda r: Response(401, {"www-authenticate": registry.challenge or ""})  # type: ignore[method-assign]
    result = run(registry, APP)
    assert not result.login and result.errors[0].startswith("login with the token: 401")


def test_login_ok_but_pull_401_says_insufficient_scope() -> None:
    registry = Registry()
    token_server(registry, lambda _s: token_body([]))
    manifests_ok(registry, APP, status=401)
    result = run(registry, APP)
    assert result.login and result.pull == {APP.label: False}
    assert "the login works but this credential may not pull it" in result.errors[0]


# --- push rights from the token's access claim ----------------------------------------------------------


@pytest.mark.parametrize(
    ("actions", "push"),
    [(("pull",), False), (("pull", "push"), True), (("*",), True)],
)
def test_push_scope_is_read_from_the_access_claim(actions: tuple[str, ...], push: bool) -> None:
    registry = Registry()
    token_server(registry, lambda scope: token_body(
        grant(APP, *actions) if scope and scope.endswith("pull,push") else grant(APP, "pull")))
    manifests_ok(registry, APP)
    result = run(registry, APP)
    assert result.push_granted is push and result.over_privileged is push and result.ok is not push
    assert not registry.to("POST", "/v2/team/app/blobs/uploads/")  # never probed when the claim says it


def test_push_on_any_repository_is_over_privileged() -> None:
    registry = Registry()
    token_server(registry, lambda scope: token_body(
        grant(LIB, "pull", "push") if scope == "repository:team/lib:pull,push" else grant(APP, "pull")))
    manifests_ok(registry, APP, LIB)
    assert run(registry, APP, LIB).push_granted is True


def test_opaque_token_leaves_push_unknown_unless_probed() -> None:
    registry = Registry()
    token_server(registry, lambda _s: token_body(None, expires_in=60))
    manifests_ok(registry, APP)
    registry.route("POST", REG, "/v2/team/app/blobs/uploads/", Response(403))
    result = run(registry, APP)
    assert result.push_granted is None and result.expires_in == 60 and result.expires_at == "2026-01-01T00:01:00Z"
    result = run(registry, APP, probe_upload=True)
    assert result.push_granted is False
    [probe] = registry.to("POST", "/v2/team/app/blobs/uploads/")
    assert probe.headers["Authorization"] == "Bearer opaque-token"


def test_jwt_exp_gives_the_expiry() -> None:
    registry = Registry()
    token_server(registry, lambda _s: token_body([]))
    assert run(registry).expires_at == "2026-01-01T00:10:00Z"

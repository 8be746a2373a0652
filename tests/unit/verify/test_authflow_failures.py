"""The auth flow when things go wrong: values a registry controls, requests the shell could not send, and the
redirect policy the shell applies to every request. Each is that registry's reason, never an exception."""

from __future__ import annotations

import json

import pytest

from regcred.core.verify.authflow import FlowOptions, Request, Response, check_flow, next_hop, run_flow
from regcred.core.verify.plan import Target
from regcred.core.verify.results import RegistryProblem
from tests.support.fakejwt import jwt_with_payload, unsigned_jwt
from tests.support.scriptedregistry import (
    APP,
    AUTH,
    BASIC,
    LIB,
    NOW,
    PASSWORD,
    REG,
    Registry,
    manifests_ok,
    run,
    token_server,
)

# --- values a registry controls: that registry's result, naming what it sent ----------------------------


def _deep(levels: int) -> str:
    return "[" * levels + "]" * levels


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        (json.dumps({"token": unsigned_jwt({"exp": 1e308})}), "token endpoint sent exp 1e+308"),
        (json.dumps({"token": unsigned_jwt({"exp": -1e15})}), "token endpoint sent exp -1e+15"),
        (json.dumps({"token": "t", "expires_in": 1e20}), "token endpoint sent expires_in 1e+20"),
        ('{"token": "t", "expires_in": NaN}', "token endpoint sent expires_in nan"),
        ('{"token": "t", "expires_in": Infinity}', "token endpoint sent expires_in inf"),
        (json.dumps({"token": "t", "expires_in": 300, "issued_at": "9999-12-31T23:59:59Z"}),
         "issued_at '9999-12-31T23:59:59Z' and expires_in 300: that expiry is past the year 9999"),
        ('{"token": "t", "x": ' + _deep(100_000) + "}", "token endpoint reply is nested too deeply"),
        (json.dumps({"token": jwt_with_payload('{"access": ' + _deep(100_000) + "}")}),
         "the token's claims is nested too deeply"),
        (json.dumps({"token": "t\r\nX-Injected: 1"}), "characters an HTTP header cannot carry"),
        (json.dumps({"token": "tök"}), "characters an HTTP header cannot carry"),
    ],
)
def test_token_values_out_of_range_are_that_registrys_error(body: str, needle: str) -> None:
    registry = Registry()
    token_server(registry, lambda _s: body.encode())
    result = run(registry, APP)
    assert not result.login and result.pull == {APP.label: False}
    [error] = result.errors
    assert error.startswith("token request: ") and needle in error


# --- transport failures thrown in by the shell ------------------------------------------------------------


class Deadline(RegistryProblem):
    ends_check = True


def test_a_failed_pull_request_is_that_repositorys_reason_and_the_others_go_on() -> None:
    registry = Registry('Basic realm="reg"')
    manifests_ok(registry, LIB)

    def fail(_request: Request) -> Response:
        raise RegistryProblem("connection reset by reg.example.com")

    registry.route("HEAD", REG, "/v2/team/app/manifests/v1", fail)
    result = run(registry, APP, LIB)
    assert result.pull == {APP.label: False, LIB.label: True}
    assert result.errors == ["pull team/app:v1: connection reset by reg.example.com"]


def test_a_passed_deadline_ends_the_check_once() -> None:
    registry = Registry('Basic realm="reg"')

    def late(_request: Request) -> Response:
        raise Deadline("timeout: the check passed its 3s deadline")

    registry.route("HEAD", REG, "/v2/team/app/manifests/v1", late)
    result = run(registry, APP, LIB)
    assert result.errors == ["timeout: the check passed its 3s deadline"]
    assert result.pull == {APP.label: False, LIB.label: False} and result.login
    assert not registry.to("HEAD", "/v2/team/lib/manifests/v2")  # nothing sent after the deadline


def test_unreachable_registry_keeps_reachable_false_and_tls_verdict() -> None:
    def refuse(_request: Request) -> Response:
        raise RegistryProblem("TLS error with reg.example.com", reachable=True, tls=False)

    result = run_flow(check_flow(Target(REG, "alice", PASSWORD), FlowOptions(), now=NOW), refuse)
    assert result.errors == ["TLS error with reg.example.com"] and result.tls is False and result.reachable


# --- the redirect policy the shell applies ------------------------------------------------------------------


def _request(url: str = f"https://{REG}/v2/", hosts: frozenset[str] = frozenset({REG}), **kw: object) -> Request:
    return Request("GET", url, hosts, {"Authorization": BASIC}, **kw)  # type: ignore[arg-type]


def test_same_host_redirect_is_followed_with_the_same_credentials_and_no_query_params() -> None:
    hop = next_hop(_request(params=(("scope", "x"),)), 307, "/v2/?moved=1", f"https://{REG}/v2/")
    assert hop.url == f"https://{REG}/v2/?moved=1" and hop.headers["Authorization"] == BASIC and hop.params == ()


@pytest.mark.parametrize(("location", "needle"), [
    ("https://elsewhere.io/v2/", "redirected to another host (elsewhere.io)"),
    (f"https://{REG}:8443/v2/", f"redirected to another host ({REG}:8443)"),
    (f"http://{REG}/v2/", "redirected from https to plain http"),
    ("http://[::1", "redirected to 'http://[::1' is not a valid URL"),
    ("https://xn--zz/t", "names no valid host"),
    ("ftp://reg/x", "not an http(s) URL"),
])
def test_redirects_that_are_refused(location: str, needle: str) -> None:
    with pytest.raises(RegistryProblem, match=needle.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")):
        next_hop(_request(), 302, location, f"https://{REG}/v2/")


def test_realm_redirects_may_reach_the_realm_host_only() -> None:
    hosts = frozenset({AUTH, REG})
    token = _request(f"https://{AUTH}/token", hosts)
    assert next_hop(token, 302, f"https://{REG}/token", token.url).url == f"https://{REG}/token"
    with pytest.raises(RegistryProblem, match="another host"):
        next_hop(token, 302, "https://third.io/token", token.url)


def test_303_turns_a_post_into_a_get_without_its_form() -> None:
    post = Request("POST", f"https://{AUTH}/token", frozenset({AUTH}), form={"password": PASSWORD})
    hop = next_hop(post, 303, "/token2", post.url)
    assert (hop.method, hop.form) == ("GET", None)
    kept = next_hop(post, 307, "/token2", post.url)
    assert (kept.method, kept.form) == ("POST", {"password": PASSWORD})


def test_plain_http_redirects_within_plain_http_are_followed() -> None:
    hop = next_hop(_request(f"http://{REG}/v2/"), 301, f"http://{REG}/v2/x", f"http://{REG}/v2/")
    assert hop.url == f"http://{REG}/v2/x"

"""Per-registry isolation, through the real entry point: a key no client can contact, or values a registry
controls (a token's lifetime, a nested body, a realm), are that registry's result; the others are checked
as usual, and nothing ends the run. A bad key the user typed is a usage error (exit 2, one line)."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest
import yaml

from regcred.localregistry.registry import RegistryServer
from tests.support.auditobjects import deployment, pull_secret
from tests.support.cli import assert_clean_error, run_regcred
from tests.support.fakejwt import jwt_with_payload, unsigned_jwt
from tests.support.fakeregistry import BASIC, PASSWORD, FakeServer, Reply, Route, basic_registry
from tests.support.fixtures import HTPASSWD_USERS

# (a port out of range, `r.io:99999`, is refused as an invalid key first: tests/cli/node/test_node_messages.py)
BAD_KEYS = ["xn--zz.io", "a..b", "a" * 64 + ".io", "[zz]:5000", "a\ufffdb.io", "a\u200bb.io", "999.1.1.1"]
DEEP = "[" * 100_000 + "]" * 100_000


def run_file(tmp_path: Path, auths: dict[str, Any], *extra: str) -> tuple[int, dict[str, dict[str, Any]], str]:
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"auths": auths}, ensure_ascii=False), encoding="utf-8")
    result = run_regcred("verify", "--file", config, "--insecure-http", "--timeout", "5", "-o", "json", *extra)
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr, result.stderr
    assert PASSWORD not in result.stdout + result.stderr and BASIC not in result.stdout + result.stderr
    return result.returncode, {r["key"]: r for r in json.loads(result.stdout)["results"]}, result.stderr


# --- item: keys `auth add` accepts but no client can contact --------------------------------------------


@pytest.mark.parametrize("key", BAD_KEYS)
def test_a_bad_server_argument_is_a_usage_error(key: str) -> None:
    result = run_regcred("verify", key, "-u", "a", "--password-env", "PW", env={"PW": PASSWORD})
    assert_clean_error(result, 2, "names no host a client can contact")


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "1e400", "NaN", "1e300"])
def test_timeout_must_be_a_finite_number_of_seconds(value: str) -> None:
    for command in (("verify", "r.io", "-u", "a", "--password-env", "PW"), ("audit", "-f", "-", "--verify")):
        result = run_regcred(*command, "--timeout", value, env={"PW": PASSWORD})
        assert_clean_error(result, 2, "--timeout")


@pytest.mark.parametrize("value", ["nan", "inf", "1e400"])
def test_qps_must_be_a_finite_rate(value: str) -> None:
    """Every cluster command shares --qps: a NaN rate would make the token bucket wait forever or never."""
    result = run_regcred("sa", "attach", "pull", "--qps", value)
    assert_clean_error(result, 2, "--qps")


def test_bad_keys_in_a_file_are_their_own_rows_and_the_others_are_checked(
        serve: Callable[[Route], FakeServer], tmp_path: Path) -> None:
    good = serve(basic_registry())
    code, rows, _ = run_file(tmp_path, {good.host: {"auth": BASIC}, **{k: {"auth": BASIC} for k in BAD_KEYS}})
    assert code == 1
    assert rows[good.host]["ok"] is True
    for key in BAD_KEYS:
        assert rows[key]["ok"] is False and "names no host a client can contact" in rows[key]["error"], key


# --- item: values a registry controls --------------------------------------------------------------------


def token_registry(serve: Callable[[Route], FakeServer], token_reply: bytes) -> FakeServer:
    """A registry whose realm (a second fake) answers every token request with `token_reply`."""
    realm = serve(lambda h: (200, {"Content-Type": "application/json"}, token_reply))

    def route(h: BaseHTTPRequestHandler) -> Reply:
        if (h.headers.get("Authorization") or "").startswith("Bearer "):
            return 200, {}, b"{}"
        return 401, {"WWW-Authenticate": f'Bearer realm="http://{realm.host}/token",service="s"'}, b"{}"

    return serve(route)


HOSTILE_TOKENS = [
    (json.dumps({"token": unsigned_jwt({"exp": 1e308})}), "exp 1e+308"),
    (json.dumps({"token": unsigned_jwt({"exp": -1e15})}), "exp -1e+15"),
    (json.dumps({"token": "t", "expires_in": 1e20}), "expires_in 1e+20"),
    ('{"token": "t", "expires_in": NaN}', "expires_in nan"),
    (json.dumps({"token": "t", "expires_in": 60, "issued_at": "9999-12-31T23:59:30Z"}), "issued_at '9999-12-31"),
    ('{"token": "t", "padding": ' + DEEP + "}", "reply is nested too deeply"),
    (json.dumps({"token": jwt_with_payload('{"access": ' + DEEP + "}")}), "claims is nested too deeply"),
    (json.dumps({"token": "t\nX: y"}), "characters an HTTP header cannot carry"),
]


@pytest.mark.parametrize(("reply", "needle"), HOSTILE_TOKENS, ids=[n for _r, n in HOSTILE_TOKENS])
def test_token_values_a_registry_sends_are_its_own_error(serve: Callable[[Route], FakeServer], tmp_path: Path,
                                                         reply: str, needle: str) -> None:
    hostile = token_registry(serve, reply.encode())
    good = serve(basic_registry())
    code, rows, _ = run_file(tmp_path, {hostile.host: {"auth": BASIC}, good.host: {"auth": BASIC}})
    assert code == 1
    assert rows[good.host]["ok"] is True
    assert rows[hostile.host]["ok"] is False and needle in rows[hostile.host]["error"]


@pytest.mark.parametrize(("realm", "needle"), [
    ("http://[::1", "the Bearer realm 'http://[::1' is not a valid URL"),
    ("http://xn--zz/t", "the Bearer realm 'http://xn--zz/t' names no valid host"),
    ("http://a..b/t", "names no valid host"),
    ("http://999.1.1.1/t", "an invalid IPv4 address"),
])
def test_a_realm_no_client_can_contact_is_that_registrys_error(serve: Callable[[Route], FakeServer],
                                                                tmp_path: Path, realm: str, needle: str) -> None:
    hostile = serve(lambda h: (401, {"WWW-Authenticate": f'Bearer realm="{realm}"'}, b"{}"))
    good = serve(basic_registry())
    code, rows, _ = run_file(tmp_path, {hostile.host: {"auth": BASIC}, good.host: {"auth": BASIC}})
    assert code == 1 and rows[good.host]["ok"] is True
    assert needle in rows[hostile.host]["error"]
    assert not any(auth for _m, _p, auth in hostile.seen)


@pytest.mark.parametrize(("location", "needle"), [
    ("http://[::1", "redirected to a URL no client can follow (its Location header)"),
    ("http://xn--zz/t", "sent a reply no client can use (IDNAError, for example a Location header"),
])
def test_a_redirect_no_client_can_follow_is_that_registrys_error(serve: Callable[[Route], FakeServer],
                                                                  tmp_path: Path, location: str, needle: str) -> None:
    hostile = serve(basic_registry(lambda h: (302, {"Location": location}, b"")))
    good = serve(basic_registry())
    code, rows, _ = run_file(tmp_path, {hostile.host: {"auth": BASIC}, good.host: {"auth": BASIC}})
    assert code == 1 and rows[good.host]["ok"] is True
    assert needle in rows[hostile.host]["error"]


def test_audit_verify_isolates_a_hostile_registry_too(serve: Callable[[Route], FakeServer], tmp_path: Path) -> None:
    hostile = token_registry(serve, json.dumps({"token": unsigned_jwt({"exp": 1e308})}).encode())
    good = serve(basic_registry(lambda h: (200, {}, b"{}")))
    objects = [
        pull_secret("hostile", "app", {hostile.host: {"auth": BASIC}}),
        pull_secret("good", "app", {good.host: {"auth": BASIC}}),
        deployment("a", "app", f"{hostile.host}/team/a:v1", secrets=("hostile",)),
        deployment("b", "app", f"{good.host}/team/b:v1", secrets=("good",)),
    ]
    manifest = tmp_path / "m.yaml"
    manifest.write_text(yaml.safe_dump_all(objects))
    result = run_regcred("audit", "-f", manifest, "--verify", "--insecure-http", "--timeout", "5", "-o", "json")
    assert "Traceback" not in result.stderr and PASSWORD not in result.stdout + result.stderr
    assert result.returncode == 1, result.stderr
    rejected = {f["object"]: f["message"] for f in json.loads(result.stdout)["findings"]
                if f["code"] == "credential-rejected"}
    assert list(rejected) == ["Secret/app/hostile"] and "exp 1e+308" in rejected["Secret/app/hostile"]


@pytest.mark.real
def test_a_hostile_registry_beside_a_real_one(registry_htpasswd: RegistryServer, serve: Callable[[Route], FakeServer],
                                              tmp_path: Path) -> None:
    """The real docker-registry is checked as usual while its neighbour sends an expiry no calendar holds."""
    hostile = token_registry(serve, json.dumps({"token": "t", "expires_in": 1e20}).encode())
    alice = base64.b64encode(f"alice:{HTPASSWD_USERS['alice']}".encode()).decode()
    code, rows, _ = run_file(tmp_path, {hostile.host: {"auth": BASIC}, registry_htpasswd.host: {"auth": alice}},
                             "--repository", "team/app:v1")
    assert code == 1
    assert rows[registry_htpasswd.host]["ok"] is True and rows[registry_htpasswd.host]["pull"] == {"team/app:v1": True}
    assert "expires_in 1e+20" in rows[hostile.host]["error"]
    assert HTPASSWD_USERS["alice"] not in json.dumps(rows)


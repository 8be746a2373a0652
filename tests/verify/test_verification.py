"""The pure rules of verification: repository options, keys, token replies, lifetimes, planning."""

from __future__ import annotations

import base64
import datetime as dt
import json

import pytest

from regcred.core.errors import InputError
from regcred.core.node.runtimes import runtime_host
from regcred.core.verify.verification import (
    CheckRequest,
    CheckResult,
    RepositoryRef,
    TokenGrant,
    TokenReplyError,
    decode_jwt_payload,
    expires_at,
    parse_repository_option,
    plan_checks,
    read_token_reply,
    registry_of_key,
    repositories_for,
    result_json,
    row_json,
    status_reason,
)

NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def _jwt(claims: dict[str, object]) -> str:
    def enc(obj: object) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    return f"{enc({'alg': 'RS256'})}.{enc(claims)}.c2ln"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("team/app", RepositoryRef("team/app", "latest")),
        ("team/app:v1", RepositoryRef("team/app", "v1")),
        ("reg.example.com:5000/team/app:v1", RepositoryRef("team/app", "v1", "reg.example.com:5000")),
        ("localhost/x", RepositoryRef("x", "latest", "localhost")),
        ("Mirror/team/app:v1", RepositoryRef("team/app", "v1", "Mirror")),  # upper case: a host, as in an image
        ("docker.io/nginx:1.25", RepositoryRef("library/nginx", "1.25", "registry-1.docker.io")),
        ("team/app@sha256:" + "a" * 64, RepositoryRef("team/app", "sha256:" + "a" * 64, None, True)),
    ],
)
def test_repository_option(value: str, expected: RepositoryRef) -> None:
    assert parse_repository_option(value) == expected


def test_repository_labels() -> None:
    assert parse_repository_option("team/app:v1").label == "team/app:v1"
    assert parse_repository_option("team/app@sha256:" + "b" * 64).label == "team/app@sha256:" + "b" * 64


@pytest.mark.parametrize("value", ["", "team/ app", "/x", "x/", "a//b", "team/app:", "Team/App:v1", "team/app:-v1",
                                   "team/app@sha256:xyz", "team/app:v1:v2", "team/app@"])
def test_bad_repository_option(value: str) -> None:
    with pytest.raises(InputError, match="invalid --repository"):
        parse_repository_option(value)


def test_repositories_for_keeps_unqualified_and_matching_ones_once() -> None:
    refs = [parse_repository_option(v) for v in ("a:1", "r1.io/b:2", "r2.io/c:3", "a:1")]
    assert [r.label for r in repositories_for("r1.io", refs)] == ["a:1", "b:2"]


@pytest.mark.parametrize(
    ("key", "registry"),
    [
        ("https://index.docker.io/v1/", "registry-1.docker.io"),
        ("docker.io", "registry-1.docker.io"),
        ("http://reg.example.com:5000/v2/", "reg.example.com:5000"),
        ("quay.io/team", "quay.io"),
        ("[::1]:5000", "[::1]:5000"),  # an IPv6 literal is a host, not a glob (as in the keyring)
        ("https://[fd00::5]:443/v2/", "[fd00::5]:443"),
    ],
)
def test_registry_of_key(key: str, registry: str) -> None:
    assert registry_of_key(key) == registry
    assert runtime_host(key) == registry  # what a runtime contacts is what verify contacts


@pytest.mark.parametrize(("key", "needle"), [("*.example.com", "wildcard"), ("reg[0-9].io", "wildcard"),
                                           ("host:abc", "not a URL")])
def test_unverifiable_keys(key: str, needle: str) -> None:
    with pytest.raises(InputError, match=needle):
        registry_of_key(key)


def test_status_reasons_name_the_cause() -> None:
    assert "401" in status_reason(401, what="login") and "rejected the credentials" in status_reason(401, what="x")
    assert "403 denied" in status_reason(403, what="x")
    assert "repository or tag unknown" in status_reason(404, what="x")
    assert "rate limited" in status_reason(429, what="x")
    assert "503 server error" in status_reason(503, what="x")
    assert "unexpected HTTP status 418" in status_reason(418, what="x")


def test_token_reply_with_jwt_reads_exp_and_access_not_verified() -> None:
    token = _jwt({"exp": 1767225900, "access": [{"type": "repository", "name": "team/app", "actions": ["pull", "push"]},
                                                {"type": "repository", "name": "other", "actions": ["pull"]}]})
    got, grant = read_token_reply(json.dumps({"token": token, "expires_in": 300}).encode())
    assert got == token
    assert grant.actions_for("team/app") == {"pull", "push"}
    assert grant.actions_for("nothing") == frozenset()
    assert expires_at(grant, NOW) == "2026-01-01T00:05:00Z"


def test_opaque_token_has_unknown_access_and_lifetime_from_expires_in() -> None:
    _token, grant = read_token_reply(b'{"access_token": "opaque", "expires_in": 60, "issued_at": "2026-01-01T10:00:00Z"}')
    assert grant.access is None and grant.actions_for("x") is None
    assert expires_at(grant, NOW) == "2026-01-01T10:01:00Z"
    _token, grant = read_token_reply(b'{"token": "opaque"}')
    assert expires_at(grant, NOW) is None


@pytest.mark.parametrize(
    ("body", "needle"),
    [(b"<html>", "not JSON"), (b"[1]", "not an object"), (b'{"token": ""}', "no 'token'"), (b"\xff\xfe", "not JSON")],
)
def test_bad_token_replies_never_quote_the_body(body: bytes, needle: str) -> None:
    with pytest.raises(TokenReplyError, match=needle) as info:
        read_token_reply(body)
    assert "html" not in str(info.value)


def test_decode_jwt_payload_reads_the_claims_unverified() -> None:
    assert decode_jwt_payload(_jwt({"x": 1, "access": []})) == {"x": 1, "access": []}


@pytest.mark.parametrize("token", [
    "opaque",
    "a.b",
    "a.!!!.c",
    "{}.e30.{}.{}".format(*_jwt({"x": 1}).split(".")),  # four segments, each one decodes: still not a JWS
    "..x",
    "{}.WzFd.{}".format(*_jwt({"x": 1}).split(".")[::2]),  # the payload decodes to [1], not an object
])
def test_decode_jwt_payload_is_none_for_non_jwts(token: str) -> None:
    assert decode_jwt_payload(token) is None


def test_over_privileged_result_is_not_ok_and_says_why() -> None:
    result = CheckResult("r", reachable=True, login=True, pull={"a:1": True}, push_granted=True)
    data = result_json("k", result)
    assert data["ok"] is False and data["over_privileged"] is True
    assert "over-privileged" in data["error"]
    assert set(data) >= {"key", "registry", "ok", "login", "pull", "push_granted", "expires_at", "error"}
    assert result_json("k", CheckResult("r", login=True, push_granted=False))["ok"] is True
    assert result_json("k", CheckResult("r", login=True, pull={"a:1": False}))["ok"] is False


def test_plan_checks_verifies_each_registry_and_credential_once() -> None:
    ref = RepositoryRef("team/app", "v1")
    requests = [
        CheckRequest("reg.io", "u", "p", (ref,)),
        CheckRequest("https://reg.io/v2/", "u", "p", (ref,)),  # same registry + credential
        CheckRequest("reg.io", "u", "other", (ref,)),
        CheckRequest("*.io", "u", "p"),
        CheckRequest("empty.io", "", ""),
    ]
    targets, rows = plan_checks(requests)
    assert [(t.registry, t.username) for t in targets] == [("reg.io", "u"), ("reg.io", "u")]
    assert [r.target for r in rows] == [0, 0, 1, None, None]
    assert "wildcard" in (rows[3].error or "") and "no username or password" in (rows[4].error or "")
    assert "password" not in repr(targets[0]) and "other" not in repr(targets[1])  # kept out of repr
    results = [CheckResult("reg.io", login=True, pull={"team/app:v1": True}), CheckResult("reg.io")]
    rendered = [row_json(r, results) for r in rows]
    assert [r["ok"] for r in rendered] == [True, True, False, False, False]
    assert rendered[3]["error"].startswith("registry key '*.io' is a wildcard")


def test_docker_hub_official_images_are_under_library() -> None:
    refs = [parse_repository_option("nginx:1.25"), parse_repository_option("team/app")]
    hub = repositories_for("registry-1.docker.io", refs)
    assert [r.label for r in hub] == ["library/nginx:1.25", "team/app:latest"]
    assert [r.label for r in repositories_for("reg.example.com", refs)] == ["nginx:1.25", "team/app:latest"]


def test_star_action_grants_push() -> None:
    grant = TokenGrant(None, None, None, (("repository", "team/app", frozenset({"*"})),))
    assert grant.actions_for("team/app") >= {"pull", "push"}
    assert grant.actions_for("other") == frozenset()

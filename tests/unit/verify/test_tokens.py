"""Token endpoint replies: the token, its lifetime and access claims, read without verification."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from regcred.core.verify.tokens import (
    TokenGrant,
    TokenReplyError,
    decode_jwt_payload,
    expires_at,
    read_token_reply,
)
from tests.support.fakejwt import jwt_with_payload
from tests.support.fakejwt import unsigned_jwt as _jwt

NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


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


def test_star_action_grants_push() -> None:
    grant = TokenGrant(None, None, None, (("repository", "team/app", frozenset({"*"})),))
    assert grant.actions_for("team/app") >= {"pull", "push"}
    assert grant.actions_for("other") == frozenset()



@pytest.mark.parametrize(("body", "needle"), [
    (json.dumps({"token": _jwt({"exp": 1e308})}), "exp 1e+308, which is not a usable time"),
    (json.dumps({"token": _jwt({"exp": -1e15})}), "exp -1e+15"),
    (json.dumps({"token": _jwt({"exp": 10**400})}), "exp 1e+400"),
    (json.dumps({"token": "t", "expires_in": 1e20}), "expires_in 1e+20"),
    (json.dumps({"token": "t", "expires_in": -5}), "expires_in -5"),
    ('{"token": "t", "expires_in": NaN}', "expires_in nan"),
    ('{"token": "t", "expires_in": -Infinity}', "expires_in -inf"),
    ('{"token": "t", "x": ' + "[" * 100_000 + "]" * 100_000 + "}", "reply is nested too deeply"),
    (json.dumps({"token": "t\r\nSet-Cookie: x"}), "characters an HTTP header cannot carry"),
    (json.dumps({"token": "t t"}), "characters an HTTP header cannot carry"),
])
def test_values_out_of_range_name_what_was_sent(body: str, needle: str) -> None:
    with pytest.raises(TokenReplyError, match=needle.replace("+", r"\+")):
        read_token_reply(body.encode())


def test_claims_nested_too_deeply_are_an_error_not_a_crash() -> None:
    token = jwt_with_payload('{"access": ' + "[" * 100_000 + "]" * 100_000 + "}")
    with pytest.raises(TokenReplyError, match="the token's claims is nested too deeply"):
        read_token_reply(json.dumps({"token": token}).encode())


@pytest.mark.parametrize("issued_at", ["9999-12-31T23:59:59Z", "9999-12-31T20:00:00-05:00"])
def test_an_expiry_past_the_calendar_is_an_error(issued_at: str) -> None:
    _token, grant = read_token_reply(json.dumps({"token": "t", "expires_in": 3600, "issued_at": issued_at}).encode())
    with pytest.raises(TokenReplyError, match="past the year 9999"):
        expires_at(grant, NOW)


def test_edges_of_the_calendar_are_fine() -> None:
    _token, grant = read_token_reply(json.dumps({"token": _jwt({"exp": 253402300799})}).encode())
    assert expires_at(grant, NOW) == "9999-12-31T23:59:59Z"
    _token, grant = read_token_reply(json.dumps({"token": _jwt({"exp": 0, "access": [{"name": 5}]})}).encode())
    assert expires_at(grant, NOW) == "1970-01-01T00:00:00Z" and grant.access == (("", "", frozenset()),)
    _token, grant = read_token_reply(b'{"token": "t", "expires_in": 1.5, "issued_at": "not a time"}')
    assert expires_at(grant, NOW) == "2026-01-01T00:00:01Z"  # an unreadable issued_at falls back to now

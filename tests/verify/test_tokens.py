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
from tests.verify.fakejwt import unsigned_jwt as _jwt

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


"""WWW-Authenticate parsing: the shapes registries send, and malformed headers refused with a reason."""

from __future__ import annotations

import pytest

from regcred.core.verify.challenge import (
    Challenge,
    ChallengeError,
    bearer_parameters,
    parse_challenges,
    select_challenge,
)


def test_distribution_bearer_challenge() -> None:
    [c] = parse_challenges('Bearer realm="http://127.0.0.1:5001/token",service="reg",scope="repository:team/app:pull"')
    assert c.scheme == "bearer"
    assert c.params == {"realm": "http://127.0.0.1:5001/token", "service": "reg", "scope": "repository:team/app:pull"}
    assert bearer_parameters(c) == ("http://127.0.0.1:5001/token", "reg", "repository:team/app:pull")


def test_commas_and_escapes_inside_quotes_are_values() -> None:
    [c] = parse_challenges(r'Bearer realm="https://auth/token?a=1,b=2", scope="repository:x:pull,push", note="say \"hi\""')
    assert c.params["realm"] == "https://auth/token?a=1,b=2"
    assert c.params["scope"] == "repository:x:pull,push"
    assert c.params["note"] == 'say "hi"'


def test_several_challenges_in_one_header_and_case_insensitive_names() -> None:
    cs = parse_challenges('Basic realm="Registry Realm", BEARER Realm="https://a/t", Service=s')
    assert [c.scheme for c in cs] == ["basic", "bearer"]
    assert cs[1].params == {"realm": "https://a/t", "service": "s"}
    assert select_challenge(cs) is cs[1]  # Bearer preferred
    assert select_challenge([cs[0]]) is cs[0]


def test_unquoted_values_token68_and_bare_scheme() -> None:
    assert parse_challenges("Basic realm=test")[0].params == {"realm": "test"}
    assert parse_challenges("Negotiate dXNlcjpwdw==")[0] == Challenge("negotiate", {}, "dXNlcjpwdw==")
    assert parse_challenges("Bearer") == [Challenge("bearer", {})]
    assert parse_challenges(" , Basic realm=\"r\" ,, ")[0].realm == "r"


def test_no_supported_scheme_selects_nothing() -> None:
    assert select_challenge(parse_challenges('Digest realm="x", nonce="y"')) is None


@pytest.mark.parametrize(
    ("header", "needle"),
    [
        ("", "empty header"),
        ('Bearer realm="http://unterminated', "unterminated quoted value"),
        ('Bearer realm="a" service="b"', "expected ','"),
        ('Bearer service="x", realm=', "has no value"),
        ('Bearer realm="a", realm="b"', "given twice"),
        ('=realm"', "expected an auth scheme"),
        ('Bearer realm="a\\', "backslash"),
        ("Bearer\x00 realm=1", "unexpected character"),
        ("x" * 9000, "longer than"),
    ],
)
def test_malformed_headers_raise_a_clear_error(header: str, needle: str) -> None:
    with pytest.raises(ChallengeError, match=needle):
        parse_challenges(header)


@pytest.mark.parametrize(
    ("header", "needle"),
    [("Bearer service=x", "without a realm"), ('Bearer realm="file:///etc/passwd"', "not an http")],
)
def test_bearer_needs_an_http_realm(header: str, needle: str) -> None:
    with pytest.raises(ChallengeError, match=needle):
        bearer_parameters(parse_challenges(header)[0])

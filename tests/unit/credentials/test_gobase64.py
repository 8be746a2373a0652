"""The `auth` field decodes exactly as the kubelet decodes it (Go base64 rules: docs/concepts/kubelet-rules.md#b)."""

import pytest

from regcred.core.credentials.gobase64 import AuthDecodeError, decode_auth, encode_auth, go_std_decode


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Zm9vOmJhcg==", ("foo", "bar")),
        ("Zm9vOmJhcg", ("foo", "bar")),  # unpadded: raw decoder
        ("Zm9vOm\nJhcg==\n", ("foo", "bar")),  # \n is skipped anywhere
        ("Zm9vOmJh\r\ncg==", ("foo", "bar")),
        ("Zm9vOmJhcgo=", ("foo", "bar\n")),  # the upstream TestReadDockerConfigFile input keeps the newline
        ("YTpiOmM=", ("a", "b:c")),  # split at the first colon
        ("OnBhc3M=", ("", "pass")),
        ("cGluZzpwb25n", ("ping", "pong")),
    ],
)
def test_decodes_like_go(value: str, expected: tuple[str, str]) -> None:
    assert decode_auth(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        "Zm9vOmJhcg== ",  # a space is not skipped by Go
        " Zm9vOmJhcg==",
        "Zm9vOmJhcg=\n",  # wrong padding
        "Zm9vOmJhcg===",
        "Zm9v\tOmJhcg==",
        "Zm9vOmJhc",  # raw with a dangling sextet
        "Zm9v*mJhcg==",
        "Zm9vOmJhcg=x",
    ],
)
def test_rejects_what_go_rejects(value: str) -> None:
    with pytest.raises(AuthDecodeError):
        decode_auth(value)


def test_no_colon_is_the_upstream_error() -> None:
    with pytest.raises(AuthDecodeError, match=r"base64\(username:password\)"):
        decode_auth("cGFudHM=")  # "pants"


def test_encode_is_padded_standard_base64() -> None:
    assert encode_auth("alice", "s3cr:et") == "YWxpY2U6czNjcjpldA=="
    assert go_std_decode(encode_auth("bob", "pw")) == b"bob:pw"

"""The leak detector of tests/support/cli.py catches a secret in every form it takes, and nothing harmless."""

from __future__ import annotations

import base64
import json

import pytest

from tests.support.cli import assert_no_secret

SECRET = "legacy-pw"


def b64(data: str) -> str:
    return base64.b64encode(data.encode()).decode()


@pytest.mark.parametrize("text", [
    SECRET,
    b64(SECRET),
    b64(f"l:{SECRET}"),  # an `auth` value
    *(b64(prefix + json.dumps({"auths": {"r.io": {"password": SECRET}}})) for prefix in ("", "a", "ab")),
])
def test_every_form_is_caught(text: str) -> None:
    with pytest.raises(AssertionError):
        assert_no_secret(f"created Secret pull: {text}\n", [SECRET])


def test_harmless_output_passes() -> None:
    assert_no_secret("Secret/team/pull created; legacy.example.com attached " + b64('{"auths":{}}'), [SECRET])

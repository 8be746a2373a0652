"""Base64 exactly as Go's encoding/json + kubelet decode a docker `auth` field.

Python's `base64.b64decode` is more forgiving than Go (it drops junk such as spaces), so a
file Python accepts could be one the kubelet rejects. This module copies Go's behaviour:
only `\\r` and `\\n` are skipped, a trailing `=` selects the padded decoder, and anything else
outside the alphabet is an error.
"""

from __future__ import annotations

import base64
import binascii
import re

_ALPHABET = re.compile(r"\A[A-Za-z0-9+/]*\Z")


class AuthDecodeError(ValueError):
    """The `auth` field is not base64(username:password) as the kubelet reads it."""


def go_std_decode(value: str) -> bytes:
    """Decode standard base64 the way the kubelet does (padded if the value ends in '=', raw otherwise)."""
    padded = value.strip().endswith("=")
    cleaned = value.replace("\r", "").replace("\n", "")
    body = cleaned.rstrip("=") if padded else cleaned
    if not _ALPHABET.match(body):
        raise AuthDecodeError("illegal base64 data")
    if padded:
        if len(cleaned) % 4 != 0 or len(cleaned) - len(body) > 2:
            raise AuthDecodeError("illegal base64 data (bad padding)")
        if len(body) % 4 == 1:
            raise AuthDecodeError("illegal base64 data")
    else:
        if len(body) % 4 == 1:
            raise AuthDecodeError("illegal base64 data")
        body += "=" * (-len(body) % 4)
        cleaned = body
    try:
        decoded = base64.b64decode(cleaned, validate=True)
    except binascii.Error as exc:
        raise AuthDecodeError("illegal base64 data") from exc
    # Go rejects non-canonical trailing bits only in Strict mode, which the kubelet does not use.
    return decoded


def decode_auth(value: str) -> tuple[str, str]:
    """Split a decoded `auth` value at the first ':' into (username, password)."""
    raw = go_std_decode(value)
    text = raw.decode("utf-8", errors="replace")
    user, sep, password = text.partition(":")
    if not sep:
        raise AuthDecodeError("unable to parse auth field, must be formatted as base64(username:password)")
    return user, password


def encode_auth(username: str, password: str) -> str:
    """Padded standard base64 of 'username:password', as kubectl and docker write it."""
    return base64.b64encode(f"{username}:{password}".encode()).decode("ascii")

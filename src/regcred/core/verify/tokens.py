"""Token endpoint replies: the token, and what its claims say about lifetime and access.

JWT payloads are decoded *without* verification, only to read `exp` and `access`; the token itself is
never kept in a result. Every value here comes from a server, so each is checked before use: a lifetime
no calendar can hold (`exp` 1e308, `expires_in` NaN), a body nested a hundred thousand levels deep, or a
token a header cannot carry is a TokenReplyError naming what was sent, never a crash.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import math
from dataclasses import dataclass
from typing import Any

from regcred.core.verify.hosts import shown

# The calendar a result can show: RFC 3339 years 0001-9999 (datetime's range).
_MAX_EPOCH = int(dt.datetime(9999, 12, 31, 23, 59, 59, tzinfo=dt.UTC).timestamp())
_MAX_LIFETIME = 100 * 366 * 24 * 3600  # expires_in beyond a century is not a lifetime
_HEADER_SAFE = frozenset(map(chr, range(0x21, 0x7F)))  # visible ASCII: what an Authorization header carries


class TokenReplyError(ValueError):
    """A token endpoint reply regcred cannot use; the message names the field, never the token."""


@dataclass(frozen=True, slots=True)
class TokenGrant:
    """What a token reply told us: the JWT claims we need, never the token itself."""

    expires_in: int | None
    issued_at: str | None
    jwt_exp: int | None
    access: tuple[tuple[str, str, frozenset[str]], ...] | None  # None: not a JWT, access unknown

    def actions_for(self, repository: str) -> frozenset[str] | None:
        """Actions granted on `repository`; None when the token is opaque."""
        if self.access is None:
            return None
        granted: set[str] = set()
        for typ, name, actions in self.access:
            if typ == "repository" and name == repository:
                granted |= actions
        if "*" in granted:  # Harbor and distribution grant "*" for every action (push included)
            granted |= {"pull", "push"}
        return frozenset(granted)


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _loads(data: bytes | str, what: str) -> Any:
    """json.loads; a body nested deeper than the parser's recursion bound is refused, not a crash."""
    try:
        return json.loads(data)
    except RecursionError:
        raise TokenReplyError(f"{what} is nested too deeply") from None


def decode_jwt_payload(token: str) -> dict[str, Any] | None:
    """The claims of a compact JWS, unverified; None when the token is not a JWT."""
    parts = token.split(".")
    if len(parts) != 3 or not all(parts[:2]):
        return None
    try:
        payload = _loads(_b64url_decode(parts[1]), "the token's claims")
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        if isinstance(exc, TokenReplyError):
            raise
        return None
    return payload if isinstance(payload, dict) else None


def _access_claim(claims: dict[str, Any]) -> tuple[tuple[str, str, frozenset[str]], ...]:
    entries = claims.get("access")
    result: list[tuple[str, str, frozenset[str]]] = []
    if isinstance(entries, list):
        for entry in entries:
            if not isinstance(entry, dict):
                continue
            actions = entry.get("actions")
            names = frozenset(a for a in actions if isinstance(a, str)) if isinstance(actions, list) else frozenset()
            typ, name = entry.get("type", ""), entry.get("name", "")
            result.append((typ if isinstance(typ, str) else "", name if isinstance(name, str) else "", names))
    return tuple(result)


def _number(value: object, field: str, *, low: int, high: int) -> int | None:
    """A whole number of seconds in [low, high]; None when absent or not a number; else TokenReplyError."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return None
    if (isinstance(value, float) and not math.isfinite(value)) or not low <= value <= high:
        raise TokenReplyError(f"token endpoint sent {field} {_number_text(value)}, which is not a usable time")
    return int(value)


def _number_text(value: int | float) -> str:
    """A number as short as a message needs (an int too large for a float is written by its digit count)."""
    if isinstance(value, float):
        return f"{value:.6g}"
    digits = str(abs(value))  # json.loads refuses ints over 4300 digits, so str() cannot fail here
    return str(value) if len(digits) <= 15 else f"{'-' * (value < 0)}{digits[0]}e+{len(digits) - 1}"


def read_token_reply(body: bytes) -> tuple[str, TokenGrant]:
    """(token, grant) from a token endpoint body; TokenReplyError when it is not usable JSON."""
    try:
        data = _loads(body, "token endpoint reply")
    except (ValueError, UnicodeDecodeError) as exc:
        if isinstance(exc, TokenReplyError):
            raise
        raise TokenReplyError("token endpoint replied with something that is not JSON") from None
    if not isinstance(data, dict):
        raise TokenReplyError("token endpoint reply is JSON but not an object")
    token = data.get("token") or data.get("access_token")
    if not isinstance(token, str) or not token:
        raise TokenReplyError("token endpoint reply has no 'token' or 'access_token'")
    if not set(token) <= _HEADER_SAFE:
        raise TokenReplyError("token endpoint sent a token with characters an HTTP header cannot carry")
    issued_at = data.get("issued_at")
    claims = decode_jwt_payload(token)
    grant = TokenGrant(
        expires_in=_number(data.get("expires_in"), "expires_in", low=0, high=_MAX_LIFETIME),
        issued_at=issued_at if isinstance(issued_at, str) else None,
        jwt_exp=_number(claims.get("exp"), "exp", low=0, high=_MAX_EPOCH) if claims is not None else None,
        access=_access_claim(claims) if claims is not None else None,
    )
    return token, grant


def expires_at(grant: TokenGrant, now: dt.datetime) -> str | None:
    """When the token expires (UTC, RFC 3339): JWT `exp` if present, else issued_at/now + expires_in."""
    if grant.jwt_exp is not None:
        moment = dt.datetime.fromtimestamp(grant.jwt_exp, dt.UTC)
    elif grant.expires_in is not None:
        start = now
        if grant.issued_at:
            try:
                start = dt.datetime.fromisoformat(grant.issued_at.replace("Z", "+00:00"))
            except ValueError:
                start = now
        if start.tzinfo is None:
            start = start.replace(tzinfo=dt.UTC)
        try:
            moment = (start + dt.timedelta(seconds=grant.expires_in)).astimezone(dt.UTC)
        except (OverflowError, ValueError):
            raise TokenReplyError(f"token endpoint sent issued_at {shown(grant.issued_at or '')} and expires_in "
                                  f"{grant.expires_in}: that expiry is past the year 9999") from None
    else:
        return None
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")

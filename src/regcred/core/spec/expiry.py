"""When a spec's credentials expire, and where that is known from. Pure.

Three origins: a plugin's answer (its cacheDuration: the controller renews it by itself), a static password's
`expiresAt` in the spec, and the `regcred.dev/expires-at` annotation on the Secret a password or a `fromSecret`
pull secret is read from (set by whoever rotates that Secret, e.g. a Harbor robot account's expiry). Only the
static ones need a human, so only they bring the week's warning (`Degraded`/`CredentialExpiring`, an Event).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

EXPIRES_AT_ANNOTATION = "regcred.dev/expires-at"


@dataclass(frozen=True, slots=True)
class Expiry:
    """One registry entry's credential expires at `at` (Unix time); `origin` says where that is known from."""

    registry: str  # the entry's key in the pull secret
    at: float
    origin: str  # "expiresAt" | "annotation regcred.dev/expires-at of Secret ns/name" | "plugin name"
    renewed: bool = False  # a plugin's: the controller fetches a new one before it expires

    def describe(self, now: float) -> str:
        """One line for a condition or an Event: which credential, when, and from where (never a value)."""
        verb = "expired" if self.at <= now else "expires"
        return f"the credential for {self.registry} {verb} at {rfc3339(self.at)} ({self.origin})"


def rfc3339(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(value: str) -> float | None:
    """An RFC 3339 time (`Z` or an offset) as Unix time; None when it is not one."""
    text = value.strip().upper().replace("Z", "+00:00")
    if "T" not in text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment.timestamp() if moment.tzinfo is not None else None


def static_expiry(value: str | None, path: str) -> tuple[float | None, list[str]]:
    """A static password's `expiresAt` (RFC 3339, checked by the schema's pattern) as Unix time."""
    if value is None:
        return None, []
    at = parse_time(value)
    if at is None:
        return None, [f"{path}: {value!r} is not a valid time (a month, day or hour out of range)"]
    return at, []


def annotated_expiry(secret: Mapping[str, Any]) -> tuple[float | None, str | None]:
    """The Secret's `regcred.dev/expires-at` as Unix time, and the problem when it is set but not a time."""
    annotations = (secret.get("metadata") or {}).get("annotations") or {}
    value = annotations.get(EXPIRES_AT_ANNOTATION) if isinstance(annotations, Mapping) else None
    if value is None:
        return None, None
    at = parse_time(value) if isinstance(value, str) and len(value) <= 64 else None
    if at is None:
        return None, f"annotation {EXPIRES_AT_ANNOTATION} is not an RFC 3339 time (e.g. 2027-01-31T00:00:00Z)"
    return at, None


def earliest(expiries: Iterable[Expiry], *, renewed: bool | None = None) -> Expiry | None:
    """The first to expire (of the renewed or the static ones only, when `renewed` says which)."""
    return min((e for e in expiries if renewed is None or e.renewed == renewed), key=lambda e: e.at, default=None)


def per_registry(expiries: Iterable[Expiry]) -> dict[str, float]:
    """Each registry's earliest expiry (what the per-source metric shows)."""
    found: dict[str, float] = {}
    for e in expiries:
        found[e.registry] = min(e.at, found.get(e.registry, e.at))
    return found

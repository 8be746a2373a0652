"""Deciding what to do with a pull Secret that may already exist in a namespace.

Idempotent (no write when nothing changes), never takes over a Secret regcred does not manage unless asked,
and never silently overwrites a user's malformed payload: the plan says what it found.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

from regcred.core.credentials.pullsecret import (
    KEY_DOCKERCONFIGJSON,
    MANAGED_BY_LABEL,
    MANAGED_BY_VALUE,
    TYPE_DOCKERCONFIGJSON,
    read_pull_secret,
    secret_value,
)
from regcred.core.errors import ConfigFormatError

_ROUTINE = {"create": "created", "update": "updated", "unchanged": "up to date"}
TAKE_OVER_HINT = "use --overwrite to take it over"


@dataclass(frozen=True, slots=True)
class SecretPlan:
    """create | update | unchanged | refuse, the merge patch for an update, and what is notable about it."""

    action: str
    note: str = ""  # why it is refused, or what else an update does (replaces a malformed payload, takes over)
    patch: dict[str, Any] | None = field(default=None, repr=False)  # carries the Secret's data

    @property
    def reason(self) -> str:
        """The note, or the plain word for a routine action (for people)."""
        return self.note or _ROUTINE[self.action]


def is_managed(obj: dict[str, Any]) -> bool:
    labels = (obj.get("metadata") or {}).get("labels") or {}
    return isinstance(labels, dict) and labels.get(MANAGED_BY_LABEL) == MANAGED_BY_VALUE


def payload_problem(obj: dict[str, Any]) -> str | None:
    """Why the kubelet could not use this Secret's payload, or None when it is a usable pull secret."""
    try:
        secret = read_pull_secret(obj)
    except ConfigFormatError as exc:
        return exc.reason
    if secret.config is None:
        return secret.ignored_reason
    if not secret.config.has_auths:
        return "its .dockerconfigjson has no 'auths' object"
    return None


def plan_secret(existing: dict[str, Any] | None, payload: bytes, *, overwrite: bool = False,
                take_over_hint: str = TAKE_OVER_HINT) -> SecretPlan:
    """What to do to make the Secret hold `payload`, labelled as managed by regcred.

    `take_over_hint` says how the caller's user gets past a Secret regcred does not manage.
    """
    if existing is None:
        return SecretPlan("create")
    meta = existing.get("metadata") or {}
    name = meta.get("name")
    problem = payload_problem(existing)
    managed = is_managed(existing)
    if existing.get("type") != TYPE_DOCKERCONFIGJSON:
        return SecretPlan("refuse", f"secret {name} exists with type {existing.get('type') or 'Opaque'}: a Secret's "
                          "type cannot change; delete it or choose another name")
    if existing.get("immutable") is True:
        if managed and _current_payload(existing) == payload:
            return SecretPlan("unchanged", "up to date (immutable)")
        return SecretPlan("refuse", f"secret {name} is immutable: delete it first to change it")
    if not managed and not overwrite:
        found = f" and its payload is malformed ({problem})" if problem else ""
        return SecretPlan("refuse", f"secret {name} exists, is not managed by regcred{found}: left untouched "
                          f"({take_over_hint})")
    labels_ok = managed
    if _current_payload(existing) == payload and labels_ok:
        return SecretPlan("unchanged")
    patch: dict[str, Any] = {
        "metadata": {"labels": {MANAGED_BY_LABEL: MANAGED_BY_VALUE}},
        "data": {KEY_DOCKERCONFIGJSON: base64.b64encode(payload).decode("ascii")},
    }
    if meta.get("resourceVersion"):
        patch["metadata"]["resourceVersion"] = meta["resourceVersion"]
    if problem:
        note = f"replaced a malformed payload ({problem})"
    else:
        note = "" if managed else "taken over (--overwrite)"
    return SecretPlan("update", note, patch)


def _current_payload(obj: dict[str, Any]) -> bytes | None:
    try:
        return secret_value(obj, KEY_DOCKERCONFIGJSON, "secret")
    except ConfigFormatError:
        return None

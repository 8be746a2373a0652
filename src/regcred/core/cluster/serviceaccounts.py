"""ServiceAccount imagePullSecrets: add and remove a name without touching anyone else's entries.

`ServiceAccount.imagePullSecrets` is an atomic list (no merge key): any patch that carries the list replaces
it whole. So the new list is computed here from a fresh read and written with that read's resourceVersion as
a precondition. Which names regcred added is recorded in an annotation, so `detach` removes only those.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from regcred.core.cluster.podspec import pull_secret_names  # a ServiceAccount's list has a PodSpec's shape
from regcred.core.credentials.pullsecret import MANAGED_BY_LABEL, MANAGED_BY_VALUE
from regcred.core.names import validate_label, validate_subdomain

ADDED_ANNOTATION = "regcred.dev/added-pull-secrets"


@dataclass(frozen=True, slots=True)
class ServiceAccountChange:
    """The outcome of planning: the new list and annotation, whether anything changes, and why."""

    image_pull_secrets: list[dict[str, Any]]
    recorded: tuple[str, ...]
    changed: bool
    status: str  # attached | detached | unchanged | not-ours
    reason: str


def recorded_names(sa: dict[str, Any]) -> tuple[str, ...]:
    """The names regcred recorded as added by itself (the ownership annotation)."""
    annotations = (sa.get("metadata") or {}).get("annotations") or {}
    value = annotations.get(ADDED_ANNOTATION) if isinstance(annotations, dict) else None
    if not isinstance(value, str):
        return ()
    return tuple(sorted({part.strip() for part in value.split(",") if part.strip()}))


def plan_attach(sa: dict[str, Any], secret: str) -> ServiceAccountChange:
    """Append `secret` once; an entry someone else added is left alone and not claimed."""
    entries = [dict(e) if isinstance(e, dict) else e for e in _entries(sa)]
    names = pull_secret_names(sa)
    recorded = recorded_names(sa)
    if secret in names:
        why = "already listed" if secret in recorded else "already listed (added by another writer)"
        return ServiceAccountChange(entries, recorded, False, "unchanged", why)
    new_recorded = tuple(sorted({*recorded, secret}))
    return ServiceAccountChange([*entries, {"name": secret}], new_recorded, True, "attached", "added")


def plan_detach(sa: dict[str, Any], secret: str, *, force: bool = False) -> ServiceAccountChange:
    """Remove `secret` only if regcred added it (or `force`); every other entry stays, in order.

    Without `force` exactly one entry goes (the last occurrence, the one regcred appended): a duplicate of the
    name that another writer added is theirs and stays. `force` removes every occurrence.
    """
    entries = _entries(sa)
    names = pull_secret_names(sa)
    recorded = recorded_names(sa)
    new_recorded = tuple(n for n in recorded if n != secret)
    if secret not in names:
        if secret in recorded:  # someone removed it already: only forget the record
            return ServiceAccountChange(list(entries), new_recorded, True, "detached", "was already gone")
        return ServiceAccountChange(list(entries), recorded, False, "unchanged", "not listed")
    if secret not in recorded and not force:
        return ServiceAccountChange(list(entries), recorded, False, "not-ours",
                                    "listed but not added by regcred: left in place (use --force to remove)")
    positions = [i for i, e in enumerate(entries) if isinstance(e, dict) and e.get("name") == secret]
    if secret in recorded and not force:
        # regcred appended its entry once: remove that one (the last occurrence); a duplicate another
        # writer added stays, and so does the name on the list
        drop = {positions[-1]}
        others = len(positions) - 1
        reason = "removed" if not others else f"removed regcred's entry; {others} other entry(ies) of that name kept"
    else:  # --force: the user wants the name gone, every occurrence
        drop, reason = set(positions), "removed"
    kept = [e for i, e in enumerate(entries) if i not in drop]
    return ServiceAccountChange(kept, new_recorded, True, "detached", reason)


def change_patch(sa: dict[str, Any], change: ServiceAccountChange) -> dict[str, Any]:
    """A merge patch writing the whole list and the annotation, conditional on the read's resourceVersion.

    A metadata.resourceVersion in a merge patch is a precondition: the API answers 409 Conflict when the
    object changed since the read (unlike a failed JSON-patch `test`, an opaque 422).
    """
    meta = sa.get("metadata") or {}
    annotation: str | None = ",".join(change.recorded) if change.recorded else None
    patch_meta: dict[str, Any] = {"annotations": {ADDED_ANNOTATION: annotation}}
    if meta.get("resourceVersion"):
        patch_meta["resourceVersion"] = meta["resourceVersion"]
    return {"metadata": patch_meta, "imagePullSecrets": change.image_pull_secrets or None}


def new_service_account(name: str, namespace: str, secret: str) -> dict[str, Any]:
    """A ServiceAccount carrying the pull secret, recorded as added (and the SA as made) by regcred."""
    validate_subdomain(name, "ServiceAccount")
    validate_label(namespace, "namespace")
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {MANAGED_BY_LABEL: MANAGED_BY_VALUE},
            "annotations": {ADDED_ANNOTATION: secret},
        },
        "imagePullSecrets": [{"name": secret}],
    }


def _entries(sa: dict[str, Any]) -> list[Any]:
    value = sa.get("imagePullSecrets")
    return list(value) if isinstance(value, list) else []

"""What the controller's caches keep of each object: only the fields the rules read.

Why: at 10,000 namespaces and 20,000 ServiceAccounts a full object (managedFields alone are often half
of it) costs several KiB; the rules need the identity, the labels, regcred's own annotations and a few
spec fields. Transforms are applied before an object enters a cache, so what is dropped is never held.

Secrets keep `data`: the use cases compare a managed Secret's content byte for byte with the desired one
(and source Secrets are read for their value), so a digest would force a second code path in every use
case. The managed-Secret informer watches regcred's own Secrets (by label): one small Secret per covered
namespace. The other Secrets (the sources specs read, and same-named Secrets regcred must not overwrite) are
watched for their identity only (`secret_identity_fields`); only the sources specs name keep their data
(controller/sources.py), so the controller never holds the cluster's other credentials or Helm releases.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Obj = dict[str, Any]
REGCRED_ANNOTATION_PREFIX = "regcred.dev/"
_META_KEYS = ("name", "namespace", "uid", "resourceVersion", "generation", "labels", "deletionTimestamp",
              "ownerReferences", "finalizers", "creationTimestamp")


def _metadata(obj: Obj) -> Obj:
    meta = obj.get("metadata") or {}
    kept = {key: meta[key] for key in _META_KEYS if meta.get(key) is not None}
    annotations = meta.get("annotations") or {}
    ours = {k: v for k, v in annotations.items() if k.startswith(REGCRED_ANNOTATION_PREFIX)}
    if ours:
        kept["annotations"] = ours
    return kept


def _slim(obj: Obj, **fields: Any) -> Obj:
    out: Obj = {"apiVersion": obj.get("apiVersion"), "kind": obj.get("kind"), "metadata": _metadata(obj)}
    out.update({k: v for k, v in fields.items() if v is not None})
    return out


def keep_needed_fields(obj: Obj) -> Obj:
    """The generic transform: the whole object minus managedFields and foreign annotations."""
    out = {k: v for k, v in obj.items() if k != "metadata"}
    out["metadata"] = _metadata(obj)
    return out


def namespace_fields(obj: Obj) -> Obj:
    """A Namespace: identity, labels (spec selectors) and whether it is terminating."""
    phase = (obj.get("status") or {}).get("phase")
    return _slim(obj, status={"phase": phase} if phase else None)


def serviceaccount_fields(obj: Obj) -> Obj:
    """A ServiceAccount: identity and its imagePullSecrets (the list regcred edits)."""
    return _slim(obj, imagePullSecrets=obj.get("imagePullSecrets"))


def secret_fields(obj: Obj) -> Obj:
    """A Secret: identity, type and data (see the module docstring for why data is kept)."""
    return _slim(obj, type=obj.get("type"), data=obj.get("data") or {})


def secret_identity_fields(obj: Obj) -> Obj:
    """A Secret no spec reads: identity and type, never its data."""
    return _slim(obj, type=obj.get("type"))


def registrycredential_fields(obj: Obj) -> Obj:
    """A RegistryCredential is kept whole (spec and status are all read), minus managedFields."""
    return keep_needed_fields(obj)


TRANSFORMS: dict[str, Callable[[Obj], Obj]] = {
    "Namespace": namespace_fields,
    "ServiceAccount": serviceaccount_fields,
    "Secret": secret_fields,
    "RegistryCredential": registrycredential_fields,
}


def transform_for(kind: str) -> Callable[[Obj], Obj]:
    """The ready-made transform of a kind (the generic one for kinds without their own)."""
    return TRANSFORMS.get(kind, keep_needed_fields)

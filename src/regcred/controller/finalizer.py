"""The `regcred.dev/cleanup` finalizer: added before anything is created for a spec, dropped after cleanup.

Why JSON patches with a `test`: finalizers is a list other controllers write too; a test on the
resourceVersion (adding) or on the entry's position (removing) makes the write fail (422/409) instead of
dropping somebody else's finalizer. After such a failure the spec is read again and the write tried once
more (a status write or another worker often came first); a second failure is the caller's to retry.
"""

from __future__ import annotations

from typing import Any

from regcred.shells.kube.errors import KubeConflict, KubeInvalid, KubeNotFound
from regcred.usecases.kubeapi import Obj

FINALIZER = "regcred.dev/cleanup"


def _finalizers(spec: Obj) -> list[str]:
    return list((spec.get("metadata") or {}).get("finalizers") or [])


def ensure_finalizer(api: Any, spec: Obj) -> Obj:
    """The spec carrying the finalizer (a write only when it lacks it); never on a spec being deleted.

    A stale copy (a status write or another worker came first) fails the `test`: the spec is read again, once.
    """
    try:
        return _add(api, spec)
    except (KubeConflict, KubeInvalid):
        return _add(api, api.get("RegistryCredential", _name(spec)))


def release_finalizer(api: Any, spec: Obj) -> Obj | None:
    """Drop regcred's finalizer once cleanup is done (the API server then deletes the spec); None: not there.

    A stale copy (another worker released it first, or the list changed) fails the `test`: read again, once.
    """
    try:
        try:
            return _remove(api, spec)
        except (KubeConflict, KubeInvalid):
            return _remove(api, api.get("RegistryCredential", _name(spec)))
    except KubeNotFound:  # released by another worker, and deleted
        return None


def _name(spec: Obj) -> str:
    return str((spec.get("metadata") or {}).get("name"))


def _add(api: Any, spec: Obj) -> Obj:
    meta = spec.get("metadata") or {}
    if FINALIZER in _finalizers(spec) or meta.get("deletionTimestamp"):
        return spec
    add = ({"op": "add", "path": "/metadata/finalizers/-", "value": FINALIZER} if "finalizers" in meta
           else {"op": "add", "path": "/metadata/finalizers", "value": [FINALIZER]})
    patch = [{"op": "test", "path": "/metadata/resourceVersion", "value": meta.get("resourceVersion")}, add]
    answer: Obj = api.patch("RegistryCredential", _name(spec), None, patch, patch_type="json")
    return answer


def _remove(api: Any, spec: Obj) -> Obj | None:
    found = _finalizers(spec)
    if FINALIZER not in found:
        return None
    i = found.index(FINALIZER)
    patch = [{"op": "test", "path": f"/metadata/finalizers/{i}", "value": FINALIZER},
             {"op": "remove", "path": f"/metadata/finalizers/{i}"}]
    answer: Obj = api.patch("RegistryCredential", _name(spec), None, patch, patch_type="json")
    return answer

"""The `regcred.dev/cleanup` finalizer: added before anything is created for a spec, dropped after cleanup.

Why JSON patches with a `test`: finalizers is a list other controllers write too; a test on the
resourceVersion (adding) or on the entry's position (removing) makes the write fail (422/409) instead of
dropping somebody else's finalizer. The caller re-reads and tries again, like any conditional write.
"""

from __future__ import annotations

from typing import Any

from regcred.usecases.kubeapi import Obj

FINALIZER = "regcred.dev/cleanup"


def _finalizers(spec: Obj) -> list[str]:
    return list((spec.get("metadata") or {}).get("finalizers") or [])


def ensure_finalizer(api: Any, spec: Obj) -> Obj:
    """The spec carrying the finalizer (a write only when it lacks it); never on a spec being deleted."""
    meta = spec.get("metadata") or {}
    if FINALIZER in _finalizers(spec) or meta.get("deletionTimestamp"):
        return spec
    add = ({"op": "add", "path": "/metadata/finalizers/-", "value": FINALIZER} if "finalizers" in meta
           else {"op": "add", "path": "/metadata/finalizers", "value": [FINALIZER]})
    patch = [{"op": "test", "path": "/metadata/resourceVersion", "value": meta.get("resourceVersion")}, add]
    answer: Obj = api.patch("RegistryCredential", str(meta.get("name")), None, patch, patch_type="json")
    return answer


def release_finalizer(api: Any, spec: Obj) -> Obj | None:
    """Drop regcred's finalizer once cleanup is done (the API server then deletes the spec); None: not there."""
    found = _finalizers(spec)
    if FINALIZER not in found:
        return None
    i = found.index(FINALIZER)
    patch = [{"op": "test", "path": f"/metadata/finalizers/{i}", "value": FINALIZER},
             {"op": "remove", "path": f"/metadata/finalizers/{i}"}]
    answer: Obj = api.patch("RegistryCredential", str((spec.get("metadata") or {}).get("name")), None, patch,
                            patch_type="json")
    return answer

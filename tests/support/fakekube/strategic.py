"""Strategic merge patch: a port of apimachinery's strategicpatch.mergeMap for the types served.

Why a port: SMP ordering is subtle (a new item of a merge-keyed list goes FIRST, ``[a]+[b]``
gives ``[b, a]``) and ServiceAccount.imagePullSecrets has no merge key (the list is replaced).
"""

from __future__ import annotations

import copy
from typing import Any

from .errors import ApiError, bad_request, generic_422, status

DIRECTIVE = "$patch"
RETAIN = "$retainKeys"
DELETE_PRIM = "$deleteFromPrimitiveList/"
SET_ORDER = "$setElementOrder/"

# Schema: field -> (merge key or "" for primitive merge lists, element/child schema).
# A field absent from a schema merges maps recursively and replaces lists (atomic).
Schema = dict[str, tuple[str | None, "Schema | None"]]
_CONTAINER: Schema = {
    "ports": ("containerPort", None), "env": ("name", None), "volumeMounts": ("mountPath", None),
    "volumeDevices": ("devicePath", None),
}
OBJECT_META: Schema = {"finalizers": ("", None), "ownerReferences": ("uid", None)}
_MAP = None  # child schema placeholder for plain maps/structs without merge lists
POD_SPEC: Schema = {
    "volumes": ("name", None), "containers": ("name", _CONTAINER), "initContainers": ("name", _CONTAINER),
    "ephemeralContainers": ("name", _CONTAINER), "imagePullSecrets": ("name", None),
    "hostAliases": ("ip", None), "topologySpreadConstraints": ("topologyKey", None),
    "resourceClaims": ("name", None), "schedulingGates": ("name", None),
}
_STATUS: Schema = {"conditions": ("type", None)}
_TEMPLATE: Schema = {"metadata": (None, OBJECT_META), "spec": (None, POD_SPEC)}


def _workload(spec: Schema) -> Schema:
    return {"metadata": (None, OBJECT_META), "spec": (None, spec), "status": (None, _STATUS)}


SCHEMAS: dict[str, Schema] = {
    "Namespace": {"metadata": (None, OBJECT_META)},
    "Secret": {"metadata": (None, OBJECT_META)},
    "ServiceAccount": {"metadata": (None, OBJECT_META), "secrets": ("name", None)},
    "Pod": {"metadata": (None, OBJECT_META), "spec": (None, POD_SPEC), "status": (None, _STATUS)},
    "PodTemplate": {"metadata": (None, OBJECT_META), "template": (None, _TEMPLATE)},
    "ReplicationController": _workload({"template": (None, _TEMPLATE)}),
    "Deployment": _workload({"template": (None, _TEMPLATE)}),
    "StatefulSet": _workload({"template": (None, _TEMPLATE)}),
    "DaemonSet": _workload({"template": (None, _TEMPLATE)}),
    "ReplicaSet": _workload({"template": (None, _TEMPLATE)}),
    "Job": _workload({"template": (None, _TEMPLATE)}),
    "CronJob": _workload({"jobTemplate": (None, {"metadata": (None, OBJECT_META), "spec": (None, {
        "template": (None, _TEMPLATE)})})}),
}


class SMPError(Exception):
    """A patch the strategicpatch package rejects; ``kind`` selects the HTTP mapping."""

    def __init__(self, message: str, kind: str = "other") -> None:
        super().__init__(message)
        self.kind = kind


def _no_merge_key(m: dict[str, Any], key: str) -> SMPError:
    return SMPError(f"map: {_go_map(m)} does not contain declared merge key: {key}")


def _go_map(m: Any) -> str:
    if isinstance(m, dict):
        return "map[" + " ".join(f"{k}:{_go_map(m[k])}" for k in sorted(m)) + "]"
    if isinstance(m, list):
        return "[" + " ".join(_go_map(x) for x in m) + "]"
    return str(m)


def _lookup(schema: Schema | None, key: str) -> tuple[str | None, Schema | None]:
    if schema is None or key not in schema:
        return None, None
    return schema[key]


def merge_map(original: dict[str, Any] | None, patch: dict[str, Any], schema: Schema | None) -> dict[str, Any]:
    if DIRECTIVE in patch:
        d = patch[DIRECTIVE]
        if d == "replace":
            return {k: v for k, v in patch.items() if k != DIRECTIVE}
        if d == "delete":
            return {}
        raise SMPError(f"Unknown patch type: {d} in map: {_go_map(patch)}")
    if original is None:
        original = {}
    _retain_keys(original, patch)
    _merge_set_order(original, patch, schema)
    for k, pv in list(patch.items()):
        is_delete_list = False
        if k.startswith(DELETE_PRIM):
            parts = k.split("/", 1)
            if len(parts) < 2 or not parts[1]:
                raise SMPError("invalid patch format of primitive list", "bad")
            k, is_delete_list = parts[1], True
        if pv is None:
            original.pop(k, None)
            continue
        if k not in original:
            if not is_delete_list:
                original[k] = pv
            continue
        ov = original[k]
        if type(ov) is not type(pv) or not isinstance(pv, dict | list):
            if not is_delete_list:
                original[k] = pv
            continue
        mkey, sub = _lookup(schema, k)
        if isinstance(pv, dict):
            original[k] = merge_map(ov, pv, sub)
        elif mkey is None:
            original[k] = pv
        else:
            original[k] = merge_slice(ov, pv, sub, mkey, is_delete_list)
    return original


def _retain_keys(original: dict[str, Any], patch: dict[str, Any]) -> None:
    if RETAIN not in patch:
        return
    keep = patch.pop(RETAIN)
    if not isinstance(keep, list):
        raise SMPError("invalid patch format of retainKeys", "bad")
    for k, v in patch.items():
        if v is None or k.startswith((DELETE_PRIM, SET_ORDER)):
            continue
        if k not in keep:
            raise SMPError("invalid patch format of retainKeys", "bad")
    for k in list(original):
        if k not in keep:
            del original[k]


def _merge_set_order(original: dict[str, Any], patch: dict[str, Any], schema: Schema | None) -> None:
    for key in [k for k in patch if k.startswith(SET_ORDER)]:
        order = patch.pop(key)
        if not isinstance(order, list):
            raise SMPError("invalid patch format of setElementOrder list", "bad")
        field = key[len(SET_ORDER):]
        if not field:
            raise SMPError("invalid patch format of setElementOrder list", "bad")
        mkey, sub = _lookup(schema, field)
        mkey = mkey or ""
        has_o, has_p = field in original, field in patch
        ol = original.get(field) if has_o else []
        pl = patch.get(field) if has_p else []
        if not isinstance(ol, list) or not isinstance(pl, list):
            raise SMPError("invalid patch format of setElementOrder list", "bad")
        if has_o and has_p:
            merged = merge_slice(ol, pl, sub, mkey, False) if mkey is not None else pl
        elif has_p:
            merged = pl
        elif has_o:
            merged = ol
        else:
            continue
        in_order, server_only = _partition(merged, order, mkey)
        original[field] = _normalize(in_order, server_only, order, ol, mkey)
        patch.pop(field, None)


def _key_of(item: Any, mkey: str) -> Any:
    if mkey:
        if not isinstance(item, dict) or mkey not in item:
            raise _no_merge_key(item if isinstance(item, dict) else {}, mkey)
        return item[mkey]
    return item


def _index(order: list[Any], item: Any, mkey: str) -> int:
    want = _key_of(item, mkey)
    for i, o in enumerate(order):
        if isinstance(o, dict) and mkey and o.get(mkey) == want:
            return i
        if not mkey and o == want:
            return i
    return -1


def _partition(merged: list[Any], by: list[Any], mkey: str) -> tuple[list[Any], list[Any]]:
    keys = [_key_of(x, mkey) if (not mkey or isinstance(x, dict)) else None for x in by]
    inside, outside = [], []
    for v in merged:
        (inside if _key_of(v, mkey) in keys else outside).append(v)
    return inside, outside


def _normalize(patch_items: list[Any], server_only: list[Any], patch_order: list[Any],
               server_order: list[Any], mkey: str) -> list[Any]:
    """normalizeElementOrder + mergeSortedSlice: interleave keeping both relative orders."""
    def sort_by(items: list[Any], order: list[Any]) -> list[Any]:
        keep = [x for x in items if not (isinstance(x, dict) and x.get(DIRECTIVE) == "delete")]
        dels = [x for x in items if x not in keep]
        big = len(order) + 1
        return sorted(keep, key=lambda x: (i if (i := _index(order, x, mkey)) >= 0 else big)) + dels

    right = sort_by(patch_items, patch_order)
    left = sort_by(server_only, server_order)
    out: list[Any] = []
    i = j = 0
    while i < len(left) or j < len(right):
        if i >= len(left):
            out.append(right[j])
            j += 1
        elif j >= len(right):
            out.append(left[i])
            i += 1
        else:
            li, ri = _index(server_order, left[i], mkey), _index(server_order, right[j], mkey)
            if li >= 0 and ri >= 0 and li < ri:
                out.append(left[i])
                i += 1
            else:
                out.append(right[j])
                j += 1
    return out


def merge_slice(original: list[Any], patch: list[Any], schema: Schema | None, mkey: str,
                is_delete_list: bool) -> list[Any]:
    if not original and not patch:
        return original
    kinds = {type(x) for x in [*original, *patch]}
    if len(kinds) > 1:
        raise SMPError("list element types are not identical")
    if list in kinds:
        raise SMPError("lists of lists are not supported", "lists")
    if dict not in kinds:
        if is_delete_list:
            return [x for x in original if x not in patch]
        merged: list[Any] = []
        for x in [*original, *patch]:
            if x not in merged:
                merged.append(x)
        pitems, sonly = [x for x in merged if x in patch], [x for x in merged if x not in patch]
        return _normalize(pitems, sonly, patch, original, "")
    if not mkey:
        raise SMPError("cannot merge lists without merge key for type map")
    original, patch = _special_elements(list(original), patch, mkey)
    merged = list(original)
    for v in patch:
        if mkey not in v:
            raise _no_merge_key(v, mkey)
        for idx, o in enumerate(merged):
            if isinstance(o, dict) and mkey in o and o[mkey] == v[mkey]:
                merged[idx] = merge_map(o, v, schema)
                break
        else:
            merged.append(v)
    pitems, sonly = _partition(merged, patch, mkey)
    return _normalize(pitems, sonly, patch, original, mkey)


def _special_elements(original: list[Any], patch: list[Any], mkey: str) -> tuple[list[Any], list[Any]]:
    plain: list[Any] = []
    replace = False
    for v in patch:
        if DIRECTIVE not in v:
            plain.append(v)
            continue
        d = v[DIRECTIVE]
        if d == "delete":
            if mkey not in v:
                raise _no_merge_key(v, mkey)
            original = [o for o in original if not (isinstance(o, dict) and o.get(mkey) == v[mkey])]
        elif d == "replace":
            replace = True
        elif d == "merge":
            raise SMPError("merging lists cannot yet be specified in the patch")
        else:
            raise SMPError(f"Unknown patch type: {d} in map: {_go_map(v)}")
    if replace:
        return plain, []
    return original, plain


def apply_strategic(current: dict[str, Any], patch: dict[str, Any], kind: str) -> dict[str, Any]:
    """Apply an SMP to a copy of ``current``; maps errors to the apiserver's responses."""
    try:
        return merge_map(copy.deepcopy(current), copy.deepcopy(patch), SCHEMAS.get(kind))
    except SMPError as e:
        if e.kind == "bad":
            raise bad_request(str(e)) from None
        if e.kind == "lists":
            raise generic_422() from None
        raise ApiError(500, status(500, "", str(e))) from None

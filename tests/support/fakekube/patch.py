"""RFC 6902 JSON patch and RFC 7386 merge patch, as applied by the apiserver.

Why hand-written: the apiserver's json-patch failures are all the same opaque 422, its
decode errors are Go's, and ``test`` compares with JSON types (``"1"`` is not ``1``).
"""

from __future__ import annotations

import copy
import json
from typing import Any

from .errors import bad_request, generic_422
from .gojson import go_kind, syntax_error

_OP_FIELDS = {"op": "string", "path": "string", "from": "string"}


class PatchFailed(Exception):
    """A json-patch operation that does not apply (answered with the generic 422)."""


def decode_json_patch(raw: bytes) -> tuple[list[dict[str, Any]], list[str]]:
    """Decode like ``kjson.UnmarshalStrict(body, &[]jsonPatchOp{})``; returns ops and warnings."""
    err = syntax_error(raw)
    if err:
        raise bad_request(f"error decoding patch: {err}")
    doc = json.loads(raw)
    if not isinstance(doc, list):
        if doc is None:
            return [], []
        raise bad_request(
            f"error decoding patch: json: cannot unmarshal {go_kind(doc)} into Go value of type []handlers.jsonPatchOp"
        )
    warnings: list[str] = []
    for op in doc:
        if op is None:
            continue
        if not isinstance(op, dict):
            raise bad_request(
                f"error decoding patch: json: cannot unmarshal {go_kind(op)} into Go value of type handlers.jsonPatchOp"
            )
        for k, v in op.items():
            if k in _OP_FIELDS and v is not None and not isinstance(v, str):
                raise bad_request(
                    f"error decoding patch: json: cannot unmarshal {go_kind(v)} into Go struct field "
                    f"jsonPatchOp.{k} of type string"
                )
            if k not in _OP_FIELDS and k != "value":
                warnings.append(f'json patch unknown field "{k}"')
    return [op or {} for op in doc], warnings


def _tokens(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise PatchFailed(f"invalid path {path}")
    return [t.replace("~1", "/").replace("~0", "~") for t in path[1:].split("/")]


def _index(tok: str, size: int, allow_end: bool) -> int:
    if tok == "-" and allow_end:
        return size
    if not tok.isdigit() or (len(tok) > 1 and tok[0] == "0"):
        raise PatchFailed(f"invalid index {tok}")
    i = int(tok)
    if i > size or (i == size and not allow_end):
        raise PatchFailed("index out of range")
    return i


def _walk(doc: Any, toks: list[str]) -> Any:
    """Follow JSON-pointer tokens; a missing key, a bad index or a scalar on the way fails the patch."""
    cur = doc
    for t in toks:
        if isinstance(cur, dict):
            if t not in cur:
                raise PatchFailed(f"missing {t}")
            cur = cur[t]
        elif isinstance(cur, list):
            cur = cur[_index(t, len(cur), False)]
        else:
            raise PatchFailed("not a container")
    return cur


def _parent(doc: Any, path: str) -> tuple[Any, str]:
    toks = _tokens(path)
    if not toks:
        raise PatchFailed("cannot operate on the document root")
    return _walk(doc, toks[:-1]), toks[-1]


def _get(doc: Any, path: str) -> Any:
    return _walk(doc, _tokens(path))


def _add(doc: Any, path: str, value: Any) -> None:
    parent, last = _parent(doc, path)
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list):
        parent.insert(_index(last, len(parent), True), value)
    else:
        raise PatchFailed("not a container")


def _remove(doc: Any, path: str) -> Any:
    parent, last = _parent(doc, path)
    if isinstance(parent, dict):
        if last not in parent:
            raise PatchFailed(f"missing {last}")
        return parent.pop(last)
    if isinstance(parent, list):
        return parent.pop(_index(last, len(parent), False))
    raise PatchFailed("not a container")


def _equal(a: Any, b: Any) -> bool:
    """Type-sensitive JSON equality (True is not 1, "1" is not 1)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, int | float) and isinstance(b, int | float):
        return float(a) == float(b)
    return type(a) is type(b) and a == b


def apply_json_patch(doc: dict[str, Any], ops: list[dict[str, Any]]) -> dict[str, Any]:
    """Apply all ops to a copy; any failure raises the apiserver's opaque 422."""
    try:
        return apply_ops(doc, ops)
    except PatchFailed:
        raise generic_422() from None


def apply_ops(doc: dict[str, Any], ops: Any) -> dict[str, Any]:
    """Apply all ops to a copy; raises PatchFailed with json-patch's (evanphx) message, as a webhook's patch shows it."""
    if not isinstance(ops, list):
        raise PatchFailed("json: cannot unmarshal object into Go value of type jsonpatch.Patch")
    out = copy.deepcopy(doc)
    for op in ops:
        if not isinstance(op, dict):
            raise PatchFailed("json: cannot unmarshal into Go value of type jsonpatch.Operation")
        kind = op.get("op")
        path = op.get("path")
        if path is None:
            raise PatchFailed(f"{kind} operation does not apply: doc is missing path")
        try:
            if kind == "add":
                _add(out, path, copy.deepcopy(op.get("value")))
            elif kind == "remove":
                _remove(out, path)
            elif kind == "replace":
                parent, last = _parent(out, path)
                if isinstance(parent, dict) and last not in parent:
                    raise PatchFailed(f"replace operation does not apply: doc is missing key: {path}: missing value")
                _remove(out, path)
                _add(out, path, copy.deepcopy(op.get("value")))
            elif kind == "move":
                value = _remove(out, op.get("from") or "")
                _add(out, path, value)
            elif kind == "copy":
                _add(out, path, copy.deepcopy(_get(out, op.get("from") or "")))
            elif kind == "test":
                try:
                    got = _get(out, path)
                except PatchFailed:
                    _parent(out, path)  # a missing parent fails; a missing key equals null (json-patch v4)
                    got = None
                if not _equal(got, op.get("value")):
                    raise PatchFailed(f"testing value {path} failed: test failed")
            else:
                raise PatchFailed(f"Unexpected kind: {kind}")
        except PatchFailed as exc:
            if str(exc).startswith(("replace operation", "testing value", "Unexpected kind")):
                raise
            raise PatchFailed(f'{kind} operation does not apply: doc is missing path: "{path}": missing value') from None
    if not isinstance(out, dict):
        raise PatchFailed("the patched document is not an object")
    return out


def decode_merge_patch(raw: bytes, *, strategic: bool) -> dict[str, Any]:
    """Decode a merge or strategic-merge patch body (must be a JSON object)."""
    err = syntax_error(raw)
    prefix = "" if strategic else "error decoding patch: "
    if err:
        raise bad_request(prefix + err)
    doc = json.loads(raw)
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise bad_request(
            f"{prefix}json: cannot unmarshal {go_kind(doc)} into Go value of type map[string]interface {{}}"
        )
    return doc


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: objects merge recursively, null deletes, everything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = dict(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = merge_patch(out.get(k), v)
    return out

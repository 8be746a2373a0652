"""Server-side apply and managedFields bookkeeping for every write.

Why: SSA ownership is what makes a second manager conflict on an atomic list (the whole
ServiceAccount.imagePullSecrets) but not on a keyed list (PodSpec.imagePullSecrets items);
Update managers (POST/PUT/PATCH, named after the User-Agent) can conflict too.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import yaml

from . import admission as adm
from .decode import type_error
from .errors import ApiError, FieldError, bad_request, options_invalid, status
from .fieldsets import (
    SCHEMAS,
    Path,
    field_set,
    from_fields_v1,
    lookup,
    merge,
    path_string,
    remove,
    to_fields_v1,
)
from .request import ApiRequest, Response, deep_copy, dry_run
from .resources import ResourceType

if TYPE_CHECKING:
    from .api import Writer

Key = tuple[str, str, str]  # (manager, operation, apiVersion)


def manager_name(req: ApiRequest) -> str:
    """fieldManager, else the User-Agent up to the first '/', printable, at most 128 bytes."""
    name = req.q("fieldManager")
    if name:
        return name
    ua = req.user_agent.split("/", 1)[0]
    return "".join(c for c in ua if c.isprintable()).encode()[:128].decode(errors="ignore") or "unknown"


def read_sets(obj: dict[str, Any]) -> tuple[dict[Key, set[Path]], dict[Key, str]]:
    sets: dict[Key, set[Path]] = {}
    times: dict[Key, str] = {}
    for e in (obj.get("metadata") or {}).get("managedFields") or []:
        if not isinstance(e, dict) or e.get("subresource"):
            continue
        key = (e.get("manager", ""), e.get("operation", "Update"), e.get("apiVersion", ""))
        sets[key] = sets.get(key, set()) | from_fields_v1(e.get("fieldsV1") or {})
        times[key] = e.get("time", "")
    return sets, times


def write_sets(obj: dict[str, Any], sets: dict[Key, set[Path]], times: dict[Key, str]) -> None:
    entries = []
    for key in sorted((k for k, s in sets.items() if s), key=lambda k: (k[1] != "Apply", times.get(k, ""), k[0])):
        manager, op, api_version = key
        entry: dict[str, Any] = {"manager": manager, "operation": op, "apiVersion": api_version}
        if times.get(key):
            entry["time"] = times[key]
        entry.update(fieldsType="FieldsV1", fieldsV1=to_fields_v1(sets[key]))
        entries.append(entry)
    meta = obj.setdefault("metadata", {})
    if entries:
        meta["managedFields"] = entries
    else:
        meta.pop("managedFields", None)


def track_update(req: ApiRequest, rt: ResourceType, old: dict[str, Any] | None, new: dict[str, Any]) -> None:
    """A non-apply write: the writer takes what it changed, everyone loses what was removed.

    Like the apiserver's skipNonAppliedManager, updates of an object that has no managedFields
    at all (e.g. the controller-created default ServiceAccount) are not tracked.
    """
    if old is not None and not (old.get("metadata") or {}).get("managedFields"):
        new.get("metadata", {}).pop("managedFields", None)
        return
    sets, times = read_sets(old) if old is not None else ({}, {})
    new_set = field_set(new, rt.kind)
    if old is None:
        changed, removed = new_set, set()
    else:
        old_set = field_set(old, rt.kind)
        removed = old_set - new_set
        changed = {p for p in new_set if p not in old_set or lookup(old, p) != lookup(new, p)}
    for k in sets:
        sets[k] -= changed | removed
    if changed:
        key = (manager_name(req), "Update", rt.api_version)
        sets[key] = sets.get(key, set()) | changed
        times[key] = adm.now()
    write_sets(new, sets, times)


def _conflict_error(conflicts: list[tuple[Key, Path]]) -> ApiError:
    def who(k: Key) -> str:
        return json.dumps(k[0]) + (f" using {k[2]}" if k[1] == "Update" else "")

    conflicts = sorted(conflicts, key=lambda c: (c[0], path_string(c[1])))
    causes = [{"reason": "FieldManagerConflict", "message": f"conflict with {who(k)}", "field": path_string(p)}
              for k, p in conflicts]
    if len(conflicts) == 1:
        detail = f"conflict with {who(conflicts[0][0])}: {path_string(conflicts[0][1])}"
    else:
        lines: list[str] = []
        for k in sorted({k for k, _ in conflicts}):
            lines.append(f"conflicts with {who(k)}:")
            lines += [f"- {path_string(p)}" for kk, p in conflicts if kk == k]
        detail = "\n".join(lines)
    n = len(conflicts)
    msg = f"Apply failed with {n} conflict{'s' if n != 1 else ''}: {detail}"
    return ApiError(409, status(409, "Conflict", msg, {"causes": causes}))


def _meta(obj: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in (obj.get("metadata") or {}).items() if k != "managedFields"}


def server_side_apply(writer: Writer, req: ApiRequest) -> Response:
    rt = req.rt
    assert rt is not None
    dry = dry_run(req, "PatchOptions")
    manager = req.q("fieldManager")
    if not manager:
        raise options_invalid("PatchOptions", [FieldError("Required", "fieldManager", detail="is required for apply patch")])
    force = (req.q("force") or "").lower() == "true"
    try:
        applied = yaml.safe_load(req.body.decode("utf-8")) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        raise bad_request(f"error converting YAML to JSON: {e}") from None
    if not isinstance(applied, dict):
        raise bad_request("invalid object type: /, Kind=")
    api_version, kind = applied.get("apiVersion") or "", applied.get("kind") or ""
    if (api_version, kind) != (rt.api_version, rt.kind):
        gv = api_version if "/" in api_version else (f"/{api_version}" if api_version else "/")
        raise bad_request(f"invalid object type: {gv}, Kind={kind}")
    meta = applied.setdefault("metadata", {})
    if meta.get("name", "") != req.name:
        raise bad_request(f"the name of the object ({meta.get('name', '')}) does not match the name on the URL ({req.name})")
    if rt.namespaced and meta.get("namespace") and meta["namespace"] != req.namespace:
        raise bad_request("the namespace of the provided object does not match the namespace sent on the request")
    err = type_error(applied, rt.kind)
    if err:
        raise bad_request(f"{rt.kind} in version {json.dumps(rt.version)} cannot be handled as a {rt.kind}: {err}")
    if req.subresource == "status":  # reset fields: /status applies only status
        applied = {k: v for k, v in applied.items() if k in ("apiVersion", "kind", "metadata", "status")}
    elif rt.custom and "status" in rt.subresources:
        applied.pop("status", None)
    applied_set = field_set(applied, rt.kind)
    key = (manager, "Apply", rt.api_version)
    with writer.store.lock:
        cur = writer.store.get(rt, req.namespace, req.name)
        if cur is None:
            obj = deep_copy(applied)
            if rt.namespaced:
                obj["metadata"]["namespace"] = req.namespace
            write_sets(obj, {key: applied_set}, {key: adm.now()})
            return writer.create_object(req, rt, obj, dry, managed=True)
        live = deep_copy(cur.obj)
        sets, times = read_sets(live)
        conflicts = [(k, p) for k, s in sets.items() if k != key for p in applied_set & s
                     if lookup(live, p) != lookup(applied, p)]
        if conflicts and not force:
            raise _conflict_error(conflicts)
        for k, p in conflicts:
            sets[k].discard(p)
        others = set().union(*(s for k, s in sets.items() if k != key))
        for p in sets.get(key, set()) - applied_set:
            if p not in others:
                remove(live, p)
        body = {k: v for k, v in applied.items() if k not in ("apiVersion", "kind")}
        new = merge(live, body, SCHEMAS.get(rt.kind))
        sets[key] = applied_set
        unchanged = {k: v for k, v in new.items() if k != "metadata"} == {
            k: v for k, v in cur.obj.items() if k != "metadata"} and _meta(new) == _meta(cur.obj)
        if not unchanged:
            times[key] = adm.now()
        write_sets(new, sets, times)
        return writer.finish_patch(req, rt, cur, new, dry, managed=True)

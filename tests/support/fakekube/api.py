"""The write verbs (create, update, patch, delete) with the apiserver's ordering of checks.

Why the order matters: e.g. a stale resourceVersion is a 409 even when the body is also
invalid, NamespaceLifecycle answers before validation, and dry-run still validates.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from . import admission as adm
from . import crd as crds
from .apply import server_side_apply, track_update
from .controllers import Controllers, Options
from .decode import convert_secret, decode_object, patched_object_error, prune_unknown
from .defaults import default_object
from .errors import (
    ApiError,
    FieldError,
    already_exists,
    bad_request,
    conflict,
    forbidden,
    invalid,
    not_found,
    options_invalid,
    status,
    success,
    unsupported_media_type,
    unsupported_patch_type,
)
from .patch import apply_json_patch, decode_json_patch, decode_merge_patch, merge_patch
from .request import (
    ApiRequest,
    Response,
    check_name,
    deep_copy,
    delete_options,
    dry_run,
    field_validation,
    obj_response,
)
from .resources import BY_KEY, ResourceType
from .shapes import CRDS, generation_part, shape
from .store import Entry, Store
from .strategic import apply_strategic
from .validation import finalizer_warnings, get_path, pull_secret_warnings, validate_object
from .webhooks import Dispatcher

View = Callable[[dict[str, Any]], dict[str, Any]]
PATCH_TYPES = ("application/json-patch+json", "application/merge-patch+json",
               "application/strategic-merge-patch+json", "application/apply-patch+yaml")
NAMESPACES = BY_KEY["namespaces"]
SERVICEACCOUNTS = BY_KEY["serviceaccounts"]


class Writer:
    """create/update/patch/delete against a Store; the HTTP layer calls these."""

    def __init__(self, store: Store, options: Options) -> None:
        self.store = store
        self.options = options
        self.controllers = Controllers(store, options, self)
        self.crds = crds.CustomResources(store)
        self.webhooks = Dispatcher(store)

    # -- create --------------------------------------------------------------
    def create(self, req: ApiRequest) -> Response:
        rt = _rt(req)
        dry = dry_run(req, "CreateOptions")
        obj, warnings = decode_object(req.body, req.content_type, rt, field_validation(req))
        req.warnings += warnings
        meta = obj.setdefault("metadata", {})
        if rt.namespaced:
            if meta.get("namespace") and meta["namespace"] != req.namespace:
                raise bad_request("the namespace of the provided object does not match the namespace sent on the request")
            meta["namespace"] = req.namespace
        else:
            meta.pop("namespace", None)
        if rt.custom and "status" in rt.subresources:
            obj.pop("status", None)  # the status subresource owns it
        if rt.custom:
            crds.apply_defaults(obj, rt.schema)
        if rt is CRDS:
            crds.default_crd(obj)
        return self.create_object(req, rt, obj, dry)

    def create_object(self, req: ApiRequest, rt: ResourceType, obj: dict[str, Any], dry: bool, *,
                      managed: bool = False) -> Response:
        """Defaulting, admission, validation and storage of a new object (POST and SSA create)."""
        meta = obj["metadata"]
        if rt.kind == "Secret":
            convert_secret(obj)
        uid = adm.new_uid()
        generated = not meta.get("name") and bool(meta.get("generateName"))
        if generated:
            meta["name"] = meta["generateName"] + adm.random_suffix()
        default_object(rt, obj, creating=True)
        obj = self.webhooks.admission(req, rt, obj, dry=dry, name_generated=generated,
                                      sa_wait=self.options.sa_admission_wait)
        meta = obj["metadata"]
        with self.store.lock:
            validate_object(rt, obj, None, _strict(req))
            path = rt.pod_spec_path()
            if path:
                req.warnings += pull_secret_warnings(get_path(obj, path), ".".join(path))
            if meta.get("resourceVersion"):
                # storage.ErrResourceVersionSetOnCreate is not a Status: a 500 with no reason.
                raise ApiError(500, status(500, "", "resourceVersion should not be set on objects to be created"))
            if self.store.get(rt, meta.get("namespace", ""), meta["name"]) is not None:
                raise already_exists(rt.plural, rt.group, meta["name"])
            for k in ("deletionTimestamp", "deletionGracePeriodSeconds", "selfLink"):
                meta.pop(k, None)
            if not managed:
                meta.pop("managedFields", None)
                track_update(req, rt, None, obj)
            meta["uid"] = uid
            meta["creationTimestamp"] = adm.now()
            if rt.has_generation:
                meta["generation"] = 1
            else:
                meta.pop("generation", None)
            obj = shape(rt, obj)
            if dry:
                return obj_response(201, obj)
            entry = self.store.put(rt, obj, "ADDED")
            if rt.kind == "Namespace":
                self.controllers.namespace_created(meta["name"])
            if rt is CRDS:
                self.controllers.crd_created(meta["name"])
        return obj_response(201, entry)

    # -- update --------------------------------------------------------------
    def update(self, req: ApiRequest) -> Response:
        rt = _rt(req)
        dry = dry_run(req, "UpdateOptions")
        obj, warnings = decode_object(req.body, req.content_type, rt, field_validation(req))
        req.warnings += warnings
        meta = obj.setdefault("metadata", {})
        check_name(meta, req)
        if rt.namespaced:
            meta["namespace"] = req.namespace
        if rt.kind == "Secret":
            convert_secret(obj)
        default_object(rt, obj, creating=False)
        with self.store.lock:
            cur = self.store.get(rt, req.namespace, req.name)
            if cur is None:
                raise not_found(rt.plural, rt.group, req.name)
            return self._update(req, rt, cur, obj, dry)

    def _update(self, req: ApiRequest, rt: ResourceType, cur: Entry, new: dict[str, Any], dry: bool, *,
                managed: bool = False) -> Response:
        old = cur.obj
        om, nm = old["metadata"], new["metadata"]
        rv = nm.get("resourceVersion")
        if rv and rv != om["resourceVersion"]:
            raise conflict(rt.plural, rt.group, req.name)
        if not rv and rt.requires_rv:
            raise invalid(rt.plural, rt.group, req.name, [FieldError(
                "Invalid", "metadata.resourceVersion", 0, "must be specified for an update")])
        nm["uid"] = nm.get("uid") or om["uid"]
        nm["creationTimestamp"] = om["creationTimestamp"]
        for k in ("deletionTimestamp", "deletionGracePeriodSeconds"):
            if k in om:
                nm[k] = om[k]
            else:
                nm.pop(k, None)
        if not managed:
            nm["managedFields"] = om.get("managedFields")
        if (rt.has_generation and not rt.custom) or rt.kind == "Namespace" or "status" in rt.subresources:
            if old.get("status") is None:
                new.pop("status", None)
            else:
                new["status"] = old["status"]
        if rt.kind == "Namespace":
            new["spec"] = old.get("spec")
        if rt.has_generation:
            gen = om.get("generation", 1)
            if generation_part(rt, new) != generation_part(rt, old):
                gen += 1
            nm["generation"] = gen
        if rt.custom:
            crds.apply_defaults(new, rt.schema)
        validate_object(rt, new, old, _strict(req))
        if rt.custom:
            req.warnings += finalizer_warnings(new)
        path = rt.pod_spec_path()
        if path and get_path(new, path) != get_path(old, path):
            req.warnings += pull_secret_warnings(get_path(new, path), ".".join(path))
        new = shape(rt, new)
        new["metadata"]["resourceVersion"] = om["resourceVersion"]
        if not managed:
            track_update(req, rt, old, new)
        if _without_times(new) == _without_times(old):
            return obj_response(200, cur)
        if dry:
            return obj_response(200, new)
        if nm.get("deletionTimestamp") and not nm.get("finalizers"):
            # The last finalizer went: deleted in this request. Watchers see only DELETED (with the
            # last stored state), the client gets the object as patched with the previous revision.
            self._remove(rt, deep_copy(old))
            return obj_response(200, new)
        return obj_response(200, self.store.put(rt, new, "MODIFIED"))

    # -- patch ---------------------------------------------------------------
    def patch(self, req: ApiRequest, view: tuple[View, View] | None = None) -> Response:
        """``view``: (to the API's view, back to storage) when the URL's API is a conversion of the stored one."""
        rt = _rt(req)
        ctype = req.content_type
        if ctype not in PATCH_TYPES:
            raise unsupported_media_type()
        if rt.custom and ctype == "application/strategic-merge-patch+json":
            raise unsupported_patch_type()
        if ctype == "application/apply-patch+yaml":
            return server_side_apply(self, req)
        dry = dry_run(req, "PatchOptions")
        if req.q("force") is not None:
            raise options_invalid("PatchOptions", [FieldError("Forbidden", "force",
                                                              detail="may not be specified for non-apply patch")])
        doc = self._decode_patch(req)
        with self.store.lock:
            cur = self.store.get(rt, req.namespace, req.name)
            if cur is None:
                raise not_found(rt.plural, rt.group, req.name)
            patched = self._apply_patch(req, rt, cur if view is None else Entry(view[0](cur.obj)), doc)
            if view is not None:
                patched = view[1](patched)
            if req.subresource == "status":
                return self._status_update(req, rt, cur, patched, dry)
            return self.finish_patch(req, rt, cur, patched, dry)

    def _decode_patch(self, req: ApiRequest) -> Any:
        if req.content_type == "application/json-patch+json":
            ops, warns = decode_json_patch(req.body)
            req.warnings += warns
            return ops
        return decode_merge_patch(req.body, strategic=req.content_type.startswith("application/strategic"))

    def _apply_patch(self, req: ApiRequest, rt: ResourceType, cur: Entry, doc: Any) -> dict[str, Any]:
        original = deep_copy(cur.obj)
        if req.content_type == "application/json-patch+json":
            return apply_json_patch(original, doc)
        if req.content_type == "application/merge-patch+json":
            return merge_patch(original, doc)
        return apply_strategic(original, doc, rt.kind)

    def update_status(self, req: ApiRequest) -> Response:
        """PUT .../status: only ``status`` changes (what kubelets and controllers write)."""
        rt = _rt(req)
        dry = dry_run(req, "UpdateOptions")
        obj, warnings = decode_object(req.body, req.content_type, rt, field_validation(req))
        req.warnings += warnings
        check_name(obj.setdefault("metadata", {}), req)
        with self.store.lock:
            cur = self.store.get(rt, req.namespace, req.name)
            if cur is None:
                raise not_found(rt.plural, rt.group, req.name)
            return self._status_update(req, rt, cur, obj, dry)

    def _status_update(self, req: ApiRequest, rt: ResourceType, cur: Entry, obj: dict[str, Any],
                       dry: bool) -> Response:
        rv = (obj.get("metadata") or {}).get("resourceVersion")
        if rv and rv != cur.obj["metadata"]["resourceVersion"]:
            raise conflict(rt.plural, rt.group, req.name)
        new = deep_copy(cur.obj)
        new["status"] = obj.get("status") or {}
        if rt.custom:
            req.warnings += [f'unknown field "{w}"' for w in crds.prune(new, rt.schema)]
            errs = crds.validate(new, rt.schema)
            if errs:
                raise invalid(rt.kind, rt.group, req.name, errs)
        new = shape(rt, new)
        if new == cur.obj:
            return obj_response(200, cur)
        if dry:
            return obj_response(200, new)
        return obj_response(200, self.store.put(rt, new, "MODIFIED"))

    def finish_patch(self, req: ApiRequest, rt: ResourceType, cur: Entry, patched: dict[str, Any],
                     dry: bool, *, managed: bool = False) -> Response:
        """Decode the patched object like the apiserver, then run the update path."""
        if req.subresource == "status":  # server-side apply to /status
            return self._status_update(req, rt, cur, patched, dry)
        err = patched_object_error(patched, rt)
        if err is not None:
            raise err
        echoed = json.dumps(patched, separators=(",", ":"), ensure_ascii=False) if rt.custom else ""
        warnings = prune_unknown(patched, rt)
        if warnings and field_validation(req) == "Strict":
            if rt.custom:  # the patched object no longer decodes: 422 on field "patch" echoing it
                raise invalid("", "", "", [FieldError("Invalid", "patch", echoed,
                                                      "strict decoding error: " + ", ".join(warnings))])
            raise bad_request("strict decoding error: " + ", ".join(warnings))
        if field_validation(req) != "Ignore":
            req.warnings += warnings
        patched["kind"], patched["apiVersion"] = rt.kind, rt.api_version
        meta = patched.setdefault("metadata", {})
        check_name(meta, req)
        if rt.namespaced:
            meta["namespace"] = req.namespace
        if rt.kind == "Secret":
            convert_secret(patched)
        default_object(rt, patched, creating=False)
        return self._update(req, rt, cur, patched, dry, managed=managed)

    # -- delete --------------------------------------------------------------
    def delete(self, req: ApiRequest) -> Response:
        rt = _rt(req)
        opts = delete_options(req)
        dry = dry_run(req, "DeleteOptions") or opts.get("dryRun") == ["All"]
        with self.store.lock:
            cur = self.store.get(rt, req.namespace, req.name)
            if cur is None:
                raise not_found(rt.plural, rt.group, req.name)
            return self.delete_entry(rt, cur, opts, dry)

    def delete_entry(self, rt: ResourceType, cur: Entry, opts: dict[str, Any], dry: bool) -> Response:
        meta = cur.obj["metadata"]
        pre = opts.get("preconditions") or {}
        if pre.get("uid") is not None and pre["uid"] != meta["uid"]:
            raise conflict(rt.kind, rt.group, meta["name"],
                           f"the UID in the precondition ({pre['uid']}) does not match the UID in record "
                           f"({meta['uid']}). The object might have been deleted and then recreated")
        if pre.get("resourceVersion") is not None and pre["resourceVersion"] != meta["resourceVersion"]:
            raise conflict(rt.kind, rt.group, meta["name"],
                           f"the ResourceVersion in the precondition ({pre['resourceVersion']}) does not match "
                           f"the ResourceVersion in record ({meta['resourceVersion']}). The object might have "
                           "been modified")
        if rt.kind == "Namespace":
            return self._delete_namespace(cur, dry)
        if meta.get("finalizers"):
            if meta.get("deletionTimestamp"):
                return obj_response(200, cur)
            new = deep_copy(cur.obj)
            new["metadata"]["deletionTimestamp"] = adm.now()
            new["metadata"]["deletionGracePeriodSeconds"] = 0
            if rt.has_generation:
                new["metadata"]["generation"] = meta.get("generation", 1) + 1
            if dry:
                return obj_response(200, new)
            return obj_response(200, self.store.put(rt, shape(rt, new), "MODIFIED"))
        final = deep_copy(cur.obj)
        if rt.kind == "Pod":
            final["metadata"]["deletionTimestamp"] = adm.now()
            final["metadata"]["deletionGracePeriodSeconds"] = 0
            final["metadata"]["generation"] = meta.get("generation", 1) + 1
            final = shape(rt, final)
        entry = Entry(final, rt.custom) if dry else self._remove(rt, final)
        if rt.returns_deleted_object:
            return obj_response(200, entry)
        return Response(200, success(meta["name"], rt.group, rt.plural, meta["uid"]))

    def _remove(self, rt: ResourceType, final: dict[str, Any]) -> Entry:
        meta = final["metadata"]
        ns = meta.get("namespace", "")
        entry = self.store.remove(rt, ns, meta["name"], final)
        self.controllers.removed(rt, ns, meta["name"])
        return entry

    def _delete_namespace(self, cur: Entry, dry: bool) -> Response:
        name = cur.obj["metadata"]["name"]
        if name in adm.IMMORTAL:
            raise forbidden("namespaces", "", name, "this namespace may not be deleted")
        if cur.obj["metadata"].get("deletionTimestamp"):
            return obj_response(200, cur)
        new = deep_copy(cur.obj)
        new["metadata"]["deletionTimestamp"] = adm.now()
        new["status"] = {"phase": "Terminating"}
        if dry:
            return obj_response(200, new)
        entry = self.store.put(NAMESPACES, shape(NAMESPACES, new), "MODIFIED")
        return obj_response(200, entry)  # Terminating until finish_namespace_deletion (no namespace controller)


def _without_times(obj: dict[str, Any]) -> dict[str, Any]:
    """The object with managedFields timestamps blanked (a write that changes nothing else is a no-op)."""
    out = dict(obj)
    meta = dict(out.get("metadata") or {})
    if meta.get("managedFields"):
        meta["managedFields"] = [{**e, "time": ""} for e in meta["managedFields"]]
    out["metadata"] = meta
    return out


def _strict(req: ApiRequest) -> bool:
    """Validation by request version: events.k8s.io/v1 gets the strict Event rules."""
    return "/apis/events.k8s.io/" in req.path


def _rt(req: ApiRequest) -> ResourceType:
    assert req.rt is not None
    return req.rt

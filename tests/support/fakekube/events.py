"""Events: one stored object, two API views (core/v1 and events.k8s.io/v1), asymmetric rules.

Why: a controller records Events through events.k8s.io/v1 while ``kubectl describe`` reads
core/v1; the apiserver stores core Events and converts, and it validates by request version
(events.k8s.io needs eventTime, reportingController, reportingInstance and action; core/v1
checks the involvedObject's namespace unless eventTime is set).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from .decode import decode_object
from .errors import FieldError, not_found
from .request import ApiRequest, Response, field_validation
from .resources import BY_KEY

if TYPE_CHECKING:
    from .server import FakeKube

CORE = BY_KEY["events"]
V1 = BY_KEY["events.events.k8s.io"]
_REF_ORDER = ("kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath")
_QUALIFIED = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
QUALIFIED_MSG = ("name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
                 "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
                 "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')")
# events.k8s.io/v1 field selector labels -> the stored (core) fields
_V1_FIELDS = {"regarding": "involvedObject", "reportingController": "reportingComponent", "note": "message",
              "deprecatedSource": "source"}


def _ref(ref: Any) -> dict[str, Any]:
    ref = ref if isinstance(ref, dict) else {}
    return {k: ref[k] for k in _REF_ORDER if ref.get(k)}


def _pick(obj: dict[str, Any], *pairs: tuple[str, str, bool]) -> dict[str, Any]:
    """(target key, source key, keep when empty) in Go struct order; omitempty unless keep."""
    return {t: obj.get(s) for t, s, keep in pairs if keep or obj.get(s) not in (None, "", 0, {}, [])}


def core_shape(obj: dict[str, Any]) -> dict[str, Any]:
    """A core/v1 Event in Go field order, with the non-omitempty fields present (null/""/{})."""
    out = {"kind": "Event", "apiVersion": "v1", "metadata": obj.get("metadata") or {},
           "involvedObject": _ref(obj.get("involvedObject"))}
    out.update(_pick(obj, ("reason", "reason", False), ("message", "message", False)))
    out["source"] = obj.get("source") or {}
    out.update(_pick(obj, ("firstTimestamp", "firstTimestamp", True), ("lastTimestamp", "lastTimestamp", True),
                     ("count", "count", False), ("type", "type", False), ("eventTime", "eventTime", True),
                     ("series", "series", False), ("action", "action", False), ("related", "related", False)))
    if out.get("related"):
        out["related"] = _ref(out["related"])
    out["reportingComponent"] = obj.get("reportingComponent") or ""
    out["reportingInstance"] = obj.get("reportingInstance") or ""
    return out


def to_v1(core: dict[str, Any]) -> dict[str, Any]:
    out = {"kind": "Event", "apiVersion": "events.k8s.io/v1", "metadata": core.get("metadata") or {}}
    out.update(_pick(core, ("eventTime", "eventTime", True), ("series", "series", False),
                     ("reportingController", "reportingComponent", False),
                     ("reportingInstance", "reportingInstance", False), ("action", "action", False),
                     ("reason", "reason", False)))
    out["regarding"] = _ref(core.get("involvedObject"))
    out.update(_pick(core, ("related", "related", False), ("note", "message", False), ("type", "type", False)))
    out["deprecatedSource"] = core.get("source") or {}
    out.update(_pick(core, ("deprecatedFirstTimestamp", "firstTimestamp", True),
                     ("deprecatedLastTimestamp", "lastTimestamp", True), ("deprecatedCount", "count", False)))
    return out


def to_core(v1: dict[str, Any]) -> dict[str, Any]:
    return core_shape({"metadata": v1.get("metadata") or {}, "involvedObject": v1.get("regarding"),
                       "reason": v1.get("reason"), "message": v1.get("note"), "source": v1.get("deprecatedSource"),
                       "firstTimestamp": v1.get("deprecatedFirstTimestamp"),
                       "lastTimestamp": v1.get("deprecatedLastTimestamp"), "count": v1.get("deprecatedCount"),
                       "type": v1.get("type"), "eventTime": v1.get("eventTime"), "series": v1.get("series"),
                       "action": v1.get("action"), "related": v1.get("related"),
                       "reportingComponent": v1.get("reportingController"),
                       "reportingInstance": v1.get("reportingInstance")})


# -- validation (pkg/apis/core/validation/events.go) ---------------------------------------------

def validate(new: dict[str, Any], old: dict[str, Any] | None, strict: bool) -> list[FieldError]:
    """``strict``: the request came through events.k8s.io/v1 (core/v1 only gets the legacy rules)."""
    errs = _legacy(new, strict)
    if not strict:
        return errs
    if old is None or new.get("series") != old.get("series"):
        errs += _series(new)
    if old is None:
        if not new.get("eventTime"):
            errs.append(FieldError("Required", "eventTime"))
        if new.get("type") not in ("Normal", "Warning"):
            errs.append(FieldError("Invalid", "type", "", f"has invalid value: {new.get('type') or ''}"))
        for f in ("firstTimestamp", "lastTimestamp", "count"):
            if new.get(f):
                errs.append(FieldError("Invalid", f, "", "needs to be unset"))
        if new.get("source"):
            errs.append(FieldError("Invalid", "source", "", "needs to be unset"))
        return errs
    for f in ("involvedObject", "reason", "message", "source", "firstTimestamp", "lastTimestamp", "count", "reason",
              "type"):
        if new.get(f) != old.get(f):
            errs.append(FieldError("Invalid", f, new.get(f), "field is immutable"))
    return errs


def _series(ev: dict[str, Any]) -> list[FieldError]:
    series = ev.get("series")
    if not isinstance(series, dict):
        return []
    errs = []
    if (series.get("count") or 0) < 2:
        errs.append(FieldError("Invalid", "series.count", "", "should be at least 2"))
    if not series.get("lastObservedTime"):
        errs.append(FieldError("Required", "series.lastObservedTime"))
    return errs


def _legacy(ev: dict[str, Any], strict: bool) -> list[FieldError]:
    ns = (ev.get("metadata") or {}).get("namespace", "")
    ref_ns = (ev.get("involvedObject") or {}).get("namespace", "")
    errs: list[FieldError] = []
    if not ev.get("eventTime"):
        if (not ref_ns and ns not in ("", "default")) or (ref_ns and ref_ns != ns):
            errs.append(FieldError("Invalid", "involvedObject.namespace", ref_ns, "does not match event.namespace"))
        return errs
    if not ref_ns and ns not in ("default", "kube-system"):
        errs.append(FieldError("Invalid", "involvedObject.namespace", ref_ns, "does not match event.namespace"))
    field = "reportingController" if strict else "reportingComponent"
    controller = ev.get("reportingComponent") or ""
    if not controller:
        errs.append(FieldError("Required", field))
    name = controller.rsplit("/", 1)[-1]
    if not name:
        errs.append(FieldError("Invalid", field, controller, "name part must be non-empty"))
    if not _QUALIFIED.match(name):
        errs.append(FieldError("Invalid", field, controller, QUALIFIED_MSG))
    for f in ("reportingInstance", "action", "reason"):
        if not ev.get(f):
            errs.append(FieldError("Required", f))
    return errs


# -- the events.k8s.io/v1 view ------------------------------------------------------------------

def serve_v1(kube: FakeKube, req: ApiRequest, verb: str) -> Response:
    """Serve events.k8s.io/v1 from the stored core Events: convert in, delegate, convert out."""
    if req.name and verb not in ("create", "list", "watch"):
        with kube.store.lock:
            if kube.store.get(CORE, req.namespace, req.name) is None:
                raise not_found("events", "events.k8s.io", req.name)
    if verb in ("create", "update"):
        obj, warnings = decode_object(req.body, req.content_type, V1, field_validation(req))
        req.warnings += warnings
        req.body, req.headers["content-type"] = json.dumps(to_core(obj)).encode(), "application/json"
    if req.q("fieldSelector"):
        terms = req.q("fieldSelector") or ""
        for v1, core in _V1_FIELDS.items():
            terms = re.sub(rf"(^|,){v1}(?=[.=!])", rf"\g<1>{core}", terms)
        req.query["fieldSelector"] = [terms]
    req.rt = CORE
    if verb == "patch":
        resp = kube.writer.patch(req, view=(to_v1, to_core))
    elif verb in ("create", "update", "delete"):
        resp = getattr(kube.writer, verb)(req)
    else:
        resp = kube.reader.get(req) if verb == "get" else kube.reader.list(req)
    return present_v1(resp)


def present_v1(resp: Response) -> Response:
    if resp.stream is not None:
        return Response(resp.code, resp.body, resp.headers, _stream_v1(resp.stream))
    if not isinstance(resp.body, bytes | dict) or resp.code >= 300:
        return resp
    body = json.loads(resp.body) if isinstance(resp.body, bytes) else resp.body
    if body.get("kind") == "Event":
        return Response(resp.code, to_v1(body), resp.headers)
    if body.get("kind") == "EventList":
        items = []
        for item in body["items"]:
            v1 = to_v1(item)
            del v1["kind"], v1["apiVersion"]
            items.append(v1)
        body.update(apiVersion="events.k8s.io/v1", items=items)
    return Response(resp.code, body, resp.headers)


def _stream_v1(stream: Iterator[bytes]) -> Iterator[bytes]:
    for chunk in stream:
        lines = []
        for line in chunk.splitlines():
            ev = json.loads(line)
            obj = ev.get("object") or {}
            if obj.get("kind") == "Event":
                ev["object"] = to_v1(obj) if "metadata" in obj and len(obj) > 3 else {
                    **obj, "apiVersion": "events.k8s.io/v1"}
            lines.append(json.dumps(ev, separators=(",", ":")).encode() + b"\n")
        yield b"".join(lines)


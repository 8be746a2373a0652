"""Status bodies exactly as kube-apiserver builds them (k8s.io/apimachinery/pkg/api/errors).

Why: the product under test branches on ``reason``/``code``/``details``; a fake that answers
with approximate shapes would let bugs through that a real cluster exposes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

_NO_VALUE = object()

# Reasons of field.Error types (k8s.io/apimachinery/pkg/util/validation/field).
_CAUSE = {
    "Required": "FieldValueRequired",
    "Invalid": "FieldValueInvalid",
    "Forbidden": "FieldValueForbidden",
    "NotSupported": "FieldValueNotSupported",
    "Duplicate": "FieldValueDuplicate",
    "TooLong": "FieldValueTooLong",
    "TooMany": "FieldValueTooMany",
    "NotFound": "FieldValueNotFound",
    "TypeInvalid": "FieldValueTypeInvalid",
}


class ApiError(Exception):
    """Raised anywhere in the fake to answer the request with a Status (or raw) response."""

    def __init__(self, code: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        super().__init__(body.get("message", ""))
        self.code = code
        self.body = body
        self.headers = headers or {}


def go_quote(s: str) -> str:
    """strconv.Quote: a Go double-quoted string literal (used for %q in messages)."""
    out = ['"']
    for ch in s:
        o = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif o < 0x20 or o == 0x7F:
            out.append(f"\\x{o:02x}")
        elif 0x80 <= o < 0xA0 or o == 0xAD:
            out.append(f"\\u{o:04x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def go_value(v: Any) -> str:
    """Render a value the way field.Error does (%q for strings, %d for ints, JSON otherwise)."""
    if isinstance(v, str):
        return go_quote(v)
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    return json.dumps(v, separators=(",", ":"), sort_keys=isinstance(v, dict))


@dataclass
class FieldError:
    """One field.Error: ``type`` is Required/Invalid/Forbidden/NotSupported/Duplicate/TooLong."""

    type: str
    field: str
    value: Any = _NO_VALUE
    detail: str = ""
    supported: list[str] = field(default_factory=list)

    def body(self) -> str:
        t = self.type
        if t == "Required":
            s = "Required value"
        elif t == "Forbidden":
            s = "Forbidden"
        elif t == "TooLong":
            s = "Too long"
        elif t == "NotSupported":
            s = "Unsupported value: " + self._value()
            if self.supported:
                s += ": supported values: " + ", ".join(go_quote(x) for x in self.supported)
        elif t == "Duplicate":
            s = "Duplicate value: " + self._value()
        else:
            s = "Invalid value: " + self._value()
        if self.detail:
            s += ": " + self.detail
        return s

    def _value(self) -> str:
        if self.value is _NO_VALUE:
            return ""
        return go_value(self.value)

    def error(self) -> str:
        return f"{self.field}: {self.body()}" if self.field else self.body()


def status(
    code: int,
    reason: str,
    message: str,
    details: dict[str, Any] | None = None,
    metadata: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A failure Status; ``details=None`` omits the key (as for BadRequest/Unauthorized)."""
    body: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": metadata or {},
        "status": "Failure",
        "message": message,
    }
    if reason:
        body["reason"] = reason
    if details is not None:
        body["details"] = details
    body["code"] = code
    return body


def qualified(plural: str, group: str) -> str:
    """GroupResource.String(): ``deployments.apps`` or ``secrets``."""
    return f"{plural}.{group}" if group else plural


def _details(name: str | None, group: str, kind: str, **extra: Any) -> dict[str, Any]:
    d: dict[str, Any] = {}
    if name:
        d["name"] = name
    if group:
        d["group"] = group
    if kind:
        d["kind"] = kind
    d.update(extra)
    return d


def not_found(plural: str, group: str, name: str) -> ApiError:
    msg = f"{qualified(plural, group)} {go_quote(name)} not found"
    return ApiError(404, status(404, "NotFound", msg, _details(name, group, plural)))


def already_exists(plural: str, group: str, name: str) -> ApiError:
    msg = f"{qualified(plural, group)} {go_quote(name)} already exists"
    return ApiError(409, status(409, "AlreadyExists", msg, _details(name, group, plural)))


MODIFIED = "the object has been modified; please apply your changes to the latest version and try again"


def conflict(plural: str, group: str, name: str, err: str = MODIFIED) -> ApiError:
    """errors.NewConflict; ``plural`` may also be a Kind (delete preconditions use the Kind)."""
    msg = f"Operation cannot be fulfilled on {qualified(plural, group)} {go_quote(name)}: {err}"
    return ApiError(409, status(409, "Conflict", msg, _details(name, group, plural)))


def forbidden(plural: str, group: str, name: str, err: str, causes: list[dict[str, str]] | None = None) -> ApiError:
    q = qualified(plural, group)
    msg = f"{q} {go_quote(name)} is forbidden: {err}" if name else f"{q} is forbidden: {err}"
    extra = {"causes": causes} if causes else {}
    return ApiError(
        403,
        status(403, "Forbidden", msg, _details(name, group, plural, **extra)),
        {"X-Content-Type-Options": "nosniff"},
    )


def aggregate(errs: list[FieldError]) -> str:
    """utilerrors.NewAggregate(...).Error(): de-duplicated, bracketed when more than one."""
    seen: list[str] = []
    for e in errs:
        m = e.error()
        if m not in seen:
            seen.append(m)
    if len(seen) == 1:
        return seen[0]
    return "[" + ", ".join(seen) + "]"


def invalid(kind: str, group: str, name: str, errs: list[FieldError]) -> ApiError:
    """errors.NewInvalid: details.kind is the Kind, every field error becomes a cause."""
    qk = f"{kind}.{group}" if group else kind
    causes = [{"reason": _CAUSE.get(e.type, e.type), "message": e.body(), "field": e.field} for e in errs]
    msg = f"{qk} {go_quote(name)} is invalid: {aggregate(errs)}"
    return ApiError(422, status(422, "Invalid", msg, _details(name, group, kind, causes=causes)))


def bad_request(message: str) -> ApiError:
    return ApiError(400, status(400, "BadRequest", message))


def generic_422() -> ApiError:
    """NewGenericServerResponse(422): the opaque answer to every failed json-patch op."""
    msg = "the server rejected our request due to an error in our request"
    return ApiError(422, status(422, "Invalid", msg, {}))


def method_not_allowed() -> ApiError:
    msg = "the server does not allow this method on the requested resource"
    return ApiError(405, status(405, "MethodNotAllowed", msg, {}))


def unsupported_media_type() -> ApiError:
    return ApiError(415, status(415, "UnsupportedMediaType", "415: Unsupported Media Type", {}))


def unsupported_patch_type() -> ApiError:
    """A strategic merge patch on a custom resource (no Go struct to read patch strategies from)."""
    return ApiError(415, status(415, "UnsupportedMediaType", "the body of the request was in an unknown format - "
                                "accepted media types include: application/json-patch+json, "
                                "application/merge-patch+json, application/apply-patch+yaml"))


def not_acceptable() -> ApiError:
    msg = (
        "406: Not Acceptable\n\nAvailable representations: "
        "application/json, application/yaml, application/vnd.kubernetes.protobuf"
    )
    return ApiError(406, status(406, "NotAcceptable", msg, {}))


def unknown_resource() -> ApiError:
    msg = "the server could not find the requested resource"
    return ApiError(404, status(404, "NotFound", msg, {}))


def unauthorized() -> ApiError:
    return ApiError(401, status(401, "Unauthorized", "Unauthorized"))


def too_large_rv(requested: int, current: int) -> ApiError:
    details = {
        "causes": [{"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}],
        "retryAfterSeconds": 1,
    }
    msg = f"Timeout: Too large resource version: {requested}, current: {current}"
    return ApiError(504, status(504, "Timeout", msg, details), {"Retry-After": "1"})


def expired(message: str, metadata: dict[str, Any] | None = None) -> ApiError:
    return ApiError(410, status(410, "Expired", message, None, metadata))


def options_invalid(kind: str, errs: list[FieldError]) -> ApiError:
    """Invalid CreateOptions/PatchOptions/ListOptions (group meta.k8s.io, empty name)."""
    return invalid(kind, "meta.k8s.io", "", errs)


def success(name: str, group: str, plural: str, uid: str) -> dict[str, Any]:
    """The Status{Success} returned by DELETE for types without ReturnDeletedObject."""
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "details": _details(name, group, plural, uid=uid),
    }

"""Request/response value types shared by the HTTP layer and the verb implementations."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from .auth import User
from .errors import FieldError, bad_request, options_invalid
from .gojson import loads
from .resources import ResourceType
from .store import META_ORDER, Entry


@dataclass
class ApiRequest:
    """One parsed API request (RequestInfo plus the raw body and parameters)."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes = b""
    user: User | None = None
    rt: ResourceType | None = None
    namespace: str = ""
    name: str = ""
    subresource: str = ""
    verb: str = ""
    warnings: list[str] = field(default_factory=list)

    def q(self, key: str, default: str | None = None) -> str | None:
        vals = self.query.get(key)
        return vals[0] if vals else default

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";", 1)[0].strip().lower()

    @property
    def user_agent(self) -> str:
        return self.headers.get("user-agent", "")


@dataclass
class Response:
    code: int
    body: bytes | dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    stream: Iterator[bytes] | None = None


def obj_response(code: int, entry_or_obj: Entry | dict[str, Any]) -> Response:
    if isinstance(entry_or_obj, Entry):
        return Response(code, entry_or_obj.full())
    return Response(code, entry_or_obj)


def dry_run(req: ApiRequest, options_kind: str) -> bool:
    """``dryRun`` must be ``All`` (any other value is a 422 on the *Options kind)."""
    values = req.query.get("dryRun", [])
    if not values:
        return False
    if all(v == "All" for v in values):
        return True
    raise options_invalid(options_kind, [FieldError("NotSupported", "dryRun", values, supported=["All"])])


def field_validation(req: ApiRequest) -> str:
    return req.q("fieldValidation") or "Warn"


def deep_copy(obj: Any) -> Any:
    return json.loads(json.dumps(obj))


def canonical(obj: dict[str, Any]) -> dict[str, Any]:
    """Order keys as Go serialises them: kind, apiVersion, metadata (ObjectMeta order), ..., status."""
    meta = obj.get("metadata") or {}
    ordered_meta = {k: meta[k] for k in META_ORDER if k in meta and meta[k] not in (None, "", {}, [])}
    out: dict[str, Any] = {"kind": obj.get("kind"), "apiVersion": obj.get("apiVersion"), "metadata": ordered_meta}
    for k, v in obj.items():
        if k in ("kind", "apiVersion", "metadata", "status") or v is None or v == []:
            continue
        if k in ("data", "stringData", "binaryData") and v == {}:
            continue
        out[k] = v
    if obj.get("status") is not None:
        out["status"] = obj["status"]
    return out


def check_name(meta: dict[str, Any], req: ApiRequest) -> None:
    if meta.get("name", "") != req.name:
        raise bad_request(f"the name of the object ({meta.get('name', '')}) does not match the name on the URL ({req.name})")
    if req.namespace and meta.get("namespace") and meta["namespace"] != req.namespace:
        raise bad_request("the namespace of the provided object does not match the namespace sent on the request")


def delete_options(req: ApiRequest) -> dict[str, Any]:
    if not req.body.strip():
        return {}
    try:
        opts = loads(req.body)
    except ValueError as e:
        raise bad_request(str(e)) from None
    if not isinstance(opts, dict):
        raise bad_request("json: cannot unmarshal into Go value of type v1.DeleteOptions")
    return opts


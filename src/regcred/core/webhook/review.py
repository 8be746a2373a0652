"""`admission.k8s.io/v1` AdmissionReview: a request read within bounds, and the answer as bytes.

Why bytes in and out: the HTTPS server hands the body over untouched and writes back what it gets, so every
decision about a hostile or malformed body is made here, once, and tested without a network. Reading never
raises out: a body that is not a review becomes `BadReview`, carrying the request's uid when one could be read,
so the caller can still answer that request (allowed, unchanged) — the API server discards an answer whose uid
differs from its request's. Without a uid there is nothing to answer: `bad_request_body` is the HTTP 400 body.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from regcred.core.safeload import json_too_deep

API_VERSIONS = ("admission.k8s.io/v1", "admission.k8s.io/v1beta1")
KIND = "AdmissionReview"
# The API server's own request limit is 3 MiB per object; the review wraps the object (and, for updates, the old
# one), so the cap leaves room for two objects and the envelope.
MAX_REVIEW_BYTES = 7 * 1024 * 1024
BAD_REQUEST_PREFIX = b'{"kind":"Status"'
POD = ("", "v1", "Pod")


class BadReview(Exception):
    """A body that is not a usable AdmissionReview: one line saying why, and the uid when it was readable."""

    def __init__(self, message: str, uid: str | None = None, api_version: str = API_VERSIONS[0]) -> None:
        super().__init__(message)
        self.uid = uid
        self.api_version = api_version


@dataclass(frozen=True, slots=True)
class AdmissionRequest:
    """The fields of `request` the webhook reads; `object` is the Pod as built-in admission left it."""

    uid: str
    operation: str
    namespace: str
    kind: tuple[str, str, str]  # group, version, kind
    sub_resource: str = ""
    name: str = ""
    dry_run: bool = False
    object: Mapping[str, Any] = field(default_factory=dict, repr=False)
    api_version: str = API_VERSIONS[0]

    @property
    def is_pod_create(self) -> bool:
        return self.operation == "CREATE" and self.kind == POD and not self.sub_resource


def _string(value: Any) -> str:
    return value if isinstance(value, str) else ""


def parse_review(body: bytes) -> AdmissionRequest:
    """The request of an AdmissionReview body; raises BadReview (and nothing else) when it is not one."""
    if len(body) > MAX_REVIEW_BYTES:
        raise BadReview(f"the review is larger than {MAX_REVIEW_BYTES} bytes")
    if json_too_deep(body):
        raise BadReview("the review is nested too deeply")
    try:
        doc = orjson.loads(body)  # a third of json.loads' time on the hot path; any invalid JSON is a ValueError
    except (ValueError, RecursionError):
        raise BadReview("the body is not JSON") from None
    if not isinstance(doc, dict):
        raise BadReview("the body is not a JSON object")
    request = doc.get("request")
    uid = request.get("uid") if isinstance(request, dict) else None
    uid = uid if isinstance(uid, str) and uid else None
    api_version = doc.get("apiVersion")
    if api_version not in API_VERSIONS or doc.get("kind") != KIND:
        raise BadReview(f"not an {KIND} of {' or '.join(API_VERSIONS)}", uid)
    assert isinstance(api_version, str)
    if not isinstance(request, dict) or uid is None:
        raise BadReview("the review has no request.uid", uid, api_version)
    kind = request.get("kind")
    kind = kind if isinstance(kind, dict) else {}
    obj = request.get("object")
    return AdmissionRequest(
        uid=uid,
        operation=_string(request.get("operation")),
        namespace=_string(request.get("namespace")),
        kind=(_string(kind.get("group")), _string(kind.get("version")), _string(kind.get("kind"))),
        sub_resource=_string(request.get("subResource")),
        name=_string(request.get("name")),
        dry_run=request.get("dryRun") is True,
        object=obj if isinstance(obj, dict) else {},
        api_version=api_version,
    )


def _compact(doc: Any) -> bytes:
    return orjson.dumps(doc)  # compact UTF-8, like json.dumps with separators (",", ":") and ensure_ascii off


def review_response(uid: str, patch: Sequence[Mapping[str, Any]] = (), *,
                    api_version: str = API_VERSIONS[0], warnings: Sequence[str] = ()) -> bytes:
    """The answer: allowed, with the JSON Patch (base64, patchType JSONPatch) when there is one."""
    response: dict[str, Any] = {"uid": uid, "allowed": True}
    if patch:
        response["patchType"] = "JSONPatch"
        response["patch"] = base64.b64encode(_compact(list(patch))).decode("ascii")
    if warnings:
        response["warnings"] = list(warnings)
    return _compact({"apiVersion": api_version, "kind": KIND, "response": response})


def bad_request_body(message: str) -> bytes:
    """The HTTP 400 body for a body that names no request to answer (a meta/v1 Status, like the API server's)."""
    return _compact({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                     "message": message, "reason": "BadRequest", "code": 400})


def answer_status(answer: bytes) -> int:
    """The HTTP status to send an answer of the webhook's handler with: 400 for `bad_request_body`, else 200."""
    return 400 if answer.startswith(BAD_REQUEST_PREFIX) else 200

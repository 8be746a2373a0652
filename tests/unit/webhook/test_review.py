"""AdmissionReview bodies read within bounds, and the answers the API server accepts (uid echoed, base64 patch)."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from regcred.core.webhook.review import (
    MAX_REVIEW_BYTES,
    BadReview,
    answer_status,
    bad_request_body,
    parse_review,
    review_response,
)


def review(**request: Any) -> dict[str, Any]:
    """A review as the kube-apiserver v1.36 sends it (reference api-responses-controller.md 6.3), trimmed."""
    base = {"uid": "705ab4f5-6393-11e8-b7cc-42010a800002",
            "kind": {"group": "", "version": "v1", "kind": "Pod"},
            "resource": {"group": "", "version": "v1", "resource": "pods"},
            "requestKind": {"group": "", "version": "v1", "kind": "Pod"},
            "requestResource": {"group": "", "version": "v1", "resource": "pods"},
            "namespace": "ctl6", "operation": "CREATE",
            "userInfo": {"username": "kcp-admin", "groups": ["system:masters"]},
            "object": {"kind": "Pod", "apiVersion": "v1", "metadata": {"generateName": "web-"},
                       "spec": {"containers": [{"name": "app", "image": "registry.example:5000/team/app:1"}]}},
            "oldObject": None, "dryRun": False, "options": {"kind": "CreateOptions", "apiVersion": "meta.k8s.io/v1"}}
    base.update(request)
    return {"kind": "AdmissionReview", "apiVersion": "admission.k8s.io/v1", "request": base}


def body(doc: Any) -> bytes:
    return json.dumps(doc).encode()


def test_a_pod_create_is_read() -> None:
    request = parse_review(body(review()))
    assert request.uid == "705ab4f5-6393-11e8-b7cc-42010a800002"
    assert request.is_pod_create and request.namespace == "ctl6" and not request.dry_run
    assert request.object["metadata"] == {"generateName": "web-"}
    assert parse_review(body(review(dryRun=True))).dry_run


@pytest.mark.parametrize("change", [{"operation": "UPDATE"}, {"subResource": "status"},
                                    {"kind": {"group": "apps", "version": "v1", "kind": "Deployment"}}])
def test_other_requests_are_not_pod_creates(change: dict[str, Any]) -> None:
    assert not parse_review(body(review(**change))).is_pod_create


def test_the_answer_echoes_the_uid_and_carries_a_base64_json_patch() -> None:
    patch = [{"op": "add", "path": "/spec/imagePullSecrets", "value": [{"name": "regcred"}]}]
    answer = json.loads(review_response("u-1", patch))
    assert answer["apiVersion"] == "admission.k8s.io/v1" and answer["kind"] == "AdmissionReview"
    response = answer["response"]
    assert response["uid"] == "u-1" and response["allowed"] is True and response["patchType"] == "JSONPatch"
    assert json.loads(base64.b64decode(response["patch"])) == patch
    assert json.loads(review_response("u-2"))["response"] == {"uid": "u-2", "allowed": True}  # no patchType alone
    assert answer_status(review_response("u-2")) == 200


@pytest.mark.parametrize(("raw", "uid"), [
    (b"", None), (b"not json", None), (b"[]", None), (b"\xff\xfe", None), (b'{"kind": "AdmissionReview"}', None),
    (body({"kind": "AdmissionReview", "apiVersion": "admission.k8s.io/v1", "request": {"uid": 7}}), None),
    (body({"kind": "AdmissionReview", "apiVersion": "admission.k8s.io/v1", "request": "x"}), None),
    (body({**review(), "apiVersion": "admission.k8s.io/v2"}), "705ab4f5-6393-11e8-b7cc-42010a800002"),
    (b"[" * 5000 + b"]" * 5000, None),
    (b'{"a": ' + b"[" * 200_000, None),
])
def test_malformed_bodies_are_bad_reviews_with_the_uid_when_readable(raw: bytes, uid: str | None) -> None:
    with pytest.raises(BadReview) as caught:
        parse_review(raw)
    assert caught.value.uid == uid
    assert "\n" not in str(caught.value)


def test_an_oversized_body_is_refused_before_it_is_parsed() -> None:
    with pytest.raises(BadReview, match="larger than"):
        parse_review(b" " * (MAX_REVIEW_BYTES + 1))


def test_the_bad_request_body_is_a_status_the_server_sends_with_400() -> None:
    answer = bad_request_body("the body is not JSON")
    assert answer_status(answer) == 400
    assert json.loads(answer) == {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                                  "message": "the body is not JSON", "reason": "BadRequest", "code": 400}


@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=5),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
                    max_leaves=30))
@settings(max_examples=300, deadline=None)  # a shared 2-core machine: no per-example timing
def test_any_json_is_a_request_or_a_bad_review(doc: Any) -> None:
    for candidate in (doc, {"kind": "AdmissionReview", "apiVersion": "admission.k8s.io/v1", "request": doc}):
        try:
            request = parse_review(body(candidate))
        except BadReview as exc:  # why: the only exception; its text is one line
            assert "\n" not in str(exc)
        else:
            assert request.uid

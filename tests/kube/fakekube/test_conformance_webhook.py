"""Conformance of the fake's mutating admission webhooks: replays section 6 of ``api-responses-controller.json``.

A scripted webhook on loopback (tests/support/webhookpeer.py) answers as the recorded test webhook did; the fake's
answers to the clients and the AdmissionReviews it POSTs are compared with what kube-apiserver v1.36.2 did.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.kube.fakekube.replay import matches
from tests.kube.fakekube.test_conformance_controller import Api, rec
from tests.support.fakekube import FakeKube
from tests.support.webhookpeer import ScriptedWebhook, json_patch

RECORDED_URL = "https://127.0.0.1:18443/mutate"
RECORDED_CA = "<base64 PEM of the throwaway test CA certificate>"
PODS = "/api/v1/namespaces/ctl6/pods"
ADD_LIST = {"op": "add", "path": "/spec/imagePullSecrets", "value": [{"name": "regcred"}]}
APPEND = {"op": "add", "path": "/spec/imagePullSecrets/-", "value": {"name": "regcred"}}


@pytest.fixture
def peer() -> Iterator[ScriptedWebhook]:
    hook = ScriptedWebhook()
    yield hook
    hook.stop()


@pytest.fixture
def api(peer: ScriptedWebhook) -> Iterator[Api]:
    with FakeKube() as kube:
        client = Api(kube)
        client.subs = {RECORDED_URL: peer.url, RECORDED_CA: peer.ca_bundle}  # type: ignore[attr-defined]
        client.replay("6. (setup) create the MutatingWebhookConfiguration", client.subs,  # type: ignore[attr-defined]
                      expect=client.subs)  # type: ignore[attr-defined]
        client.ns("ctl6")
        yield client
        client.http.close()


def received(peer: ScriptedWebhook, scenario: str, *, answer: dict[str, Any] | None = None) -> None:
    """The last AdmissionReview the webhook got matches the recorded one (path, headers, body)."""
    record = rec(scenario)["request"]
    got = peer.received[-1]
    assert got.path == record["path"]
    for header in ("User-Agent", "Accept", "Content-Type", "Accept-Encoding"):
        assert got.headers.get(header) == record["headers"][header], header
    want = json.loads(json.dumps(record["body"]))
    user = got.body["request"].pop("userInfo")  # another identity: the fake's admin
    want["request"].pop("userInfo")
    assert user["groups"] == ["system:masters", "system:authenticated"]
    assert matches(want, got.body, False) == []


def test_calls_and_answers_like_the_apiserver(api: Api, peer: ScriptedWebhook) -> None:
    api.replay("6. client: create Pod p-plain (webhook answers allowed, no patch)")
    received(peer, "6. webhook receives: AdmissionReview for a plain Pod create (kubectl-style client, name set)")
    api.replay("6. client: create Pod p-dry with ?dryRun=All")
    received(peer, "6. webhook receives: AdmissionReview for a dry-run Pod create")
    assert api.http.get(f"{PODS}/p-dry").status_code == 404
    peer.answer = json_patch(ADD_LIST, warnings=["regcred-injector: added imagePullSecrets regcred"])
    api.replay("6. client: create Pod p-patch; webhook answers JSONPatch add /spec/imagePullSecrets [regcred]")
    received(peer, "6. webhook exchange: JSONPatch add /spec/imagePullSecrets (list absent) + warnings")


def test_a_patch_that_does_not_apply_rejects_the_pod_even_with_ignore(api: Api, peer: ScriptedWebhook) -> None:
    peer.answer = json_patch(APPEND)
    api.replay("6. client: create Pod p-append; webhook answers JSONPatch add /spec/imagePullSecrets/- while")
    api.replay("6. GET Pod p-append afterwards")


@pytest.mark.parametrize(("scenario", "answer"), [
    ("6. client: create Pod p-notype", lambda r: {"uid": r["uid"], "allowed": True,
                                                  "patch": base64.b64encode(json.dumps([ADD_LIST]).encode()).decode()}),
    ("6. client: create Pod p-wronguid", lambda r: {**json_patch(ADD_LIST)(r), "uid": "another"}),
])
def test_an_invalid_answer_is_a_call_failure_and_ignore_admits(api: Api, peer: ScriptedWebhook, scenario: str,
                                                                answer: Any) -> None:
    peer.answer = answer
    api.replay(scenario)


def test_a_denial_carries_the_webhooks_code(api: Api, peer: ScriptedWebhook) -> None:
    peer.answer = lambda r: {"uid": r["uid"], "allowed": False, "status": {
        "code": 403, "message": "regcred-injector: pulls from this registry are not allowed"}}
    api.replay("6. client: create Pod p-deny; webhook answers allowed=false with status code 403")


def test_a_slow_webhook_times_out_and_ignore_admits(api: Api, peer: ScriptedWebhook) -> None:
    api.patch("/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/regcred-injector",
              [{"op": "replace", "path": "/webhooks/0/timeoutSeconds", "value": 1}], "application/json-patch+json")
    peer.delay = 2.0
    peer.answer = json_patch(ADD_LIST)
    started = time.monotonic()
    api.replay("6. client: create Pod p-slow; webhook answers after 7 s")
    assert time.monotonic() - started >= 1.0  # the create waited for the webhook's timeout
    assert peer.received[-1].path == "/mutate?timeout=1s"


def test_a_webhook_that_is_down(api: Api, peer: ScriptedWebhook) -> None:
    peer.stop()
    api.replay("6. client: create Pod p-down; webhook server down (connection refused), failurePolicy Ignore")
    api.patch("/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/regcred-injector",
              [{"op": "replace", "path": "/webhooks/0/failurePolicy", "value": "Fail"}], "application/json-patch+json")
    subs = {"127.0.0.1:18443": f"127.0.0.1:{peer.port}"}
    api.replay("6. client: create Pod p-down-fail; webhook server down, failurePolicy Fail", expect=subs)
    api.replay("6. client: create Pod p-down-fail; webhook server down, failurePolicy Fail", expect=subs,
               path=f"{PODS}?dryRun=All")


def test_the_serviceaccount_plugin_runs_first(api: Api, peer: ScriptedWebhook) -> None:
    api.patch("/api/v1/namespaces/ctl6/serviceaccounts/default", {"imagePullSecrets": [{"name": "from-sa"}]})
    api.replay("6. client: create Pod p-sa (no imagePullSecrets) after the default ServiceAccount got")
    received(peer, "6. webhook receives: Pod whose ServiceAccount has imagePullSecrets")
    peer.answer = json_patch(ADD_LIST, warnings=["regcred-injector: added imagePullSecrets regcred"])
    api.replay("6. client: create Pod p-sa-patch (SA has [from-sa]); webhook answers JSONPatch add")
    peer.answer = json_patch(APPEND)
    api.replay("6. client: create Pod p-sa-append (SA has [from-sa])")


def test_a_generated_name_is_not_sent(api: Api, peer: ScriptedWebhook) -> None:
    """As recorded for a ReplicaSet's Pod: no request.name and no object.metadata.name, only generateName."""
    created = api.post(PODS, {"apiVersion": "v1", "kind": "Pod", "metadata": {"generateName": "web-5b5b67d8bf-"},
                              "spec": {"containers": [{"name": "app", "image": "registry.example:5000/team/web:1"}]}})
    assert created["metadata"]["name"].startswith("web-5b5b67d8bf-")
    request = peer.received[-1].body["request"]
    assert "name" not in request and "name" not in request["object"]["metadata"]
    assert request["object"]["metadata"]["generateName"] == "web-5b5b67d8bf-"
    assert "name" not in rec("6. webhook receives: AdmissionReview for a Pod created by a Deployment's ReplicaSet"
                             )["request"]["body"]["request"]

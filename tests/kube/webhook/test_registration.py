"""Mutating webhooks registered through clientConfig.url: what the API server calls, when, and what it keeps.

Runs on the fake API and, with KUBEBUILDER_ASSETS, on a real kube-apiserver (the `kube` fixture); a scripted
webhook on loopback (tests/support/webhookpeer.py) answers. This is where the fake's webhook dispatcher is held
to the real one: defaults, selectors, dry runs, failurePolicy, reinvocation.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from regcred.core.webhook.patch import OPT_OUT_LABEL
from tests.support.kube import KubeError
from tests.support.webhookpeer import ScriptedWebhook, json_patch

MWC = ("admissionregistration.k8s.io/v1", "MutatingWebhookConfiguration")
ADD_LIST = {"op": "add", "path": "/spec/imagePullSecrets", "value": [{"name": "regcred"}]}
OPT_OUT = OPT_OUT_LABEL


def pod(name: str = "", labels: dict[str, str] | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name} if name else {"generateName": "p-"}
    if labels:
        meta["labels"] = labels
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta,
            "spec": {"containers": [{"name": "app", "image": "registry.example:5000/team/app:1"}]}}


class Registrations:
    """Registers webhooks for the test's own namespaces only (envtest shares one apiserver) and removes them."""

    def __init__(self, kube: Any) -> None:
        self.kube = kube
        self.names: list[str] = []
        self.peers: list[ScriptedWebhook] = []

    def add(self, namespaces: list[str], name: str | None = None, **webhook: Any) -> ScriptedWebhook:
        peer = ScriptedWebhook()
        self.peers.append(peer)
        name = name or self.kube.unique_ns("regcred-test")
        webhook.setdefault("namespaceSelector", {"matchExpressions": [
            {"key": "kubernetes.io/metadata.name", "operator": "In", "values": namespaces}]})
        stored = self.kube.create({**peer.registration(name, **webhook)})
        self.names.append(stored["metadata"]["name"])
        self.stored = stored
        return peer

    def close(self) -> None:
        for name in self.names:
            self.kube.delete(*MWC, name)
        for peer in self.peers:
            peer.stop()


@pytest.fixture
def hooks(kube: Any) -> Iterator[Registrations]:
    regs = Registrations(kube)
    yield regs
    regs.close()


def eventually(check: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def wait_called(kube: Any, ns: str, peer: ScriptedWebhook) -> None:
    """A new registration is seen by the apiserver's informer after a few ms: dry-run Pods until it is called."""
    assert eventually(lambda: bool(kube.create({**pod(), "metadata": {"generateName": "probe-", "namespace": ns}},
                                                dry_run=True)) and bool(peer.received)), "the webhook was never called"
    peer.received.clear()


def test_the_registration_is_stored_with_the_servers_defaults(kube: Any, hooks: Registrations) -> None:
    ns = kube.unique_ns("wh")
    hooks.add([ns])
    hook = hooks.stored["webhooks"][0]
    assert hook["rules"][0]["scope"] == "*"
    assert (hook["matchPolicy"], hook["objectSelector"], hook["reinvocationPolicy"]) == ("Equivalent", {}, "Never")
    assert hooks.stored["metadata"]["generation"] == 1


@pytest.mark.parametrize(("change", "error"), [
    ({"sideEffects": "Some"}, 'webhooks[0].sideEffects: Unsupported value: "Some": supported values: "None", '
                              '"NoneOnDryRun"'),
    ({"sideEffects": None}, "webhooks[0].sideEffects: Required value: must specify one of None, NoneOnDryRun"),
    ({"clientConfig": {"url": "http://127.0.0.1:1/m"}}, 'webhooks[0].clientConfig.url: Invalid value: "http": '
                                                         "'https' is the only allowed URL scheme; desired format: "
                                                         "https://host[/path]"),
    ({"clientConfig": {"url": "https://127.0.0.1:1/m?x=1"}}, 'webhooks[0].clientConfig.url: Invalid value: "x=1": '
                                                              "query parameters are not permitted in the URL"),
    ({"clientConfig": {}}, "webhooks[0].clientConfig: Required value: exactly one of url or service is required"),
    ({"timeoutSeconds": 31}, "webhooks[0].timeoutSeconds: Invalid value: 31: the timeout value must be between 1 "
                             "and 30 seconds"),
    ({"name": "ab"}, 'webhooks[0].name: Invalid value: "ab": should be a domain with at least three segments '
                     "separated by dots"),
    ({"admissionReviewVersions": []}, "webhooks[0].admissionReviewVersions: Required value: must specify one of v1, "
                                      "v1beta1"),
    ({"failurePolicy": "X"}, 'webhooks[0].failurePolicy: Unsupported value: "X": supported values: "Fail", '
                             '"Ignore"'),
])
def test_an_invalid_registration_is_refused_with_the_servers_words(kube: Any, change: dict[str, Any],
                                                                   error: str) -> None:
    name = kube.unique_ns("bad")
    doc = ScriptedWebhook.registration_for("https://127.0.0.1:1/m", "", name)
    hook = {k: v for k, v in {**doc["webhooks"][0], **change}.items() if v is not None}
    hook["clientConfig"] = {k: v for k, v in hook["clientConfig"].items() if v}
    with pytest.raises(KubeError) as err:
        kube.create({**doc, "webhooks": [hook]})
    assert err.value.status == 422
    assert err.value.body["message"] == f'MutatingWebhookConfiguration.admissionregistration.k8s.io "{name}" is ' \
                                        f"invalid: {error}"


def test_a_pod_create_is_patched_and_a_dry_run_is_flagged(kube: Any, hooks: Registrations) -> None:
    ns = kube.unique_ns("wh")
    kube.create_namespace(ns)
    peer = hooks.add([ns], reinvocationPolicy="IfNeeded")
    wait_called(kube, ns, peer)
    peer.answer = json_patch(ADD_LIST, warnings=["added regcred"])
    created = kube.create({**pod(), "metadata": {"generateName": "web-", "namespace": ns}})
    assert created["spec"]["imagePullSecrets"] == [{"name": "regcred"}]
    request = peer.received[-1].body["request"]
    assert (request["namespace"], request["operation"], request["dryRun"]) == (ns, "CREATE", False)
    assert "name" not in request and peer.received[-1].path == "/mutate?timeout=5s"
    dry = kube.create({**pod("dry"), "metadata": {"name": "dry", "namespace": ns}}, dry_run=True)
    assert dry["spec"]["imagePullSecrets"] == [{"name": "regcred"}]
    assert peer.received[-1].body["request"]["dryRun"] is True
    assert kube.get("v1", "Pod", "dry", ns) is None


def test_selectors_keep_the_webhook_away(kube: Any, hooks: Registrations) -> None:
    ns, other = kube.unique_ns("wh"), kube.unique_ns("wh-other")
    kube.create_namespace(ns)
    kube.create_namespace(other)
    peer = hooks.add([ns], objectSelector={"matchExpressions": [
        {"key": OPT_OUT, "operator": "NotIn", "values": ["false"]}]})
    wait_called(kube, ns, peer)
    peer.answer = json_patch(ADD_LIST)
    untouched = kube.create({**pod("a"), "metadata": {"name": "a", "namespace": other}})
    opted_out = kube.create({**pod("b"), "metadata": {"name": "b", "namespace": ns, "labels": {OPT_OUT: "false"}}})
    patched = kube.create({**pod("c"), "metadata": {"name": "c", "namespace": ns}})
    assert "imagePullSecrets" not in untouched["spec"] and "imagePullSecrets" not in opted_out["spec"]
    assert patched["spec"]["imagePullSecrets"] == [{"name": "regcred"}]
    assert [r.body["request"]["name"] for r in peer.received] == ["c"]


def test_failure_policy_decides_when_the_webhook_is_down(kube: Any, hooks: Registrations) -> None:
    ns, strict = kube.unique_ns("wh"), kube.unique_ns("wh-strict")
    kube.create_namespace(ns)
    kube.create_namespace(strict)
    peer = hooks.add([ns])
    down = hooks.add([strict], failurePolicy="Fail")
    wait_called(kube, ns, peer)
    wait_called(kube, strict, down)
    peer.stop()
    down.stop()
    assert kube.create({**pod("p"), "metadata": {"name": "p", "namespace": ns}})["metadata"]["name"] == "p"
    with pytest.raises(KubeError) as err:
        kube.create({**pod("q"), "metadata": {"name": "q", "namespace": strict}})
    assert err.value.status == 500 and err.value.reason == "InternalError"
    assert "connect: connection refused" in err.value.body["message"]
    assert kube.get("v1", "Pod", "q", strict) is None


def test_an_if_needed_webhook_runs_again_after_a_later_change(kube: Any, hooks: Registrations) -> None:
    ns = kube.unique_ns("wh")
    kube.create_namespace(ns)
    base = kube.unique_ns("reinvoke")
    first = hooks.add([ns], name=f"{base}-a", reinvocationPolicy="IfNeeded")
    second = hooks.add([ns], name=f"{base}-b")
    wait_called(kube, ns, first)
    assert eventually(lambda: bool(kube.create({**pod(), "metadata": {"generateName": "probe-", "namespace": ns}},
                                                dry_run=True)) and bool(second.received))
    first.received.clear()
    second.received.clear()
    second.answer = json_patch({"op": "add", "path": "/metadata/labels", "value": {"late": "yes"}})
    created = kube.create({**pod("r"), "metadata": {"name": "r", "namespace": ns}})
    assert created["metadata"]["labels"] == {"late": "yes"}
    assert len(second.received) == 1
    assert len(first.received) == 2  # called again, and saw the label the later webhook added
    assert first.received[1].body["request"]["object"]["metadata"]["labels"] == {"late": "yes"}

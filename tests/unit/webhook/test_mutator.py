"""PodMutator against in-memory caches and API (support/memapi.py): answers from the caches, the Secret created
on a miss through the reconciler, dry runs, the deadline, and an answer for every body whatever goes wrong.

The same mutator runs against the fake API server and a real kube-apiserver in tests/kube/controller.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from typing import Any

import pytest

from regcred.controller.cachedapi import Layered, Store
from regcred.controller.metrics import ControllerMetrics
from regcred.controller.reconciler import ReconcileResult
from regcred.controller.webhook.mutator import PodMutator
from regcred.core.credentials.pullsecret import MANAGED_BY_LABEL, MANAGED_BY_VALUE
from regcred.core.webhook.patch import OPT_OUT_LABEL, OPT_OUT_VALUE
from tests.support.memapi import MemApi

PASSWORD = "pw-webhook-not-printed"


@pytest.fixture(autouse=True)
def password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REG_PW", PASSWORD)


def spec_obj(name: str = "harbor", include: tuple[str, ...] = ("team-*",), **meta: Any) -> dict[str, Any]:
    return {"apiVersion": "regcred.dev/v1alpha1", "kind": "RegistryCredential",
            "metadata": {"name": name, "resourceVersion": "1", **meta},
            "spec": {"registries": [{"server": "harbor.example.com", "username": "u",
                                     "passwordFrom": {"env": "REG_PW"}}],
                     "namespaces": {"include": list(include)}}}


def managed_secret(ns: str, name: str = "harbor") -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/dockerconfigjson",
            "metadata": {"name": name, "namespace": ns, "resourceVersion": "5",
                         "labels": {MANAGED_BY_LABEL: MANAGED_BY_VALUE}}, "data": {}}


class World:
    """An API, the caches a synced controller would hold, the mutator and its metrics."""

    def __init__(self, *namespaces: str, secrets: tuple[str, ...] = (), cached_ns: bool = True,
                 specs: tuple[dict[str, Any], ...] = (), **kw: Any) -> None:
        self.api = MemApi()
        for ns in namespaces:
            self.api.namespace(ns)
        self.caches = {"RegistryCredential": Store(list(specs) or [spec_obj()]),
                       "Namespace": Store(self.api.list("Namespace") if cached_ns else []),
                       "ServiceAccount": Store(self.api.list("ServiceAccount")),
                       "Secret": Store([managed_secret(ns) for ns in secrets])}
        self.api.log.clear()
        self.metrics = ControllerMetrics()
        self.mutator = PodMutator(self.api, self.caches, metrics=self.metrics, **kw)

    def admit(self, ns: str, *images: str, pulls: list[Any] | None = None, dry_run: bool = False,
              labels: dict[str, str] | None = None, operation: str = "CREATE") -> tuple[dict[str, Any], list[Any]]:
        spec: dict[str, Any] = {"containers": [{"name": f"c{i}", "image": img} for i, img in enumerate(images)]}
        if pulls is not None:
            spec["imagePullSecrets"] = pulls
        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"generateName": "web-", "labels": labels or {}},
               "spec": spec}
        review = {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
                  "request": {"uid": "uid-1", "kind": {"group": "", "version": "v1", "kind": "Pod"},
                              "namespace": ns, "operation": operation, "object": pod, "dryRun": dry_run}}
        response = json.loads(self.mutator(json.dumps(review).encode()))["response"]
        assert response["uid"] == "uid-1" and response["allowed"] is True
        patch = json.loads(base64.b64decode(response["patch"])) if "patch" in response else []
        assert ("patchType" in response) is bool(patch)
        return response, patch

    def count(self, name: str, **labels: str) -> float:
        return self.metrics.registry.get_sample_value(name, labels) or 0.0


ADD = [{"op": "add", "path": "/spec/imagePullSecrets", "value": [{"name": "harbor"}]}]


def test_a_targeted_pod_is_patched_from_the_caches_alone() -> None:
    world = World("team-a", secrets=("team-a",))
    assert world.admit("team-a", "harbor.example.com/app:1")[1] == ADD
    assert world.admit("team-a", "nginx", "harbor.example.com/app@sha256:" + "a" * 64,
                       pulls=[{"name": "sa-entry"}])[1] == [
        {"op": "add", "path": "/spec/imagePullSecrets/-", "value": {"name": "harbor"}}]
    assert world.api.log == []  # not one API call
    assert world.count("regcred_webhook_admission_requests_total", result="patched") == 2
    assert world.count("regcred_webhook_patches_total") == 2
    assert world.count("regcred_webhook_admission_duration_seconds_count") == 2


@pytest.mark.parametrize(("ns", "images", "pulls", "labels", "operation", "result"), [
    ("other", ("harbor.example.com/app",), None, None, "CREATE", "allowed"),  # no spec targets the namespace
    ("team-a", ("nginx:1.25",), None, None, "CREATE", "allowed"),  # no image from the spec's registries
    ("team-a", ("harbor.example.com/app",), [{"name": "harbor"}], None, "CREATE", "allowed"),  # already there
    ("team-a", ("harbor.example.com/app",), None, {OPT_OUT_LABEL: OPT_OUT_VALUE}, "CREATE", "skipped"),
    ("team-a", ("harbor.example.com/app",), None, None, "UPDATE", "skipped"),
    ("kube-system", ("harbor.example.com/app",), None, None, "CREATE", "skipped"),
    ("regcred-system", ("harbor.example.com/app",), None, None, "CREATE", "skipped"),
])
def test_nothing_to_do_is_allowed_without_a_patch(ns: str, images: tuple[str, ...], pulls: list[Any] | None,
                                                  labels: dict[str, str] | None, operation: str, result: str) -> None:
    world = World("team-a", "other", "kube-system", "regcred-system", secrets=("team-a", "kube-system"),
                  specs=(spec_obj(include=("*",)) if ns.endswith("system") else spec_obj(),),
                  excluded_namespaces=("regcred-system",))
    assert world.admit(ns, *images, pulls=pulls, labels=labels, operation=operation)[1] == []
    assert world.count("regcred_webhook_admission_requests_total", result=result) == 1
    assert world.api.writes() == []


def test_an_opted_out_namespace_and_the_namespace_filter_are_skipped() -> None:
    world = World("team-a", "team-b", secrets=("team-a", "team-b"), namespaces=("team-b",))
    assert world.admit("team-a", "harbor.example.com/app")[1] == []
    assert world.admit("team-b", "harbor.example.com/app")[1] == ADD
    world.caches["Namespace"].put({"kind": "Namespace", "metadata": {"name": "team-b",
                                                                     "labels": {OPT_OUT_LABEL: "false"}}})
    assert world.admit("team-b", "harbor.example.com/app")[1] == []


def test_a_missing_secret_is_created_through_the_reconciler_before_the_answer() -> None:
    world = World("team-a")
    assert world.admit("team-a", "harbor.example.com/app")[1] == ADD
    secret = world.api.get_obj("Secret", "harbor", "team-a")
    assert secret is not None and secret["type"] == "kubernetes.io/dockerconfigjson"
    assert [w[:2] for w in world.api.writes()] == [("create", "Secret")]  # the Secret only: no ServiceAccount patch
    assert world.caches["Secret"].get("harbor", "team-a") is not None  # written through: the next Pod is cached
    world.api.log.clear()
    assert world.admit("team-a", "harbor.example.com/app")[1] == ADD
    assert world.api.log == []
    assert world.count("regcred_webhook_secrets_created_total") == 1
    assert PASSWORD not in repr(world.api.log) + world.metrics.exposition().decode()


def test_a_dry_run_creates_nothing_and_is_still_patched() -> None:
    world = World("team-a")
    assert world.admit("team-a", "harbor.example.com/app", dry_run=True)[1] == ADD
    assert world.api.writes() == [] and world.api.get_obj("Secret", "harbor", "team-a") is None


def test_a_namespace_the_watch_has_not_brought_is_read_once_and_cached() -> None:
    world = World("team-a", secrets=("team-a",), cached_ns=False)
    assert world.admit("team-a", "harbor.example.com/app")[1] == ADD
    assert world.api.log == [("get", "Namespace", "", "team-a")]
    assert world.admit("team-a", "harbor.example.com/app")[1] == ADD
    assert len(world.api.log) == 1


def test_past_the_deadline_the_pod_is_patched_anyway_and_the_secret_follows() -> None:
    release, calls = threading.Event(), []

    def slow(spec: str, ns: str) -> ReconcileResult:
        calls.append((spec, ns))
        release.wait(5)
        return ReconcileResult((spec, ns))

    world = World("team-a", deadline=0.2, ensure=slow)
    started = time.monotonic()
    results: list[list[Any]] = []
    threads = [threading.Thread(target=lambda: results.append(world.admit("team-a", "harbor.example.com/a")[1]))
               for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    release.set()
    assert results == [ADD] * 5
    assert calls == [("harbor", "team-a")]  # concurrent requests for one namespace share one creation
    assert elapsed < 4  # bounded by the deadline, not by the stuck creation (5 s)
    assert world.count("regcred_webhook_secret_failures_total", reason="timeout") == 5


def test_a_secret_of_another_owner_in_the_caches_is_not_added_and_costs_no_request() -> None:
    theirs = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "harbor", "namespace": "team-a",
                                                                "resourceVersion": "3"}, "type": "Opaque"}
    world = World("team-a")
    world.api.add({**theirs, "data": {}})
    # as the controller's caches hold it: regcred's Secrets, and every other Secret by identity
    world.caches["Secret"] = Layered(world.caches["Secret"], Store([theirs]))
    world.mutator = PodMutator(world.api, world.caches, metrics=world.metrics)
    world.api.log.clear()
    assert world.admit("team-a", "harbor.example.com/app")[1] == []
    assert world.admit("team-a", "harbor.example.com/app")[1] == []
    assert world.api.log == []


def test_one_not_cached_yet_is_refused_by_its_create_and_not_tried_again_for_every_pod() -> None:
    world = World("team-a")
    world.api.add({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "harbor", "namespace": "team-a"},
                   "type": "Opaque", "data": {}})
    world.api.log.clear()
    assert world.admit("team-a", "harbor.example.com/app")[1] == []  # the create's 409 tells it is somebody else's
    reads = len(world.api.log)
    assert world.admit("team-a", "harbor.example.com/app")[1] == []
    assert len(world.api.log) == reads and world.api.writes() == [("create", "Secret", "team-a", "harbor")]
    assert world.api.get_obj("Secret", "harbor", "team-a")["type"] == "Opaque"  # type: ignore[index]


def test_a_creation_that_fails_still_patches_and_is_counted() -> None:
    def broken(spec: str, ns: str) -> ReconcileResult:
        raise RuntimeError("boom")

    world = World("team-a", ensure=broken)
    assert world.admit("team-a", "harbor.example.com/app")[1] == ADD
    assert world.count("regcred_webhook_secret_failures_total", reason="error") == 1


def test_invalid_and_deleted_specs_are_ignored_and_the_others_still_apply() -> None:
    bad = spec_obj("bad")
    bad["spec"]["registries"] = "nope"
    world = World("team-a", secrets=("team-a",), specs=(bad, spec_obj("gone", deletionTimestamp="2026-01-01T00:00:00Z"),
                                                        spec_obj()))
    world.caches["Secret"].put(managed_secret("team-a", "gone"))
    assert world.admit("team-a", "harbor.example.com/app")[1] == ADD


@pytest.mark.parametrize(("raw", "status_code"), [(b"not json", 400), (b"{}", 400)])
def test_a_body_without_a_uid_gets_the_400_body(raw: bytes, status_code: int) -> None:
    from regcred.core.webhook.review import answer_status

    world = World("team-a")
    assert answer_status(world.mutator(raw)) == status_code
    assert world.count("regcred_webhook_admission_requests_total", result="invalid") == 1


def test_an_internal_error_admits_the_pod_unchanged_and_is_counted(caplog: pytest.LogCaptureFixture) -> None:
    world = World("team-a", secrets=("team-a",))

    def explode(namespace: str | None = None) -> list[Any]:
        raise KeyError("cache gone")

    world.caches["RegistryCredential"].list = explode  # type: ignore[method-assign]
    assert world.admit("team-a", "harbor.example.com/app")[1] == []
    assert world.count("regcred_webhook_admission_requests_total", result="error") == 1
    assert "admitted unchanged" in caplog.text


def test_an_edited_spec_or_a_rotated_source_is_seen_by_the_next_request() -> None:
    world = World("team-a", "ops-a", secrets=("team-a", "ops-a"))
    assert world.admit("ops-a", "harbor.example.com/app")[1] == []
    edited = spec_obj(include=("ops-*",))
    edited["metadata"]["resourceVersion"] = "2"
    world.caches["RegistryCredential"].put(edited)  # the watch's MODIFIED event
    assert world.admit("ops-a", "harbor.example.com/app")[1] == ADD
    assert world.admit("team-a", "harbor.example.com/app")[1] == []
    from_secret = spec_obj(include=("ops-*",))
    from_secret["metadata"]["resourceVersion"] = "3"
    from_secret["spec"]["registries"] = [{"fromSecret": {"namespace": "ops", "name": "src"}}]
    world.caches["RegistryCredential"].put(from_secret)
    assert world.admit("ops-a", "quay.example.org/app")[1] == []  # the source is not cached yet: no keys
    source = {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/dockerconfigjson",
              "metadata": {"name": "src", "namespace": "ops", "resourceVersion": "9"},
              "data": {".dockerconfigjson": base64.b64encode(b'{"auths":{"quay.example.org":{"auth":"dTpw"}}}')
                       .decode()}}
    world.caches["Secret"].put(source)
    assert world.admit("ops-a", "quay.example.org/app")[1] == ADD
    assert world.api.log == []


def test_one_deadline_bounds_the_namespace_read_and_the_secret_creation_together() -> None:
    release = threading.Event()

    def slow(spec: str, ns: str) -> ReconcileResult:
        release.wait(5)
        return ReconcileResult((spec, ns))

    world = World("team-a", cached_ns=False, deadline=0.8, ensure=slow)
    read = world.api.get_optional

    def slow_read(*args: Any, **kw: Any) -> Any:
        time.sleep(0.6)
        return read(*args, **kw)

    world.api.get_optional = slow_read  # type: ignore[method-assign]
    started = time.monotonic()
    assert world.admit("team-a", "harbor.example.com/app")[1] == ADD
    elapsed = time.monotonic() - started
    release.set()
    assert elapsed < 1.2, elapsed  # the 0.6 s read + the rest of one 0.8 s deadline (~0.8 s), not 0.6 + 0.8

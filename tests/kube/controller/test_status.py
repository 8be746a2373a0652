"""The status written through /status after reconciles, on an API server that serves the CRD.

Runs in the envtest tier (real kube-apiserver, the project's CRD installed); on a fake API without the CRD it
skips with that reason (the fake grows the CRD on the fakeapi branch).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from regcred.controller.reconciler import reconcile
from regcred.controller.status import write_status
from regcred.shells.kube.kubeconfig import ClusterConfig, connect
from tests.kube.controller.test_reconcile import PASSWORD, caches, spec_doc

CRD = Path(__file__).parents[3] / "deploy" / "crd" / "registrycredential.yaml"


CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
SPECS = "/apis/regcred.dev/v1alpha1/registrycredentials"


def install_crd(kube: Any) -> None:
    crd = yaml.safe_load(CRD.read_text())
    answer = kube.request("POST", CRDS, json=crd)
    if answer.status_code == 404:
        pytest.skip("this fake API does not serve CustomResourceDefinitions yet")
    assert answer.status_code in (201, 409), answer.text
    for _ in range(100):
        got = kube.request("GET", f"{CRDS}/{crd['metadata']['name']}").json()
        established = any(c["type"] == "Established" and c["status"] == "True"
                          for c in (got.get("status") or {}).get("conditions") or [])
        if established and kube.request("GET", SPECS).status_code == 200:
            return
        time.sleep(0.1)
    pytest.fail("the CRD never became Established")


def test_status_written_once_with_conditions_and_counts(kube: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REG_PW", PASSWORD)
    install_crd(kube)
    ns = kube.unique_ns("st")
    kube.create_namespace(ns)
    name = kube.unique_ns("spec")
    created = kube.request("POST", SPECS, json={**spec_doc([ns], name=name), "metadata": {"name": name}}).json()
    with connect(ClusterConfig(kubeconfig=str(kube.kubeconfig))) as api:
        result = reconcile(api, caches(api, created), (name, ns))
        assert result.writes == 2 and not result.failed, result
        answer = write_status(api, created, [result], now="2026-01-01T00:00:00Z")
        assert answer is not None
        status = kube.request("GET", f"{SPECS}/{name}").json()["status"]
        assert status["observedGeneration"] == created["metadata"]["generation"]
        assert {c["type"]: c["status"] for c in status["conditions"]} == \
            {"Ready": "True", "Progressing": "False", "Degraded": "False"}
        assert (status["namespacesTargeted"], status["secretsInSync"], status["serviceAccountsCovered"]) == (1, 1, 1)
        again = reconcile(api, caches(api, answer), (name, ns))
        assert again.writes == 0
        before = api.requests.total
        assert write_status(api, answer, [again], now="2026-01-01T00:05:00Z") is None  # a resync: no write
        assert api.requests.total == before


def test_finalizer_first_then_cleanup_removes_exactly_what_the_spec_added(kube: Any,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from regcred.controller.finalizer import FINALIZER, ensure_finalizer, release_finalizer

    monkeypatch.setenv("REG_PW", PASSWORD)
    install_crd(kube)
    ns = kube.unique_ns("fin")
    kube.create_namespace(ns)
    kube.create({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "other", "namespace": ns},
                 "type": "Opaque", "data": {}})
    kube.patch("v1", "ServiceAccount", "default", {"imagePullSecrets": [{"name": "other"}]}, ns)
    name = kube.unique_ns("spec")
    doc = {**spec_doc([ns], name=name), "metadata": {"name": name, "finalizers": ["example.com/keep"]}}
    created = kube.request("POST", SPECS, json=doc).json()
    with connect(ClusterConfig(kubeconfig=str(kube.kubeconfig))) as api:
        held = ensure_finalizer(api, created)
        assert held["metadata"]["finalizers"] == ["example.com/keep", FINALIZER]
        assert ensure_finalizer(api, held) is held  # already there: no write
        assert reconcile(api, caches(api, held), (name, ns)).writes == 2
        assert kube.request("DELETE", f"{SPECS}/{name}").status_code == 200
        deleting = kube.request("GET", f"{SPECS}/{name}").json()
        assert deleting["metadata"]["deletionTimestamp"]
        cleaned = reconcile(api, caches(api, deleting), (name, ns))
        assert cleaned.writes == 2 and not cleaned.failed, cleaned
        assert kube.get("v1", "Secret", name, ns) is None
        sa = kube.get("v1", "ServiceAccount", "default", ns)
        assert [e["name"] for e in sa["imagePullSecrets"]] == ["other"]
        released = release_finalizer(api, deleting)
        assert released is not None and released["metadata"]["finalizers"] == ["example.com/keep"]


def test_events_are_created_once_and_repeats_counted_in_series(kube: Any) -> None:
    from regcred.controller.events import EventRecorder

    install_crd(kube)
    name = kube.unique_ns("ev")
    spec = kube.request("POST", SPECS, json={**spec_doc(["x"], name=name), "metadata": {"name": name}}).json()
    with connect(ClusterConfig(kubeconfig=str(kube.kubeconfig))) as api:
        recorder = EventRecorder(api, instance="regcred-test")
        first = recorder.emit(spec, "Warning", "SecretNotOwned", "ns1/harbor is not regcred's: left alone")
        assert first is not None, "the API refused the Event"
        second = recorder.emit(spec, "Warning", "SecretNotOwned", "ns1/harbor is not regcred's: left alone")
        third = recorder.emit(spec, "Warning", "SecretNotOwned", "ns1/harbor is not regcred's: left alone")
        assert second is not None and third is not None
        assert third["metadata"]["name"] == first["metadata"]["name"]
        assert third["series"]["count"] == 3 and third["eventTime"] == first["eventTime"]
        other = recorder.emit(spec, "Normal", "Converged", "1 namespace in sync")
        assert other is not None and other["metadata"]["name"] != first["metadata"]["name"]
        listed = kube.request("GET", "/apis/events.k8s.io/v1/namespaces/default/events",
                              params={"fieldSelector": f"regarding.name={name}"}).json()["items"]
        assert sorted(e["reason"] for e in listed) == ["Converged", "SecretNotOwned"]
        assert all(e["regarding"]["uid"] == spec["metadata"]["uid"] for e in listed)


def test_the_same_event_from_many_workers_at_once_is_one_event_counting_them_all(kube: Any) -> None:
    import threading

    from regcred.controller.events import EventRecorder

    install_crd(kube)
    name = kube.unique_ns("evc")
    spec = kube.request("POST", SPECS, json={**spec_doc(["x"], name=name), "metadata": {"name": name}}).json()
    with connect(ClusterConfig(kubeconfig=str(kube.kubeconfig))) as api:
        recorder = EventRecorder(api, instance="regcred-test")
        start = threading.Barrier(8)

        def report() -> None:
            start.wait()
            recorder.emit(spec, "Warning", "RolloutHeld", "not replaced: refused (verifyBeforeRollout)")

        workers = [threading.Thread(target=report) for _ in range(8)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(30)
        listed = kube.request("GET", "/apis/events.k8s.io/v1/namespaces/default/events",
                              params={"fieldSelector": f"regarding.name={name}"}).json()["items"]
    assert len(listed) == 1, [e["metadata"]["name"] for e in listed]
    assert (listed[0].get("series") or {}).get("count") == 8

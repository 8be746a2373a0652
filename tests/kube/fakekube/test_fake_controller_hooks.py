"""The fake API's test hooks a controller's tests use: faults, races, dropped watches, counters,
and the project's own RegistryCredential CRD served from deploy/crd/registrycredential.yaml."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.support.fakekube import FakeKube

CRD_FILE = Path(__file__).resolve().parents[3] / "deploy" / "crd" / "registrycredential.yaml"
EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "registrycredential.yaml"
RC = "/apis/regcred.dev/v1alpha1/registrycredentials"


@pytest.fixture
def fake() -> Iterator[FakeKube]:
    with FakeKube(bookmark_period=0.5) as kube:
        yield kube


@pytest.fixture
def http(fake: FakeKube) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=fake.url, timeout=10, headers={"Authorization": f"Bearer {fake.admin.token}"}) as c:
        yield c


def _secret(name: str, ns: str = "default") -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": ns}, "data": {"k": "dg=="}}


def test_fail_by_verb_and_resource_with_retry_after(fake: FakeKube, http: httpx.Client) -> None:
    fake.seed(_secret("s"))
    fake.fail("list", "secrets", 429, retry_after=3)
    r = http.get("/api/v1/namespaces/default/secrets")
    assert r.status_code == 429 and r.headers["Retry-After"] == "3"
    assert r.json()["reason"] == "TooManyRequests" and r.json()["details"] == {"retryAfterSeconds": 3}
    assert http.get("/api/v1/namespaces/default/secrets").status_code == 200  # only the next one
    fake.fail("patch", "secrets", 500, times=2, name="s")
    assert http.get("/api/v1/namespaces/default/secrets/s").status_code == 200  # other verbs pass
    for _ in range(2):
        r = http.patch("/api/v1/namespaces/default/secrets/s", content=b"{}",
                       headers={"Content-Type": "application/merge-patch+json"})
        assert r.status_code == 500 and r.json()["reason"] == "InternalError"
    r = http.patch("/api/v1/namespaces/default/secrets/s", content=b"{}",
                   headers={"Content-Type": "application/merge-patch+json"})
    assert r.status_code == 200
    fake.fail("create", "leases.coordination.k8s.io", 503)
    r = http.post("/apis/coordination.k8s.io/v1/namespaces/default/leases",
                  json={"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": "l"}})
    assert r.status_code == 503 and fake.get_object("coordination.k8s.io/v1", "Lease", "l") is None


def test_race_next_makes_the_write_conflict(fake: FakeKube, http: httpx.Client) -> None:
    live = fake.seed(_secret("s"))
    fake.race_next("update", "secrets", name="s")
    live["data"] = {"k": "dzI="}
    r = http.put("/api/v1/namespaces/default/secrets/s", json=live)
    assert r.status_code == 409 and r.json()["reason"] == "Conflict"
    current = http.get("/api/v1/namespaces/default/secrets/s").json()
    assert current["metadata"]["annotations"] == {"fakekube.test/concurrent-writes": "1"}
    current["data"] = {"k": "dzI="}
    assert http.put("/api/v1/namespaces/default/secrets/s", json=current).status_code == 200

    def other_writer(obj: dict[str, Any]) -> None:
        obj["data"] = {"k": "b3RoZXI="}

    fake.race_next("patch", "secrets", mutate=other_writer)
    rv = http.get("/api/v1/namespaces/default/secrets/s").json()["metadata"]["resourceVersion"]
    r = http.patch("/api/v1/namespaces/default/secrets/s", json={"metadata": {"resourceVersion": rv}},
                   headers={"Content-Type": "application/merge-patch+json"})
    assert r.status_code == 409
    assert fake.get_object("v1", "Secret", "s", "default")["data"] == {"k": "b3RoZXI="}  # type: ignore[index]


def _follow(http: httpx.Client, path: str, out: list[Any]) -> None:
    try:
        with http.stream("GET", path) as resp:
            for line in resp.iter_lines():
                if line:
                    out.append(json.loads(line)["type"])
    except httpx.HTTPError as e:
        out.append(type(e).__name__)
    else:
        out.append("EOF")


def test_drop_watches_cuts_only_the_named_resource(fake: FakeKube, http: httpx.Client) -> None:
    secrets: list[Any] = []
    accounts: list[Any] = []
    threads = [threading.Thread(target=_follow, args=(http, f"/api/v1/namespaces/default/{res}?watch=1&"
                                                            f"resourceVersion={fake.resource_version}&timeoutSeconds=3",
                                                      out))
               for res, out in (("secrets", secrets), ("serviceaccounts", accounts))]
    for t in threads:
        t.start()
    time.sleep(0.2)
    fake.seed(_secret("a"))
    time.sleep(0.2)
    fake.drop_watches("secrets")
    threads[0].join(5)
    assert secrets == ["ADDED", "RemoteProtocolError"]  # the stream broke, no clean end
    fake.seed({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "x", "namespace": "default"}})
    threads[1].join(5)
    assert accounts == ["ADDED", "EOF"]


def test_request_counts_and_periodic_bookmarks(fake: FakeKube, http: httpx.Client) -> None:
    fake.seed(_secret("a", "elsewhere"))
    rv = fake.resource_version
    fake.request_log.clear()
    events: list[Any] = []
    t = threading.Thread(target=_follow, args=(http, f"/api/v1/namespaces/default/secrets?watch=1&resourceVersion={rv}"
                                                     "&allowWatchBookmarks=true&timeoutSeconds=2", events))
    t.start()
    time.sleep(0.1)
    fake.seed(_secret("b", "elsewhere"))  # the resource moved, not in this namespace
    t.join(5)
    # periodic bookmarks (bookmark_period=0.5 here, 60 s by default) and the pre-timeout one
    assert events[-1] == "EOF" and set(events[:-1]) == {"BOOKMARK"} and len(events) >= 3, events
    assert fake.request_log.counts() == {("watch", "secrets"): 1}
    assert fake.request_log.count(verb="list") == 0


def test_registrycredential_crd_from_the_repository(fake: FakeKube, http: httpx.Client) -> None:
    fake.install_crd(CRD_FILE)
    assert http.get(RC).json() == {"apiVersion": "regcred.dev/v1alpha1", "items": [], "kind": "RegistryCredentialList",
                                   "metadata": {"continue": "", "resourceVersion": str(fake.resource_version)}}
    doc = yaml.safe_load(EXAMPLE.read_text())
    doc["spec"]["color"] = "red"
    del doc["spec"]["namespaces"]["exclude"]
    doc["status"] = {"observedGeneration": 9}
    r = http.post(RC, json=doc)
    assert r.status_code == 201, r.text
    assert r.headers["Warning"] == '299 - "unknown field \\"spec.color\\""'
    body = r.json()
    assert "status" not in body and "color" not in body["spec"] and body["metadata"]["generation"] == 1
    assert body["spec"]["namespaces"]["exclude"] == []  # the schema's default
    r = http.patch(f"{RC}/harbor/status", json={"status": {"observedGeneration": 1}},
                   headers={"Content-Type": "application/merge-patch+json"})
    assert r.status_code == 200 and r.json()["metadata"]["generation"] == 1
    r = http.patch(f"{RC}/harbor", json={"spec": {"secretName": "other"}},
                   headers={"Content-Type": "application/merge-patch+json"})
    assert r.json()["metadata"]["generation"] == 2 and r.json()["status"] == {"observedGeneration": 1}
    r = http.patch(f"{RC}/harbor", json={"spec": {"serviceAccounts": ["x"]}},
                   headers={"Content-Type": "application/strategic-merge-patch+json"})
    assert r.status_code == 415
    both = {"env": "A", "file": "/f"}
    r = http.patch(f"{RC}/harbor", json={"spec": {"registries": [{"server": "a.io", "username": "u",
                                                                    "passwordFrom": both}]}},
                   headers={"Content-Type": "application/merge-patch+json"})
    assert r.status_code == 422 and "oneOf" in r.json()["message"]
    r = http.post(RC, json={"apiVersion": "regcred.dev/v1alpha1", "kind": "RegistryCredential",
                            "metadata": {"name": "nospec"}})
    assert r.status_code == 422 and r.json()["details"]["causes"] == [
        {"reason": "FieldValueRequired", "message": "Required value", "field": "spec"}]
    assert http.get("/apis/regcred.dev/v1alpha1/namespaces/x/registrycredentials/harbor").status_code == 404


def test_backend_install_crd_then_object_helpers(kube: Any) -> None:
    """The backend helper both tiers share: install the CRD, then create/patch/get a RegistryCredential."""
    kube.install_crd(CRD_FILE)
    doc = yaml.safe_load(EXAMPLE.read_text())
    kube.create(doc)
    kube.patch("regcred.dev/v1alpha1", "RegistryCredential", "harbor", {"metadata": {"finalizers": ["regcred.dev/cleanup"]}})
    kube.delete("regcred.dev/v1alpha1", "RegistryCredential", "harbor")
    terminating = kube.get("regcred.dev/v1alpha1", "RegistryCredential", "harbor")
    assert terminating["metadata"]["deletionTimestamp"] and terminating["metadata"]["generation"] == 2
    kube.patch("regcred.dev/v1alpha1", "RegistryCredential", "harbor", {"metadata": {"finalizers": None}})
    assert kube.get("regcred.dev/v1alpha1", "RegistryCredential", "harbor") is None


@pytest.mark.real
def test_kubectl_get_registrycredentials_on_the_fake(tmp_path: Path) -> None:
    """The real kubectl discovers the custom resource by its short name and prints the printer columns."""
    from tests.support.fixtures import require_binaries

    require_binaries("kubectl")
    with FakeKube(tls=True) as fake:  # kubectl sends a bearer token over HTTPS only
        _kubectl_get(fake, tmp_path)


def _kubectl_get(fake: FakeKube, tmp_path: Path) -> None:
    import subprocess

    fake.install_crd(CRD_FILE)
    fake.seed(yaml.safe_load(EXAMPLE.read_text()))
    kubeconfig = fake.write_kubeconfig(tmp_path / "kubeconfig")
    for wide, columns, cells in ((False, ["NAME", "SECRET", "READY", "TARGETED", "SYNCED", "AGE"],
                                  ["harbor"]),
                                 (True, ["NAME", "SECRET", "READY", "TARGETED", "SYNCED", "REASON", "FAILURES",
                                         "NODES", "WORKLOADS", "AGE"],
                                  ["harbor", "false", "true"])):
        out = subprocess.run(["kubectl", "--kubeconfig", str(kubeconfig), "get", "regcred",
                              *(["-o", "wide"] if wide else [])], capture_output=True,
                             text=True, timeout=60, env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"})
        assert out.returncode == 0, out.stderr
        header, row = out.stdout.splitlines()
        assert header.split() == columns
        assert row.split()[:-1] == cells  # no status yet: its columns are blank; then the age


def _watch_all(kube: Any, path: str) -> list[dict[str, Any]]:
    with kube.http.stream("GET", path, timeout=30) as resp:
        assert resp.status_code == 200
        return [json.loads(line) for line in resp.iter_lines() if line]


def test_watch_semantics_a_controller_relies_on(kube: Any) -> None:
    """On the fake and on a real kube-apiserver alike: the last finalizer's removal is one DELETED (old state),
    a label-selector watch turns a relabel into DELETED with the old labels, bookmarks end a moving watch."""
    kube.install_crd(CRD_FILE)
    doc = yaml.safe_load(EXAMPLE.read_text())
    doc["metadata"]["name"] = name = kube.unique_ns("rc")
    created = kube.create(doc)
    rv = created["metadata"]["resourceVersion"]
    result: list[list[dict[str, Any]]] = []
    watcher = threading.Thread(target=lambda: result.append(_watch_all(
        kube, f"{RC}?watch=1&fieldSelector=metadata.name%3D{name}&resourceVersion={rv}&timeoutSeconds=3"
              "&allowWatchBookmarks=true")))
    watcher.start()
    time.sleep(0.3)
    api_version, kind = "regcred.dev/v1alpha1", "RegistryCredential"
    kube.patch(api_version, kind, name, {"metadata": {"finalizers": ["regcred.dev/cleanup"]}})
    kube.delete(api_version, kind, name)
    last = kube.patch(api_version, kind, name, [{"op": "remove", "path": "/metadata/finalizers/0"}], patch_type="json")
    assert "finalizers" not in last["metadata"] and kube.get(api_version, kind, name) is None
    watcher.join(10)
    [events] = result
    types = [e["type"] for e in events]  # a real apiserver may send more than one bookmark in the window
    assert types[:3] == ["MODIFIED", "MODIFIED", "DELETED"] and types[3:] and set(types[3:]) == {"BOOKMARK"}, types
    assert events[2]["object"]["metadata"]["finalizers"] == ["regcred.dev/cleanup"]
    assert int(events[2]["object"]["metadata"]["resourceVersion"]) > int(last["metadata"]["resourceVersion"])
    assert events[3]["object"] == {"apiVersion": api_version, "kind": kind,
                                   "metadata": {"resourceVersion": events[3]["object"]["metadata"]["resourceVersion"]}}

    ns = kube.unique_ns("w")
    kube.create_namespace(ns)
    secret = {**_secret("s", ns), "metadata": {"name": "s", "namespace": ns, "labels": {"app": "a"}}}
    rv = kube.create(secret)["metadata"]["resourceVersion"]
    kube.patch("v1", "Secret", "s", {"metadata": {"labels": {"app": "b"}}}, ns)
    events = _watch_all(kube, f"/api/v1/namespaces/{ns}/secrets?watch=1&labelSelector=app%3Da&resourceVersion={rv}"
                              "&timeoutSeconds=1")
    assert [e["type"] for e in events] == ["DELETED"] and events[0]["object"]["metadata"]["labels"] == {"app": "a"}


def test_server_side_apply_to_status(kube: Any) -> None:
    """A controller applying its status: /status takes only status, without conflicts over spec fields."""
    kube.install_crd(CRD_FILE)
    doc = yaml.safe_load(EXAMPLE.read_text())
    doc["metadata"]["name"] = name = kube.unique_ns("rc")
    kube.create(doc)
    applied = {"apiVersion": "regcred.dev/v1alpha1", "kind": "RegistryCredential", "metadata": {"name": name},
               "status": {"observedGeneration": 1}, "spec": {"secretName": "ignored"}}
    r = kube.request("PATCH", f"{RC}/{name}/status", params={"fieldManager": "regcred-controller"},
                     content=json.dumps(applied), content_type="application/apply-patch+yaml")
    assert r.status_code == 200, r.text
    assert r.json()["status"] == {"observedGeneration": 1} and r.json()["spec"]["secretName"] == "harbor-pull"
    assert r.json()["metadata"]["generation"] == 1
    kube.delete("regcred.dev/v1alpha1", "RegistryCredential", name)

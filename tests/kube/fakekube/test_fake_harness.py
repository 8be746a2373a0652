"""The fake API server as the tests use it: the real client library (lightkube) on it, its hooks and fault
injection, large lists, the backend fixture API, and the envtest harness's etcd half."""

from __future__ import annotations

import base64
import shutil
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.kube.fakekube.replay import (
    Client,
    deployment,
)
from tests.support.fakekube import FakeKube
from tests.support.fixtures import require_binaries

# -- the real client library against the fake ------------------------------------------------------

@pytest.fixture
def lk(fake: FakeKube, tmp_path: Path) -> Any:
    from lightkube import Client as LightkubeClient
    from lightkube.config.kubeconfig import KubeConfig

    config = KubeConfig.from_file(fake.write_kubeconfig(tmp_path / "kubeconfig"))
    return LightkubeClient(config=config, field_manager=None)


def test_lightkube_crud_and_patch_types(lk: Any, fake: FakeKube) -> None:
    from lightkube import ApiError
    from lightkube.models.apps_v1 import DeploymentSpec
    from lightkube.models.core_v1 import Container, LocalObjectReference, PodSpec, PodTemplateSpec
    from lightkube.models.meta_v1 import LabelSelector, ObjectMeta
    from lightkube.resources.apps_v1 import Deployment
    from lightkube.resources.core_v1 import Namespace, Secret, ServiceAccount
    from lightkube.types import PatchType

    lk.create(Namespace(metadata=ObjectMeta(name="lk", labels={"team": "x"})))
    assert [n.metadata.name for n in lk.list(Namespace, labels={"team": "x"})] == ["lk"]
    sa = lk.get(ServiceAccount, "default", namespace="lk")
    assert sa.imagePullSecrets is None
    sa = lk.patch(ServiceAccount, "default", [{"op": "add", "path": "/imagePullSecrets", "value": [{"name": "a"}]}],
                  namespace="lk", patch_type=PatchType.JSON)
    stale = sa.metadata.resourceVersion
    sa = lk.patch(ServiceAccount, "default", {"imagePullSecrets": [{"name": "b"}]}, namespace="lk",
                  patch_type=PatchType.STRATEGIC)
    assert [r.name for r in sa.imagePullSecrets] == ["b"]  # atomic list: replaced
    sa.metadata.resourceVersion = stale
    with pytest.raises(ApiError) as err:
        lk.replace(sa)
    assert err.value.status.code == 409 and err.value.status.reason == "Conflict"
    with pytest.raises(ApiError) as err:
        lk.patch(ServiceAccount, "default", [{"op": "test", "path": "/metadata/resourceVersion", "value": stale}],
                 namespace="lk", patch_type=PatchType.JSON)
    assert err.value.status.code == 422
    sa = lk.patch(ServiceAccount, "default", {"metadata": {"labels": {"m": "1"}}}, namespace="lk",
                  patch_type=PatchType.MERGE)
    assert sa.metadata.labels == {"m": "1"}

    dep = Deployment(metadata=ObjectMeta(name="web", namespace="lk"), spec=DeploymentSpec(
        selector=LabelSelector(matchLabels={"app": "web"}),
        template=PodTemplateSpec(metadata=ObjectMeta(labels={"app": "web"}), spec=PodSpec(
            containers=[Container(name="c", image="registry.example.com/app:1")],
            imagePullSecrets=[LocalObjectReference(name="a")]))))
    created = lk.create(dep)
    assert created.metadata.generation == 1 and created.spec.replicas == 1
    patched = lk.patch(Deployment, "web", {"spec": {"template": {"spec": {"imagePullSecrets": [{"name": "b"}]}}}},
                       namespace="lk", patch_type=PatchType.STRATEGIC)
    assert [r.name for r in patched.spec.template.spec.imagePullSecrets] == ["b", "a"]
    assert patched.metadata.generation == 2
    assert [d.metadata.name for d in lk.list(Deployment, namespace="*")] == ["web"]

    secret = lk.create(Secret(metadata=ObjectMeta(name="pull", namespace="lk"), type="kubernetes.io/dockerconfigjson",
                              stringData={".dockerconfigjson": '{"auths":{}}'}))
    assert secret.stringData is None and base64.b64decode(secret.data[".dockerconfigjson"]) == b'{"auths":{}}'
    with pytest.raises(ApiError) as err:
        lk.create(Secret(metadata=ObjectMeta(name="bad", namespace="lk"), type="kubernetes.io/dockerconfigjson",
                         stringData={".dockerconfigjson": "[]"}))
    assert err.value.status.code == 422 and "<secret contents redacted>" in err.value.status.message
    lk.delete(Secret, "pull", namespace="lk")
    with pytest.raises(ApiError) as err:
        lk.get(Secret, "pull", namespace="lk")
    assert err.value.status.code == 404 and err.value.status.details.kind == "secrets"
    lk.delete(Namespace, "lk")
    assert lk.get(Namespace, "lk").status.phase == "Terminating"
    assert fake.request_log.count(method="PATCH", resource="serviceaccounts") == 4


def test_lightkube_forbidden_for_a_restricted_token(fake: FakeKube, tmp_path: Path) -> None:
    from lightkube import ApiError
    from lightkube import Client as LightkubeClient
    from lightkube.config.kubeconfig import KubeConfig
    from lightkube.resources.apps_v1 import Deployment
    from lightkube.resources.core_v1 import Namespace, ServiceAccount

    from tests.support.fakekube import Rule

    user = fake.add_user([Rule.of(["get", "list"], ["serviceaccounts"], namespaces=["default"])])
    client = LightkubeClient(config=KubeConfig.from_file(fake.write_kubeconfig(tmp_path / "kc", user)))
    assert client.get(ServiceAccount, "default", namespace="default").metadata.name == "default"
    with pytest.raises(ApiError) as err:
        list(client.list(ServiceAccount, namespace="*"))
    assert err.value.status.code == 403
    assert err.value.status.message == (f'serviceaccounts is forbidden: User "{user.name}" cannot list resource '
                                        '"serviceaccounts" in API group "" at the cluster scope')
    with pytest.raises(ApiError) as err:
        client.get(Deployment, "x", namespace="default")
    assert err.value.status.message.startswith('deployments.apps "x" is forbidden')
    with pytest.raises(ApiError) as err:
        client.get(Namespace, "default")
    assert 'in the namespace "default"' in err.value.status.message


def test_lightkube_watch(lk: Any, fake: FakeKube) -> None:
    from lightkube.resources.core_v1 import ServiceAccount

    seen: list[tuple[str, str]] = []

    def run() -> None:
        for typ, obj in lk.watch(ServiceAccount, namespace="default", server_timeout=2):
            seen.append((typ, obj.metadata.name))
            if len(seen) == 2:
                return

    t = threading.Thread(target=run)
    t.start()
    time.sleep(0.3)
    fake.seed({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "w", "namespace": "default"}})
    t.join(5)
    assert seen[:2] == [("ADDED", "default"), ("ADDED", "w")]


def test_hooks_before_write_and_fail_next(fake: FakeKube) -> None:
    api = Client(fake)
    api.ns("h")
    api.sa("h", "app", ["a"])
    current = api.get("/api/v1/namespaces/h/serviceaccounts/app")
    calls: list[str] = []

    def concurrent_writer(event: Any) -> None:
        if event.verb == "update" and not calls:
            calls.append(event.path)
            api.patch("/api/v1/namespaces/h/serviceaccounts/app", {"imagePullSecrets": [{"name": "late"}]})

    fake.before_write = concurrent_writer
    current["imagePullSecrets"].append({"name": "mine"})
    r = api.http.put("/api/v1/namespaces/h/serviceaccounts/app", json=current)
    assert r.status_code == 409 and calls == ["/api/v1/namespaces/h/serviceaccounts/app"]
    fake.before_write = None
    fake.fail_next("PATCH", r"/serviceaccounts/app$", 503)
    r = api.http.patch("/api/v1/namespaces/h/serviceaccounts/app", content=b"{}",
                       headers={"Content-Type": "application/merge-patch+json"})
    assert r.status_code == 503 and r.json()["reason"] == "ServiceUnavailable"
    fake.fail_next("POST", r"/secrets$", 500, apply=True)
    r = api.http.post("/api/v1/namespaces/h/secrets", json={"apiVersion": "v1", "kind": "Secret",
                                                            "metadata": {"name": "s"}})
    assert r.status_code == 500 and fake.get_object("v1", "Secret", "s", "h") is not None
    assert fake.request_log.count(method="PUT", status=409) == 1
    api.http.close()


def test_scale_lists_stay_fast(fake: FakeKube, tmp_path: Path) -> None:
    """1,000 namespaces x 3 ServiceAccounts and 2,000 workloads: cluster-wide lists stay cheap."""
    from lightkube import Client as LightkubeClient
    from lightkube.config.kubeconfig import KubeConfig
    from lightkube.resources.apps_v1 import Deployment
    from lightkube.resources.core_v1 import Namespace, ServiceAccount

    for i in range(1000):
        ns = f"n{i:04d}"
        fake.seed({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
        for j in (1, 2):
            fake.seed({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": f"sa{j}", "namespace": ns}})
        for k in (1, 2):
            fake.seed(deployment(f"d{k}", ["a"], ns))
    client = LightkubeClient(config=KubeConfig.from_file(fake.write_kubeconfig(tmp_path / "kc")))
    started = time.perf_counter()
    assert len(list(client.list(Namespace))) == 1004
    assert len(list(client.list(ServiceAccount, namespace="*"))) == 3004
    assert len(list(client.list(Deployment, namespace="*", chunk_size=500))) == 2000
    assert time.perf_counter() - started < 10
    started = time.perf_counter()
    for _ in range(200):
        client.get(ServiceAccount, "default", namespace="n0001")
    per_request = (time.perf_counter() - started) / 200
    assert per_request < 0.02, per_request


# -- the backend fixture API and the envtest harness ---------------------------------------------------

def test_kube_backend_api_on_the_fake(fake_kube: Any) -> None:
    from tests.support.kube import KubeError

    kube = fake_kube
    assert kube.name == "fake" and kube.supports_hooks and kube.url.startswith("https://")
    ns = kube.unique_ns("api")
    kube.create_namespace(ns, labels={"team": "x"})
    assert kube.get("v1", "ServiceAccount", "default", ns) is not None
    bare = kube.unique_ns("bare")
    kube.create_namespace(bare, default_sa=False)
    assert kube.get("v1", "ServiceAccount", "default", bare) is None
    kube.ensure_default_sa(bare)
    kube.create({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "s", "namespace": ns}})
    sa = kube.patch("v1", "ServiceAccount", "s", {"imagePullSecrets": [{"name": "a"}]}, ns)
    sa["imagePullSecrets"].append({"name": "b"})
    assert [r["name"] for r in kube.replace(sa)["imagePullSecrets"]] == ["a", "b"]
    with pytest.raises(KubeError) as err:
        kube.replace(sa)  # stale resourceVersion now
    assert err.value.status == 409 and err.value.reason == "Conflict"
    assert [s["metadata"]["name"] for s in kube.list("v1", "ServiceAccount", ns)] == ["default", "s"]
    limited = kube.kubeconfig_for([{"apiGroups": [""], "resources": ["serviceaccounts"], "verbs": ["get"],
                                    "namespaces": [ns]}])
    token = yaml_token(limited)
    assert kube.request("GET", f"/api/v1/namespaces/{ns}/serviceaccounts/s", token=token).status_code == 200
    denied = kube.request("GET", f"/api/v1/namespaces/{ns}/secrets", token=token)
    assert denied.status_code == 403 and kube.username_of(limited) in denied.json()["message"]
    kube.terminate_namespace(ns)
    assert kube.get("v1", "Namespace", ns)["status"]["phase"] == "Terminating"
    assert kube.finish_namespace_deletion(ns) and kube.get("v1", "Namespace", ns) is None
    kube.delete("v1", "Namespace", "missing-ns")  # missing_ok


def yaml_token(path: Path) -> str:
    import yaml

    return yaml.safe_load(path.read_text())["users"][0]["user"]["token"]


@pytest.mark.real
def test_envtest_etcd_half_starts(tmp_path: Path) -> None:
    from tests.support.envtest import Etcd

    require_binaries("etcd")
    etcd = Etcd(Path(shutil.which("etcd") or "etcd"), tmp_path)
    etcd.start()
    try:
        assert httpx.get(etcd.url + "/health", timeout=5).json()["health"] == "true"
    finally:
        etcd.stop()
    assert not etcd.process.alive()

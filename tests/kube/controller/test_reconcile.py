"""`reconcile(key)` against an API server (the fake, and a real kube-apiserver in the envtest tier).

Caches are Stores filled from one LIST each, as an informer would; watch events are played by putting the
fresh object into the Store. Each test owns its namespaces (unique names; envtest shares one apiserver).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from regcred.controller.cachedapi import Store
from regcred.controller.reconciler import reconcile
from regcred.core.cluster.serviceaccounts import ADDED_ANNOTATION
from regcred.core.credentials.pullsecret import MANAGED_BY_LABEL, MANAGED_BY_VALUE
from regcred.core.spec.schema import WORKLOAD_KINDS
from regcred.shells.kube.client import KubeApi
from regcred.shells.kube.kubeconfig import ClusterConfig, connect
from tests.support.cli import run_regcred_kube

PASSWORD = "pw-controller-not-printed"


@pytest.fixture(autouse=True)
def password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REG_PW", PASSWORD)


@pytest.fixture
def api(kube: Any) -> Iterator[KubeApi]:
    with connect(ClusterConfig(kubeconfig=str(kube.kubeconfig))) as client:
        yield client


def spec_doc(include: list[str], name: str = "harbor", selector: dict[str, str] | None = None) -> dict[str, Any]:
    namespaces: dict[str, Any] = {"include": include}
    if selector:
        namespaces["selector"] = {"matchLabels": selector}
    return {"apiVersion": "regcred.dev/v1alpha1", "kind": "RegistryCredential",
            "metadata": {"name": name, "generation": 1},
            "spec": {"registries": [{"server": "r.example.com", "username": "u", "passwordFrom": {"env": "REG_PW"}}],
                     "namespaces": namespaces}}


def caches(api: KubeApi, *specs: dict[str, Any]) -> dict[str, Store]:
    """What the informers would hold after their first LIST (managed Secrets by label only)."""
    return {
        **{kind: Store(api.list(kind)) for kind in WORKLOAD_KINDS},  # listed for cleanup even when disabled
        "Namespace": Store(api.list("Namespace")),
        "ServiceAccount": Store(api.list("ServiceAccount")),
        "Secret": Store(api.list("Secret", label_selector=f"{MANAGED_BY_LABEL}={MANAGED_BY_VALUE}")),
        "RegistryCredential": Store(list(specs)),
    }


def pulls(kube: Any, ns: str, sa: str = "default") -> list[str]:
    obj = kube.get("v1", "ServiceAccount", sa, ns) or {}
    return [e["name"] for e in obj.get("imagePullSecrets") or []]


def plan_exit(kube: Any, tmp_path: Path, doc: dict[str, Any]) -> int:
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(doc))
    result = run_regcred_kube(kube, "plan", "-f", path, "-o", "json", env={"REG_PW": PASSWORD}, secrets=(PASSWORD,))
    assert result.returncode in (0, 1), result.stderr
    if result.returncode:
        print(json.loads(result.stdout))
    return result.returncode


def test_converges_then_writes_nothing_and_plan_agrees(kube: Any, api: KubeApi, tmp_path: Path) -> None:
    ns = kube.unique_ns("rc")
    kube.create_namespace(ns)
    doc = spec_doc([ns])
    stores = caches(api, doc)
    first = reconcile(api, stores, ("harbor", ns))
    assert not first.failed, first
    assert first.writes == 2, first.rows  # the Secret, the default ServiceAccount's entry
    assert pulls(kube, ns) == ["harbor"]
    secret = kube.get("v1", "Secret", "harbor", ns)
    assert secret["type"] == "kubernetes.io/dockerconfigjson"
    before = api.requests.total
    second = reconcile(api, stores, ("harbor", ns))
    assert second.writes == 0 and not second.failed, second
    assert api.requests.total == before  # every read came from the caches (written through)
    assert plan_exit(kube, tmp_path, doc) == 0
    assert PASSWORD not in repr(first) + repr(second)


def test_a_stale_cache_meets_409_rereads_from_the_api_and_keeps_the_other_writer(kube: Any, api: KubeApi) -> None:
    ns = kube.unique_ns("rc")
    kube.create_namespace(ns)
    stores = caches(api, spec_doc([ns]))
    kube.create({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "other", "namespace": ns},
                 "type": "Opaque", "data": {}})
    kube.patch("v1", "ServiceAccount", "default", {"imagePullSecrets": [{"name": "other"}]}, ns)
    gets = api.requests.by_method.get("GET", 0)
    result = reconcile(api, stores, ("harbor", ns))  # planned against the cached (older) ServiceAccount
    assert not result.failed, result
    assert sorted(pulls(kube, ns)) == ["harbor", "other"]
    assert api.requests.by_method.get("GET", 0) > gets  # the re-read after the 409 went to the API
    sa = kube.get("v1", "ServiceAccount", "default", ns)
    assert sa["metadata"]["annotations"][ADDED_ANNOTATION] == "harbor"
    assert stores["ServiceAccount"].get("default", ns)["metadata"]["resourceVersion"] == \
        sa["metadata"]["resourceVersion"]  # the answer was written through


def test_deleted_managed_secret_is_restored(kube: Any, api: KubeApi) -> None:
    ns = kube.unique_ns("rc")
    kube.create_namespace(ns)
    stores = caches(api, spec_doc([ns]))
    assert reconcile(api, stores, ("harbor", ns)).writes == 2
    kube.delete("v1", "Secret", "harbor", ns)
    stores["Secret"].remove("harbor", ns)  # the DELETED watch event
    again = reconcile(api, stores, ("harbor", ns))
    assert again.writes == 1 and not again.failed, again
    assert kube.get("v1", "Secret", "harbor", ns) is not None


def test_namespace_leaving_the_spec_loses_only_what_regcred_added(kube: Any, api: KubeApi) -> None:
    ns = kube.unique_ns("rc")
    kube.create_namespace(ns, labels={"team": "a"})
    kube.create({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "other", "namespace": ns},
                 "type": "Opaque", "data": {}})
    kube.patch("v1", "ServiceAccount", "default", {"imagePullSecrets": [{"name": "other"}]}, ns)
    doc = spec_doc([ns], selector={"team": "a"})
    stores = caches(api, doc)
    assert reconcile(api, stores, ("harbor", ns)).writes == 2
    assert sorted(pulls(kube, ns)) == ["harbor", "other"]
    stores["Namespace"].put(kube.patch("v1", "Namespace", ns, {"metadata": {"labels": {"team": None}}}))
    left = reconcile(api, stores, ("harbor", ns))
    assert not left.failed, left
    assert left.writes == 2, left.rows  # the Secret deleted, the entry removed
    assert kube.get("v1", "Secret", "harbor", ns) is None
    assert pulls(kube, ns) == ["other"]
    assert kube.get("v1", "Secret", "other", ns) is not None
    assert reconcile(api, stores, ("harbor", ns)).writes == 0


def test_a_secret_regcred_does_not_own_is_left_alone_and_reported(kube: Any, api: KubeApi) -> None:
    ns = kube.unique_ns("rc")
    kube.create_namespace(ns)
    theirs = kube.create({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "harbor", "namespace": ns},
                          "type": "Opaque", "stringData": {"k": "theirs"}})
    stores = caches(api, spec_doc([ns]))  # the label-selected cache cannot see it
    result = reconcile(api, stores, ("harbor", ns))
    assert result.not_owned == (f"{ns}/harbor",), result
    assert result.writes == 0, result.rows
    after = kube.get("v1", "Secret", "harbor", ns)
    assert after["metadata"]["resourceVersion"] == theirs["metadata"]["resourceVersion"]
    assert pulls(kube, ns) == []  # never attached to a Secret that is somebody else's


def test_a_namespace_no_spec_selects_costs_no_request(kube: Any, api: KubeApi) -> None:
    """Every namespace gets a key at start and on a spec change; where the spec does not reach, nothing
    regcred does depends on somebody else's Secret, so the reconcile is served by the caches alone."""
    ns = kube.unique_ns("rc")
    kube.create_namespace(ns)
    stores = caches(api, spec_doc(["elsewhere"]))
    before = api.requests.total
    result = reconcile(api, stores, ("harbor", ns))
    assert not result.failed and not result.targeted and result.writes == 0, result
    assert api.requests.total == before


def test_terminating_namespace_is_skipped(kube: Any, api: KubeApi) -> None:
    ns = kube.unique_ns("rc")
    kube.create_namespace(ns)
    stores = caches(api, spec_doc([ns]))
    obj = dict(stores["Namespace"].get(ns))
    stores["Namespace"].put({**obj, "metadata": {**obj["metadata"], "deletionTimestamp": "2026-01-01T00:00:00Z"},
                             "status": {"phase": "Terminating"}})
    result = reconcile(api, stores, ("harbor", ns))
    assert result.skipped == "namespace is being terminated" and result.writes == 0


def test_spec_being_deleted_removes_exactly_what_it_added(kube: Any, api: KubeApi) -> None:
    ns = kube.unique_ns("rc")
    kube.create_namespace(ns)
    doc = spec_doc([ns])
    stores = caches(api, doc)
    assert reconcile(api, stores, ("harbor", ns)).writes == 2
    stores["RegistryCredential"].put({**doc, "metadata": {**doc["metadata"],
                                                          "deletionTimestamp": "2026-01-01T00:00:00Z"}})
    gone = reconcile(api, stores, ("harbor", ns))
    assert gone.writes == 2 and not gone.failed, gone
    assert kube.get("v1", "Secret", "harbor", ns) is None and pulls(kube, ns) == []


def test_a_missing_verb_becomes_a_named_error_not_a_crash(kube: Any, tmp_path: Path) -> None:
    ns = kube.unique_ns("rc")
    kube.create_namespace(ns)
    read = ["get", "list", "watch"]
    rules = [{"apiGroups": [""], "resources": ["namespaces"], "verbs": read},
             {"apiGroups": [""], "resources": ["secrets"], "verbs": [*read, "create", "patch", "delete"]},
             {"apiGroups": [""], "resources": ["serviceaccounts"], "verbs": read},  # no patch
             {"apiGroups": ["apps", "batch"], "resources": ["*"], "verbs": read}]
    with connect(ClusterConfig(kubeconfig=str(kube.kubeconfig_for(rules)))) as limited:
        result = reconcile(limited, caches(limited, spec_doc([ns])), ("harbor", ns))
    assert [str(f) for f in result.forbidden] == [f"cannot patch serviceaccounts in namespace {ns}"], result
    assert result.failed and result.writes == 1  # the Secret was written; the entry is what is missing
    assert kube.get("v1", "Secret", "harbor", ns) is not None


def test_source_secret_rotation_updates_the_copy(kube: Any, api: KubeApi) -> None:
    from regcred.controller.cachedapi import Layered

    ns, vault = kube.unique_ns("rc"), kube.unique_ns("vault")
    kube.create_namespace(ns)
    kube.create_namespace(vault)
    kube.create({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "src", "namespace": vault},
                 "type": "Opaque", "stringData": {"pw": "first-pw-value"}})
    doc = spec_doc([ns])
    doc["spec"]["registries"][0]["passwordFrom"] = {"secretKeyRef": {"namespace": vault, "name": "src", "key": "pw"}}
    stores: dict[str, Any] = caches(api, doc)
    sources = Store([kube.get("v1", "Secret", "src", vault)])
    stores["Secret"] = Layered(stores["Secret"], sources)
    assert reconcile(api, stores, ("harbor", ns)).writes == 2
    sources.put(kube.patch("v1", "Secret", "src", {"stringData": {"pw": "second-pw-value"}}, vault))
    rotated = reconcile(api, stores, ("harbor", ns))
    assert rotated.writes == 1 and not rotated.failed, rotated  # the Secret updated, the entry already there
    import base64

    payload = base64.b64decode(kube.get("v1", "Secret", "harbor", ns)["data"][".dockerconfigjson"]).decode()
    assert base64.b64encode(b"u:second-pw-value").decode() in payload
    assert "second-pw-value" not in repr(rotated)

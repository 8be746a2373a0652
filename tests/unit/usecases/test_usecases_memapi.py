"""Use cases against the in-memory KubeApi: requests made, rows returned, and a concurrent writer's entry kept.

The same flows run through the CLI on the HTTP-level fake and envtest (tests/cluster); here each request is
visible and a writer can be slipped in between a use case's read and its write.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from regcred.core.credentials.pullsecret import dockerconfigjson_payload, secret_manifest
from regcred.usecases.dryrun import DryRun
from regcred.usecases.kubeapi import KubeApi
from regcred.usecases.namespaces import NamespaceQuery
from regcred.usecases.pullsecrets import apply_pull_secret
from regcred.usecases.rows import RowStatus
from regcred.usecases.serviceaccounts import AccountUpdate, update_service_accounts
from tests.support.memapi import MemApi

PAYLOAD = dockerconfigjson_payload("registry.example.com", "u", "pw-1")


def cluster(*namespaces: str) -> MemApi:
    api = MemApi()
    for ns in namespaces:
        api.namespace(ns)
    return api


def pulls(api: MemApi, ns: str, name: str = "default") -> list[str]:
    sa = api.get_obj("ServiceAccount", name, ns) or {}
    return [e["name"] for e in sa.get("imagePullSecrets") or []]


def statuses(rows: list[Any]) -> list[tuple[str, str, str]]:
    return [(r.namespace, r.name, r.status.value) for r in rows]


def test_memapi_is_a_kube_api() -> None:
    api: KubeApi = MemApi()  # structural: MemApi names no base class
    assert api.default_namespace == "default"


def test_attach_to_service_accounts_keeps_a_concurrent_writers_entry() -> None:
    api = cluster("a", "b")
    for ns in ("a", "b"):
        api.add(secret_manifest("pull", PAYLOAD, namespace=ns))

    def other_writer(verb: str, kind: str, ns: str, name: str) -> None:
        sa = api.get_obj(kind, name, ns)
        assert sa is not None
        api.add({**sa, "imagePullSecrets": [{"name": "theirs"}]})  # a new resourceVersion: our patch is stale

    api.before_write = other_writer
    rows = update_service_accounts(api, NamespaceQuery(all_namespaces=True), AccountUpdate("pull"), workers=1)
    assert statuses(rows) == [("a", "default", "attached"), ("b", "default", "attached")]
    assert pulls(api, "a") == ["theirs", "pull"] and pulls(api, "b") == ["pull"]
    assert [w for w in api.writes()] == [("patch", "ServiceAccount", "a", "default")] * 2 + [
        ("patch", "ServiceAccount", "b", "default")]  # 409, then the re-planned patch; b: one patch

    api.log.clear()
    again = update_service_accounts(api, NamespaceQuery(all_namespaces=True), AccountUpdate("pull"), workers=1)
    assert {r.status for r in again} == {RowStatus.UNCHANGED} and api.writes() == []


def test_attach_fails_a_namespace_without_the_secret_and_goes_on() -> None:
    api = cluster("a", "b")
    api.add(secret_manifest("pull", PAYLOAD, namespace="b"))
    rows = update_service_accounts(api, NamespaceQuery(all_namespaces=True), AccountUpdate("pull"), workers=2)
    assert statuses(rows) == [("a", "", "failed"), ("b", "default", "attached")]
    assert "secret pull not found in namespace a" in rows[0].message
    assert api.writes() == [("patch", "ServiceAccount", "b", "default")]


def test_detach_client_dry_run_sends_nothing() -> None:
    api = cluster("a")
    api.add({"kind": "ServiceAccount", "metadata": {"name": "default", "namespace": "a", "annotations": {
        "regcred.dev/added-pull-secrets": "pull"}}, "imagePullSecrets": [{"name": "pull"}]})
    rows = update_service_accounts(api, NamespaceQuery("a"), AccountUpdate("pull", detach=True),
                                   dry_run=DryRun.CLIENT)
    assert statuses(rows) == [("a", "default", "would-detach")]
    assert api.writes() == [] and pulls(api, "a") == ["pull"]


def test_apply_pull_secret_creates_then_changes_nothing() -> None:
    api = cluster("a", "b")
    rows = apply_pull_secret(api, NamespaceQuery(all_namespaces=True), "pull", PAYLOAD, overwrite=False, workers=1)
    assert statuses(rows) == [("a", "pull", "created"), ("b", "pull", "created")]
    stored = api.get_obj("Secret", "pull", "a")
    assert stored is not None and base64.b64decode(stored["data"][".dockerconfigjson"]) == PAYLOAD
    api.log.clear()
    rows = apply_pull_secret(api, NamespaceQuery(all_namespaces=True), "pull", PAYLOAD, overwrite=False)
    assert {r.status for r in rows} == {RowStatus.UNCHANGED} and api.writes() == []
    assert [entry[:2] for entry in api.log] == [("list", "Namespace"), ("list", "Secret")]  # shared reads


def test_apply_pull_secret_replans_when_the_secret_changed_meanwhile() -> None:
    api = cluster("a")
    api.add(secret_manifest("pull", dockerconfigjson_payload("registry.example.com", "u", "old"), namespace="a",
                            labels={"app.kubernetes.io/managed-by": "regcred"}))

    def someone_rotates(verb: str, kind: str, ns: str, name: str) -> None:
        current = api.get_obj("Secret", name, ns)
        assert current is not None
        api.add(current)  # same content, new resourceVersion: our conditional patch gets 409

    api.before_write = someone_rotates
    rows = apply_pull_secret(api, NamespaceQuery("a"), "pull", PAYLOAD, overwrite=False)
    assert statuses(rows) == [("a", "pull", "updated")]
    assert api.writes() == [("patch", "Secret", "a", "pull")] * 2
    stored = api.get_obj("Secret", "pull", "a")
    assert stored is not None and json.loads(base64.b64decode(stored["data"][".dockerconfigjson"])) == \
        json.loads(PAYLOAD)

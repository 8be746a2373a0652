"""The pure planner: desired specs against listed objects -> changes, with ownership-safe removal."""

from __future__ import annotations

import base64
import json
from typing import Any

from regcred.core.cluster.serviceaccounts import ADDED_ANNOTATION
from regcred.core.credentials.dockerconfig import entry_object
from regcred.core.spec.model import parse_document
from regcred.core.spec.planner import ClusterState, DesiredCredential, payload_from_entries, plan

SECRET_VALUE = "s3cret-value"


def spec(name: str = "harbor", servers: tuple[str, ...] = ("r.example.com",), **extra: Any) -> DesiredCredential:
    document = {"apiVersion": "regcred.dev/v1alpha1", "kind": "RegistryCredential", "metadata": {"name": name},
                "spec": {"registries": [{"server": s, "username": "u", "passwordFrom": {"env": "X"}}
                                        for s in servers], **extra}}
    parsed = parse_document(document, "f.yaml")
    payload = payload_from_entries([(s, entry_object("u", SECRET_VALUE)) for s in servers])
    return DesiredCredential.build(parsed, payload)


def ns(name: str, labels: dict[str, str] | None = None, terminating: bool = False) -> dict[str, Any]:
    obj: dict[str, Any] = {"kind": "Namespace", "metadata": {"name": name, "labels": labels or {}}}
    if terminating:
        obj["status"] = {"phase": "Terminating"}
    return obj


def sa(namespace: str, name: str = "default", pulls: list[str] | None = None,
       owned: list[str] | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": namespace, "resourceVersion": "7"}
    if owned:
        meta["annotations"] = {ADDED_ANNOTATION: ",".join(owned)}
    obj: dict[str, Any] = {"kind": "ServiceAccount", "metadata": meta}
    if pulls is not None:
        obj["imagePullSecrets"] = [{"name": p} for p in pulls]
    return obj


def deployment(namespace: str, name: str, image: str) -> dict[str, Any]:
    return {"kind": "Deployment", "metadata": {"name": name, "namespace": namespace, "resourceVersion": "3"},
            "spec": {"template": {"spec": {"containers": [{"name": "c", "image": image}]}}}}


def applied_secret(change: Any) -> dict[str, Any]:
    obj = dict(change.obj)
    obj["metadata"] = {**obj["metadata"], "resourceVersion": "1"}
    return obj


def test_creates_secrets_and_attaches_in_target_namespaces_only() -> None:
    d = spec(namespaces={"include": ["team-*"], "exclude": ["team-x"]})
    state = ClusterState(namespaces=[ns("team-a"), ns("team-x"), ns("other"), ns("team-gone", terminating=True)],
                         service_accounts=[sa("team-a"), sa("team-x"), sa("other"), sa("team-a", "builder")])
    result = plan([d], state)
    rows = [(c.namespace, c.kind, c.action, c.name) for c in result.changes]
    assert rows == [("team-a", "Secret", "create", "harbor"), ("team-a", "ServiceAccount", "add", "default")]
    assert [(s.namespace, s.reason) for s in result.skipped] == [("team-gone", "namespace is being terminated")]
    patch = result.changes[1].obj
    assert patch == {"metadata": {"annotations": {ADDED_ANNOTATION: "harbor"}, "resourceVersion": "7"},
                     "imagePullSecrets": [{"name": "harbor"}]}
    # the plan's JSON never carries the credential
    assert SECRET_VALUE not in json.dumps([c.to_json() for c in result.changes])


def test_second_plan_after_apply_is_empty() -> None:
    d = spec()
    first = plan([d], ClusterState(namespaces=[ns("a")], service_accounts=[sa("a", pulls=["mine"])]))
    secret = applied_secret(first.changes[0])
    after = sa("a", pulls=["mine", "harbor"], owned=["harbor"])
    assert plan([d], ClusterState(namespaces=[ns("a")], secrets=[secret], service_accounts=[after])).changes == ()


def test_dropping_a_registry_updates_the_secret_and_says_which() -> None:
    both = spec(servers=("r.example.com", "ghcr.io"))
    secret = applied_secret(plan([both], ClusterState(namespaces=[ns("a")])).changes[0])
    one = spec(servers=("r.example.com",))
    (change,) = plan([one], ClusterState(namespaces=[ns("a")], secrets=[secret])).changes
    assert (change.action, change.added, change.removed, change.updated) == ("update", (), ("ghcr.io",), ())
    new_payload = base64.b64decode(change.obj["data"][".dockerconfigjson"])
    assert list(json.loads(new_payload)["auths"]) == ["r.example.com"]
    assert change.obj["metadata"]["resourceVersion"] == "1"  # conditional write


def test_excluded_namespace_loses_only_regcreds_entries() -> None:
    d = spec()
    secret = applied_secret(plan([d], ClusterState(namespaces=[ns("a")])).changes[0])
    state = ClusterState(namespaces=[ns("a")], secrets=[secret],
                         service_accounts=[sa("a", pulls=["theirs", "harbor"], owned=["harbor"]),
                                           sa("a", "other", pulls=["harbor"])])  # added by someone else
    excluded = spec(namespaces={"exclude": ["a"]})
    result = plan([excluded], state)
    rows = [(c.kind, c.action, c.name) for c in result.changes]
    assert rows == [("Secret", "delete", "harbor"), ("ServiceAccount", "remove", "default")]
    assert result.changes[1].obj["imagePullSecrets"] == [{"name": "theirs"}]
    assert result.changes[1].obj["metadata"]["annotations"] == {ADDED_ANNOTATION: None}


def test_unmanaged_secret_with_the_same_name_is_a_conflict_and_nothing_attaches() -> None:
    foreign = {"kind": "Secret", "type": "kubernetes.io/dockerconfigjson",
               "metadata": {"name": "harbor", "namespace": "a"}, "data": {".dockerconfigjson": "e30="}}
    result = plan([spec()], ClusterState(namespaces=[ns("a")], secrets=[foreign], service_accounts=[sa("a")]))
    assert [(c.kind, c.action) for c in result.changes] == [("Secret", "conflict")]
    assert "not managed by regcred" in result.changes[0].reason


def test_workloads_only_with_matching_images() -> None:
    d = spec(workloads={"enabled": True})
    state = ClusterState(namespaces=[ns("a")], workloads=[deployment("a", "web", "r.example.com/web:1"),
                                                          deployment("a", "hub", "nginx:1")])
    changes = [c for c in plan([d], state).changes if c.kind == "Deployment"]
    assert [c.name for c in changes] == ["Deployment/web"]
    assert changes[0].obj == {"metadata": {"annotations": {ADDED_ANNOTATION: "harbor"}, "resourceVersion": "3"},
                              "spec": {"template": {"spec": {"imagePullSecrets": [{"name": "harbor"}]}}}}


def test_selector_targets() -> None:
    d = spec(namespaces={"selector": {"matchLabels": {"pull": "yes"}}})
    result = plan([d], ClusterState(namespaces=[ns("a", {"pull": "yes"}), ns("b")]))
    assert [(c.namespace, c.action) for c in result.changes] == [("a", "create")]


def test_named_service_accounts_that_do_not_exist_are_reported_globs_are_not() -> None:
    d = spec(serviceAccounts=["default", "builder", "ci-*", "*"])
    result = plan([d], ClusterState(namespaces=[ns("a"), ns("b")], service_accounts=[sa("b"), sa("b", "builder")]))
    assert [(s.namespace, s.kind, s.name, s.waiting) for s in result.skipped] == [
        ("a", "ServiceAccount", "default", True), ("a", "ServiceAccount", "builder", False)]
    assert "ServiceAccount builder does not exist in namespace a" in result.skipped[1].reason
    assert "waiting" in result.skipped[0].reason
    assert {(c.namespace, c.name) for c in result.changes if c.kind == "ServiceAccount"} == {
        ("b", "default"), ("b", "builder")}
    assert result.waiting == (result.skipped[0],) and not result.in_sync
    # a missing non-default account alone is reported but is no drift regcred can fix: in sync otherwise
    only_builder = plan([spec(serviceAccounts=["builder"])], ClusterState(
        namespaces=[ns("a")], secrets=[applied_secret(result.changes[0])]))
    assert [s.name for s in only_builder.skipped] == ["builder"] and only_builder.in_sync

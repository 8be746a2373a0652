"""read -> plan -> apply through the spec shells, against an in-memory API with resourceVersion preconditions."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from regcred.core.cluster.serviceaccounts import ADDED_ANNOTATION
from regcred.core.spec.model import SpecInvalid, parse_document
from regcred.core.spec.planner import CREDENTIAL_LABEL, plan
from regcred.shells.spec.source import resolve_all
from regcred.usecases.specapply import apply_plan
from regcred.usecases.specs import read_cluster_state
from tests.support.memapi import MemApi


def spec(servers: tuple[str, ...] = ("r.example.com",), name: str = "harbor", **extra: Any) -> Any:
    return parse_document({
        "apiVersion": "regcred.dev/v1alpha1", "kind": "RegistryCredential", "metadata": {"name": name},
        "spec": {"registries": [{"server": s, "username": "u", "passwordFrom": {"env": "REG_PW"}} for s in servers],
                 **extra}}, f"{name}.yaml")


@pytest.fixture(autouse=True)
def password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REG_PW", "pw-1")


def run(api: MemApi, specs: list[Any]) -> tuple[Any, list[Any]]:
    desired = resolve_all(specs, lambda ns, name: api.get_optional("Secret", name, ns))
    result = plan(desired, read_cluster_state(api, specs))
    rows = apply_plan(api, result, workers=1, desired=desired)
    return result, rows


def pulls(api: MemApi, ns: str, name: str = "default") -> list[str]:
    sa = api.get_obj("ServiceAccount", name, ns) or {}
    return [e["name"] for e in sa.get("imagePullSecrets") or []]


def auths(api: MemApi, ns: str, name: str = "harbor") -> list[str]:
    secret = api.get_obj("Secret", name, ns)
    assert secret is not None
    return list(json.loads(base64.b64decode(secret["data"][".dockerconfigjson"]))["auths"])


def test_apply_then_nothing_to_do_and_no_writes() -> None:
    api = MemApi()
    for ns in ("a", "b"):
        api.namespace(ns)
    _, rows = run(api, [spec()])
    assert sorted((r.namespace, r.name, r.status) for r in rows) == [
        ("a", "Secret/harbor", "created"), ("a", "ServiceAccount/default", "attached"),
        ("b", "Secret/harbor", "created"), ("b", "ServiceAccount/default", "attached")]
    assert auths(api, "a") == ["r.example.com"] and pulls(api, "b") == ["harbor"]
    api.log.clear()
    again, rows = run(api, [spec()])
    assert again.changes == () and rows == []
    assert api.writes() == []
    assert {verb for verb, *_ in api.log} == {"list"}  # reads are lists only, never per-object GETs


def test_namespaces_appearing_and_disappearing_between_plan_and_apply() -> None:
    api = MemApi()
    for ns in ("a", "b"):
        api.namespace(ns)
    specs = [spec()]
    desired = resolve_all(specs, None)
    planned = plan(desired, read_cluster_state(api, specs))
    assert {c.namespace for c in planned.changes} == {"a", "b"}
    for key in [k for k in api.objects if k[1] == "b" or k == ("Namespace", "", "b")]:
        del api.objects[key]  # b is deleted, c appears
    api.namespace("c")
    rows = apply_plan(api, planned, workers=1, desired=desired)
    by_ns = {(r.namespace, r.status) for r in rows}
    assert ("b", "skipped") in by_ns and not any(r.failed for r in rows)
    _, rows = run(api, specs)  # the next run picks up c
    assert {(r.namespace, r.status) for r in rows} == {("c", "created"), ("c", "attached")}
    assert run(api, specs)[0].changes == ()


def test_dropping_a_registry_rewrites_only_the_secret() -> None:
    api = MemApi()
    api.namespace("a")
    run(api, [spec(("r.example.com", "ghcr.io"))])
    assert auths(api, "a") == ["r.example.com", "ghcr.io"]
    result, _ = run(api, [spec(("r.example.com",))])
    assert [(c.kind, c.action, c.removed) for c in result.changes] == [("Secret", "update", ("ghcr.io",))]
    assert auths(api, "a") == ["r.example.com"] and pulls(api, "a") == ["harbor"]


def test_excluded_namespace_loses_only_regcreds_entries() -> None:
    api = MemApi()
    api.namespace("a", sas=("default", "ci"))
    run(api, [spec(serviceAccounts=["default"])])
    sa = api.get_obj("ServiceAccount", "default", "a")
    assert sa is not None
    api.patch("ServiceAccount", "default", "a", {"imagePullSecrets": [{"name": "harbor"}, {"name": "theirs"}]})
    api.patch("ServiceAccount", "ci", "a", {"imagePullSecrets": [{"name": "harbor"}]})  # added by hand
    result, _ = run(api, [spec(serviceAccounts=["default"], namespaces={"exclude": ["a"]})])
    assert [(c.kind, c.action, c.name) for c in result.changes] == [
        ("Secret", "delete", "harbor"), ("ServiceAccount", "remove", "default")]
    assert api.get_obj("Secret", "harbor", "a") is None
    assert pulls(api, "a") == ["theirs"] and pulls(api, "a", "ci") == ["harbor"]
    sa = api.get_obj("ServiceAccount", "default", "a")
    assert ADDED_ANNOTATION not in (sa or {}).get("metadata", {}).get("annotations", {})


def test_a_concurrent_writer_is_kept_after_a_conflict() -> None:
    api = MemApi()
    api.namespace("a")
    specs = [spec()]
    desired = resolve_all(specs, None)
    planned = plan(desired, read_cluster_state(api, specs))
    api.patch("ServiceAccount", "default", "a", {"imagePullSecrets": [{"name": "theirs"}]})  # after the read
    rows = apply_plan(api, planned, workers=1, desired=desired)
    assert not any(r.failed for r in rows)
    assert pulls(api, "a") == ["theirs", "harbor"]


def test_unmanaged_secret_of_the_same_name_fails_that_namespace_only() -> None:
    api = MemApi()
    api.namespace("a")
    api.namespace("b")
    api.add({"kind": "Secret", "type": "kubernetes.io/dockerconfigjson",
             "metadata": {"name": "harbor", "namespace": "a"}, "data": {".dockerconfigjson": "e30="}})
    _, rows = run(api, [spec()])
    failed = [(r.namespace, r.name) for r in rows if r.failed]
    assert failed == [("a", "Secret/harbor")]
    assert pulls(api, "a") == [] and pulls(api, "b") == ["harbor"]


def test_renamed_secret_is_cleaned_up() -> None:
    api = MemApi()
    api.namespace("a")
    run(api, [spec()])
    run(api, [spec(secretName="harbor-v2")])
    assert api.get_obj("Secret", "harbor", "a") is None
    secret = api.get_obj("Secret", "harbor-v2", "a")
    assert secret is not None and secret["metadata"]["labels"][CREDENTIAL_LABEL] == "harbor"
    assert pulls(api, "a") == ["harbor-v2"]


def test_missing_secret_key_ref_and_env_are_clear_errors() -> None:
    api = MemApi()
    ref = parse_document({
        "apiVersion": "regcred.dev/v1alpha1", "kind": "RegistryCredential", "metadata": {"name": "q"},
        "spec": {"registries": [
            {"server": "q.io", "username": "u",
             "passwordFrom": {"secretKeyRef": {"namespace": "ops", "name": "quay", "key": "token"}}},
            {"server": "e.io", "username": "u", "passwordFrom": {"env": "NOT_SET_ANYWHERE"}}]}}, "q.yaml")
    with pytest.raises(SpecInvalid) as info:
        resolve_all([ref], lambda ns, name: api.get_optional("Secret", name, ns))
    assert info.value.problems == [  # every unresolvable source of the spec at once, one line each
        "q.yaml: spec.registries[0].passwordFrom.secretKeyRef: Secret ops/quay not found "
        "(create it, or fix the reference)",
        "q.yaml: spec.registries[1].passwordFrom.env: environment variable NOT_SET_ANYWHERE is not set "
        "(export it before running regcred)"]
    api.add({"kind": "Secret", "metadata": {"name": "quay", "namespace": "ops"},
             "data": {"token": base64.b64encode(b"tok").decode()}})
    with pytest.raises(SpecInvalid) as info:
        resolve_all([ref], lambda ns, name: api.get_optional("Secret", name, ns))
    assert info.value.problems == [
        "q.yaml: spec.registries[1].passwordFrom.env: environment variable NOT_SET_ANYWHERE is not set "
        "(export it before running regcred)"]


def test_a_refused_write_fails_that_object_only_and_keeps_the_rows_already_written(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from regcred.shells.kube.errors import KubeForbidden

    api = MemApi()
    api.namespace("a", sas=("default", "builder"))
    real_patch = api.patch

    def patch(kind: str, name: str, *args: Any, **kw: Any) -> dict[str, Any]:
        if (kind, name) == ("ServiceAccount", "default"):
            raise KubeForbidden('serviceaccounts "default" is forbidden: cannot patch', status=403)
        return real_patch(kind, name, *args, **kw)

    monkeypatch.setattr(api, "patch", patch)
    _, rows = run(api, [spec(serviceAccounts=["default", "builder"])])
    assert sorted((r.name, r.status) for r in rows) == [
        ("Secret/harbor", "created"), ("ServiceAccount/builder", "attached"), ("ServiceAccount/default", "failed")]
    assert "forbidden" in next(r.message for r in rows if r.status == "failed")
    assert pulls(api, "a", "builder") == ["harbor"]


def test_a_secret_that_could_not_be_created_is_not_attached_anywhere(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without `create` on secrets the ServiceAccount used to get an entry naming a Secret that does not exist."""
    from regcred.shells.kube.errors import KubeForbidden

    api = MemApi()
    api.namespace("a", sas=("default", "builder"))
    api.namespace("b")
    real_create = api.create

    def create(obj: dict[str, Any], namespace: str | None = None, **kw: Any) -> dict[str, Any]:
        if obj.get("kind") == "Secret" and (namespace or obj["metadata"].get("namespace")) == "a":
            raise KubeForbidden('secrets is forbidden: cannot create resource "secrets"', status=403)
        return real_create(obj, namespace, **kw)

    monkeypatch.setattr(api, "create", create)
    _, rows = run(api, [spec(namespaces={"include": ["a", "b"]}, serviceAccounts=["default", "builder"])])
    by = {(r.namespace, r.name): (r.status, r.message) for r in rows}
    assert by[("a", "Secret/harbor")][0] == "failed"
    assert by[("a", "ServiceAccount/default")] == ("skipped", "not attached: Secret harbor could not be created")
    assert pulls(api, "a", "default") == [] and pulls(api, "a", "builder") == []
    assert pulls(api, "b", "default") == ["harbor"]  # the other namespace goes on


def test_a_secret_several_registries_refer_to_is_read_once() -> None:
    api = MemApi()
    token = base64.b64encode(b"tok-1").decode()
    api.add({"kind": "Secret", "metadata": {"name": "tokens", "namespace": "ops"}, "data": {"a": token, "b": token}})
    ref = {"secretKeyRef": {"namespace": "ops", "name": "tokens", "key": "a"}}
    specs = [parse_document({
        "apiVersion": "regcred.dev/v1alpha1", "kind": "RegistryCredential", "metadata": {"name": name},
        "spec": {"registries": [{"server": f"{name}-{i}.example.com", "username": "u", "passwordFrom": ref}
                                for i in range(3)]}}, f"{name}.yaml") for name in ("one", "two")]
    api.log.clear()
    desired = resolve_all(specs, lambda ns, name: api.get_optional("Secret", name, ns))
    assert [entry for entry in api.log if entry[0] == "get"] == [("get", "Secret", "ops", "tokens")]
    assert {e.password for d in desired for e in d.config.entries} == {"tok-1"}

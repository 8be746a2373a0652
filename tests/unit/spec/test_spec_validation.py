"""RegistryCredential validation: one message per problem, naming the place; JSON Schema/CRD up to date."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from regcred.core.spec.model import SpecInvalid, parse_document, parse_documents
from regcred.core.spec.schema import crd, json_schema

ROOT = Path(__file__).resolve().parents[3]


def doc(**spec: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"registries": [{"server": "r.example.com", "username": "u",
                                            "passwordFrom": {"env": "R_TOKEN"}}]}
    base.update(spec)
    return {"apiVersion": "regcred.dev/v1alpha1", "kind": "RegistryCredential",
            "metadata": {"name": "harbor"}, "spec": base}


def problems(document: Any) -> list[str]:
    with pytest.raises(SpecInvalid) as info:
        parse_document(document, "f.yaml")
    return info.value.problems


def test_defaults_are_filled_in() -> None:
    spec = parse_document(doc(), "f.yaml")
    assert spec.secret_name == "harbor"
    assert spec.service_accounts == ("default",)
    assert spec.namespaces.include == ("*",) and spec.namespaces.exclude == ()
    assert not spec.nodes.enabled and spec.nodes.root_dir == "/var/lib/kubelet"
    assert not spec.workloads.enabled and spec.workloads.match_registries
    assert "Deployment" in spec.workloads.kinds and "ReplicaSet" not in spec.workloads.kinds


def test_every_problem_is_reported_with_its_path() -> None:
    bad = doc(registries=[
        {"server": "a.io", "username": "u", "passwordFrom": {"env": "A", "file": "/x"}},
        {"server": "b.io", "password": "hunter2"},
    ], namespaces={"include": "x"}, extra=1)
    bad["metadata"]["name"] = "Bad_Name"
    found = problems(bad)
    joined = "\n".join(found)
    assert "f.yaml: metadata.name: 'Bad_Name' is not a lowercase RFC 1123 subdomain" in joined
    assert "f.yaml: spec: unknown field 'extra'" in joined
    assert "spec.registries[0].passwordFrom: give exactly one of env | file | secretKeyRef" in joined
    assert "spec.registries[1]: unknown field 'password'" in joined
    assert "spec.registries[1].username: required field is missing" in joined
    assert "spec.namespaces.include: must be a list, not a string" in joined
    assert len(found) >= 6
    assert "hunter2" not in joined  # a literal password is refused without being echoed


@pytest.mark.parametrize(("change", "needle"), [
    ({"registries": []}, "spec.registries: needs at least 1 item(s)"),
    ({"registries": [{"server": "a.io:x", "username": "u", "passwordFrom": {"env": "X"}}]},
     "spec.registries[0].server: 'a.io:x' is not a registry key the kubelet can parse"),
    ({"registries": [{"server": "https://", "username": "u", "passwordFrom": {"env": "X"}}]},
     "spec.registries[0].server: 'https://' is not a registry key the kubelet can parse"),
    ({"registries": [{"server": "bad host", "username": "u", "passwordFrom": {"env": "X"}}]},
     "spec.registries[0].server: 'bad host' must not contain spaces"),
    ({"registries": [{"server": "a.io", "username": "u", "passwordFrom": {"env": "1X"}}]},
     "spec.registries[0].passwordFrom.env: the value (not shown) is not an environment variable name"),
    ({"registries": [{"server": "a.io", "username": "u", "passwordFrom": {"env": "X"}},
                     {"server": "https://a.io/v2/", "username": "v", "passwordFrom": {"env": "Y"}}]},
     "spec.registries[1].server: 'https://a.io/v2/' is the same registry as spec.registries[0].server"),
    ({"registries": [{"fromSecret": {"namespace": "ns", "name": "s"}, "server": "a.io"}]},
     "give exactly one of server+username+passwordFrom | fromSecret | server+credentialProvider (more than one is given)"),
    ({"workloads": {"kinds": ["Pod"]}}, "spec.workloads.kinds[0]: 'Pod' is not one of Deployment"),
    ({"workloads": {"enabled": "yes"}}, "spec.workloads.enabled: must be true or false, not a string"),
    ({"nodes": {"runtimes": ["docker"]}}, "spec.nodes.runtimes[0]: 'docker' is not one of containerd"),
    ({"namespaces": {"selector": {"matchExpressions": [{"key": "a", "operator": "In"}]}}},
     "spec.namespaces.selector.matchExpressions[0].values: operator In and NotIn need at least one value"),
    ({"namespaces": {"include": ["team-[a"]}}, "spec.namespaces.include[0]: 'team-[a' is not a name or glob"),
    ({"namespaces": {"exclude": ["Team-A"]}}, "spec.namespaces.exclude[0]: 'Team-A' is not a name or glob"),
    ({"serviceAccounts": ["ns/builder"]}, "spec.serviceAccounts[0]: 'ns/builder' is not a name or glob"),
    ({"namespaces": {"include": []}}, "spec.namespaces.include: needs at least 1 item(s)"),
    ({"namespaces": {"selector": {"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]}}},
     "spec.namespaces.selector.matchExpressions[0].values: operator Exists and DoesNotExist take no values"),
    ({"secretName": "UPPER"}, "spec.secretName: 'UPPER' is not a lowercase RFC 1123 subdomain"),
])
def test_single_problems(change: dict[str, Any], needle: str) -> None:
    found = problems(doc(**change))
    assert any(needle in p for p in found), found


def test_not_a_mapping_and_wrong_version() -> None:
    assert problems(["x"]) == ["f.yaml: the document: must be a mapping, not a list"]
    bad = doc()
    bad["apiVersion"] = "regcred.dev/v2"
    with pytest.raises(SpecInvalid) as info:
        parse_documents([(bad, "f.yaml")])
    assert "f.yaml: apiVersion: 'regcred.dev/v2' is not supported (use regcred.dev/v1alpha1)" in info.value.problems


def test_same_secret_name_with_different_registries_is_an_error() -> None:
    a = doc(secretName="pull")
    b = doc(secretName="pull", registries=[{"server": "other.io", "username": "u", "passwordFrom": {"env": "O"}}])
    b["metadata"]["name"] = "other"
    with pytest.raises(SpecInvalid) as info:
        parse_documents([(a, "a.yaml"), (b, "b.yaml")])
    assert info.value.problems == [
        "b.yaml: spec.secretName: 'other' and 'harbor' (a.yaml) both write Secret 'pull' with different registries "
        "(give one of them another secretName)"
    ]
    b["spec"]["registries"] = a["spec"]["registries"]
    assert len(parse_documents([(a, "a.yaml"), (b, "b.yaml")])) == 2  # same registries: fine


def test_duplicate_document_names() -> None:
    with pytest.raises(SpecInvalid) as info:
        parse_documents([(doc(), "a.yaml"), (doc(), "b.yaml")])
    assert "b.yaml: metadata.name: 'harbor' is also the name of a.yaml" in info.value.problems


def test_selector_semantics() -> None:
    spec = parse_document(doc(namespaces={"include": ["team-*"], "exclude": ["team-x"], "selector": {
        "matchLabels": {"pull": "yes"},
        "matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["dev"]},
                             {"key": "legacy", "operator": "DoesNotExist"}]}}), "f.yaml")
    ns = spec.namespaces
    assert ns.matches("team-a", {"pull": "yes"})
    assert not ns.matches("team-x", {"pull": "yes"})
    assert not ns.matches("other", {"pull": "yes"})
    assert not ns.matches("team-a", {"pull": "no"})
    assert not ns.matches("team-a", {"pull": "yes", "tier": "dev"})
    assert not ns.matches("team-a", {"pull": "yes", "legacy": ""})
    assert ns.selector is not None and ns.selector.to_query() == "pull=yes,tier notin (dev),!legacy"


def test_example_is_valid() -> None:
    example = yaml.safe_load((ROOT / "examples" / "registrycredential.yaml").read_text())
    spec = parse_document(example, "example")
    assert spec.secret_name == "harbor-pull" and spec.workloads.enabled


def test_committed_schema_and_crd_are_up_to_date() -> None:
    schema = json.loads((ROOT / "deploy" / "crd" / "registrycredential.schema.json").read_text())
    assert schema == json_schema(), "run: regcred spec schema > deploy/crd/registrycredential.schema.json"
    committed = yaml.safe_load((ROOT / "deploy" / "crd" / "registrycredential.yaml").read_text())
    assert committed == crd(), "run: regcred spec crd > deploy/crd/registrycredential.yaml"


def test_schema_and_crd_come_from_one_definition() -> None:
    schema = json_schema()
    crd_spec = crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    js_spec = schema["properties"]["spec"]

    def fields(node: dict[str, Any]) -> Any:
        if node.get("type") == "object" and "properties" in node:
            return {k: fields(v) for k, v in node["properties"].items()}
        if node.get("type") == "array":
            return [fields(node["items"])]
        return (node["type"], tuple(node.get("enum", ())), node.get("default"))

    assert fields(js_spec) == fields(crd_spec)
    # structural-schema rules the apiserver enforces: no additionalProperties next to properties in a CRD
    assert "additionalProperties" not in json.dumps(crd_spec).replace('"additionalProperties": {"type": "string"}', "")
    assert js_spec["additionalProperties"] is False


def test_a_directory_is_read_like_inject_reads_it(tmp_path: Path) -> None:
    """-f DIR: every *.yaml/*.yml/*.json under it, whatever the case of the suffix; a bad path is one clear line."""
    from tests.support.cli import run_regcred

    (tmp_path / "specs" / "sub").mkdir(parents=True)
    doc = ("apiVersion: regcred.dev/v1alpha1\nkind: RegistryCredential\nmetadata: {name: NAME}\nspec:\n"
           "  registries: [{server: r.example.com, username: u, passwordFrom: {env: T}}]\n")
    (tmp_path / "specs" / "A.YAML").write_text(doc.replace("NAME", "upper"))
    (tmp_path / "specs" / "sub" / "b.yml").write_text(doc.replace("NAME", "lower"))
    (tmp_path / "specs" / "notes.txt").write_text("not a manifest")
    result = run_regcred("spec", "validate", "-f", tmp_path / "specs")
    assert result.returncode == 0, result.stderr
    assert "RegistryCredential upper is valid" in result.stdout and "RegistryCredential lower is valid" in result.stdout
    missing = run_regcred("spec", "validate", "-f", tmp_path / "nope")
    assert missing.returncode == 2 and missing.stderr.count("\n") == 1 and "no such file or directory" in missing.stderr

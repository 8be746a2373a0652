"""The CLI validator, the JSON Schema and the CRD served by a real kube-apiserver accept and refuse the same documents.

Rules only the CLI can check (the kubelet's parse of a registry key, the same registry written two ways) are the
documented exceptions; everything else must agree, so an editor, `kubectl apply` of the custom resource and
`regcred spec validate` never disagree on what a valid RegistryCredential is.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from regcred.core.spec.model import SpecInvalid, parse_document
from regcred.core.spec.schema import crd, json_schema

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = yaml.safe_load((ROOT / "examples" / "registrycredential.yaml").read_text())
CLI_ONLY = ("is not a registry key the kubelet can parse", "is the same registry as", "is not served by the server",
            "required when the server", "must be more than 0", "is not a valid time", "must not be negative", "credentialProvider.image: ")
PROVIDER: dict[str, Any] = {"server": "a.io", "credentialProvider": {"command": "/usr/local/bin/plugin"}}


def cli_problems(doc: Any) -> list[str]:
    try:
        parse_document(doc, "x")
    except SpecInvalid as exc:
        return exc.problems
    return []


def mutate(change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    doc = copy.deepcopy(EXAMPLE)
    change(doc)
    return doc


def registry(doc: dict[str, Any], index: int = 0) -> dict[str, Any]:
    item: dict[str, Any] = doc["spec"]["registries"][index]
    return item


def selector(expr: dict[str, Any]) -> Callable[[dict[str, Any]], None]:
    return lambda d: d["spec"]["namespaces"].update(selector={"matchExpressions": [expr]})


# (name, change, valid?) — what every validator must say.
CASES: list[tuple[str, Callable[[dict[str, Any]], None], bool]] = [
    ("example", lambda d: None, True),
    ("status read back from the cluster", lambda d: d.update(status={"observedGeneration": 1}), True),
    ("metadata from the cluster", lambda d: d["metadata"].update(uid="u", resourceVersion="7", generation=2), True),
    ("fromSecret alone", lambda d: d["spec"]["registries"].__setitem__(
        0, {"fromSecret": {"namespace": "ops", "name": "pull"}}), True),
    ("server and fromSecret", lambda d: d["spec"]["registries"].__setitem__(
        0, {"server": "a.io", "fromSecret": {"namespace": "ops", "name": "pull"}}), False),
    ("username and fromSecret", lambda d: d["spec"]["registries"].__setitem__(
        0, {"username": "u", "fromSecret": {"namespace": "ops", "name": "pull"}}), False),
    ("complete server and fromSecret", lambda d: registry(d).update(
        fromSecret={"namespace": "ops", "name": "pull"}), False),
    ("env and file", lambda d: registry(d)["passwordFrom"].update(file="/x"), False),
    ("empty passwordFrom", lambda d: registry(d).update(passwordFrom={}), False),
    ("literal password", lambda d: registry(d).update(password="hunter2"), False),
    ("no registries", lambda d: d["spec"].update(registries=[]), False),
    ("server with a space", lambda d: registry(d).update(server="a.io /x"), False),
    ("In without values", selector({"key": "a", "operator": "In"}), False),
    ("NotIn with empty values", selector({"key": "a", "operator": "NotIn", "values": []}), False),
    ("In with values", selector({"key": "a", "operator": "In", "values": ["x"]}), True),
    ("Exists with values", selector({"key": "a", "operator": "Exists", "values": ["x"]}), False),
    ("DoesNotExist", selector({"key": "a", "operator": "DoesNotExist"}), True),
    ("unknown operator", selector({"key": "a", "operator": "Eq"}), False),
    ("empty include", lambda d: d["spec"]["namespaces"].update(include=[]), False),
    ("unclosed glob class", lambda d: d["spec"]["namespaces"].update(include=["team-[ab"]), False),
    ("closed glob classes", lambda d: d["spec"]["namespaces"].update(include=["team-[ab]", "x-[!c]?", "*"]), True),
    ("upper-case exclude", lambda d: d["spec"]["namespaces"].update(exclude=["Team-A"]), False),
    ("ServiceAccount with a slash", lambda d: d["spec"].update(serviceAccounts=["ns/x"]), False),
    ("no ServiceAccounts", lambda d: d["spec"].update(serviceAccounts=[]), True),
    ("bad secretName", lambda d: d["spec"].update(secretName="Bad_Name"), False),
    ("unknown runtime", lambda d: d["spec"]["nodes"].update(runtimes=["docker"]), False),
    ("unknown workload kind", lambda d: d["spec"]["workloads"].update(kinds=["Pod"]), False),
    ("string boolean", lambda d: d["spec"]["workloads"].update(enabled="yes"), False),
    ("unknown spec field", lambda d: d["spec"].update(extra=1), False),
    ("secretKeyRef without key", lambda d: registry(d, 1)["passwordFrom"]["secretKeyRef"].pop("key"), False),
    ("no spec", lambda d: d.pop("spec"), False),
    ("credentialProvider", lambda d: d["spec"]["registries"].__setitem__(0, PROVIDER), True),
    ("credentialProvider with everything", lambda d: d["spec"]["registries"].__setitem__(0, {**PROVIDER, "credentialProvider": {
        **PROVIDER["credentialProvider"], "args": ["get-credentials"], "env": [{"name": "AWS_PROFILE", "value": "p"}],
        "apiVersion": "credentialprovider.kubelet.k8s.io/v1beta1", "image": "a.io/team/app", "timeout": "1m30s",
        "defaultCacheDuration": "12h"}}), True),
    ("credentialProvider and username", lambda d: d["spec"]["registries"].__setitem__(
        0, {**PROVIDER, "username": "u"}), False),
    ("credentialProvider without server", lambda d: d["spec"]["registries"].__setitem__(
        0, {"credentialProvider": PROVIDER["credentialProvider"]}), False),
    ("credentialProvider and fromSecret", lambda d: d["spec"]["registries"].__setitem__(
        0, {**PROVIDER, "fromSecret": {"namespace": "ops", "name": "pull"}}), False),
    ("relative plugin command", lambda d: d["spec"]["registries"].__setitem__(
        0, {"server": "a.io", "credentialProvider": {"command": "bin/plugin"}}), False),
    ("unknown plugin apiVersion", lambda d: d["spec"]["registries"].__setitem__(
        0, {"server": "a.io", "credentialProvider": {"command": "/p", "apiVersion": "v1"}}), False),
    ("timeout that is no Go duration", lambda d: d["spec"]["registries"].__setitem__(
        0, {"server": "a.io", "credentialProvider": {"command": "/p", "timeout": "10"}}), False),
    ("expiresAt on a password", lambda d: registry(d).update(expiresAt="2027-01-31T00:00:00Z"), True),
    ("expiresAt with an offset and fraction", lambda d: registry(d).update(expiresAt="2027-01-31T10:00:00.5+02:00"),
     True),
    ("expiresAt that is a date only", lambda d: registry(d).update(expiresAt="2027-01-31"), False),
    ("expiresAt on a plugin", lambda d: d["spec"]["registries"].__setitem__(
        0, {**PROVIDER, "expiresAt": "2027-01-31T00:00:00Z"}), False),
    ("expiresAt on fromSecret", lambda d: d["spec"]["registries"].__setitem__(
        0, {"fromSecret": {"namespace": "ops", "name": "pull"}, "expiresAt": "2027-01-31T00:00:00Z"}), False),
    ("plugin env without value", lambda d: d["spec"]["registries"].__setitem__(
        0, {"server": "a.io", "credentialProvider": {"command": "/p", "env": [{"name": "A"}]}}), False),
]


@pytest.mark.parametrize(("change", "valid"), [(c, v) for _, c, v in CASES], ids=[n for n, _, _ in CASES])
def test_cli_and_json_schema_agree(change: Callable[[dict[str, Any]], None], valid: bool) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    doc = mutate(change)
    assert (cli_problems(doc) == []) is valid, cli_problems(doc)
    errors = list(jsonschema.Draft202012Validator(json_schema()).iter_errors(doc))
    assert (errors == []) is valid, [e.message for e in errors]


VALUES = st.sampled_from([None, "", "a.io", "Bad_Name", "team-*", "[x", "In", "Exists", "containerd", "Pod",
                          True, 1, [], ["x"], [""], {}, {"env": "X"}, {"env": "X", "file": "/f"}])


@st.composite
def mutated(draw: st.DrawFn) -> dict[str, Any]:
    """The example with a few values replaced, removed or added at random places."""
    doc = copy.deepcopy(EXAMPLE)
    for _ in range(draw(st.integers(1, 3))):
        node: Any = doc
        while True:
            keys = list(node) if isinstance(node, dict) else list(range(len(node))) if isinstance(node, list) else []
            if not keys or draw(st.booleans()):
                break
            child = node[draw(st.sampled_from(keys))]
            if not isinstance(child, dict | list) or not child:
                break
            node = child
        if isinstance(node, dict):
            key = draw(st.sampled_from([*node, "extra", "values", "server", "fromSecret", "status"]))
            if draw(st.booleans()) and key in node:
                del node[key]
            else:
                node[key] = copy.deepcopy(draw(VALUES))
        elif isinstance(node, list) and node:
            node[draw(st.integers(0, len(node) - 1))] = copy.deepcopy(draw(VALUES))
    return doc


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_cli_and_json_schema_agree_on_random_documents(doc: dict[str, Any]) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    problems = cli_problems(doc)
    schema_ok = jsonschema.Draft202012Validator(json_schema()).is_valid(doc)
    if schema_ok:
        assert all(any(rule in p for rule in CLI_ONLY) for p in problems), problems
    else:
        assert problems, "the JSON Schema refuses a document the CLI accepts"


# -- the CRD on a real kube-apiserver ------------------------------------------------------------------------

CRD_PATH = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
OBJECTS = "/apis/regcred.dev/v1alpha1/registrycredentials"


def install_crd(kube: Any) -> None:
    manifest = yaml.safe_load((ROOT / "deploy" / "crd" / "registrycredential.yaml").read_text())
    assert manifest == crd()
    name = manifest["metadata"]["name"]
    current = kube.request("GET", f"{CRD_PATH}/{name}")
    if current.status_code == 404:
        created = kube.request("POST", CRD_PATH, json=manifest)
    else:
        manifest["metadata"]["resourceVersion"] = current.json()["metadata"]["resourceVersion"]
        created = kube.request("PUT", f"{CRD_PATH}/{name}", json=manifest)
    assert created.status_code < 300, created.text  # the apiserver accepts the generated structural schema
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        status = kube.request("GET", f"{CRD_PATH}/{name}").json().get("status") or {}
        if {c["type"]: c["status"] for c in status.get("conditions") or []}.get("Established") == "True" and (
                kube.request("GET", OBJECTS).status_code == 200):
            return
        time.sleep(0.2)
    raise AssertionError("the CRD never became established")


def test_crd_on_the_real_apiserver_agrees_with_the_cli(kube: Any) -> None:
    if kube.name != "envtest":
        pytest.skip("the fake API serves no CustomResourceDefinitions: this runs on the real apiserver only")
    install_crd(kube)
    example = copy.deepcopy(EXAMPLE)
    example["metadata"]["name"] = kube.unique_ns("example")
    created = kube.request("POST", OBJECTS, json=example, params={"fieldValidation": "Strict"})
    assert created.status_code == 201, created.text
    try:
        stored = created.json()
        assert stored["spec"] == EXAMPLE["spec"] and cli_problems(stored) == []  # read back: still valid
        for index, (name, change, valid) in enumerate(CASES):
            doc = mutate(change)
            if isinstance(doc.get("metadata"), dict):
                doc["metadata"]["name"] = f"case-{index}"
            answer = kube.request("POST", OBJECTS, json=doc, params={"fieldValidation": "Strict", "dryRun": "All"})
            assert (answer.status_code == 201) is valid, (name, answer.text)
            assert (cli_problems(doc) == []) is valid, (name, cli_problems(doc))
    finally:
        kube.request("DELETE", f"{OBJECTS}/{example['metadata']['name']}")

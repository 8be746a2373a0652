"""The manifest stream editor: both editors (libyaml text edits and the ruamel round-trip) on the same cases.

Every case is checked three ways: the result means exactly "input plus the secret appended to each pod
spec" (compared as data against the pure core's edit), running the editor again changes nothing, and
the lines the edit did not concern are still there byte for byte (comments, quotes, flow style).
"""

from __future__ import annotations

import copy
import json

import pytest
import yaml

from regcred.core.cluster.podspec import EditRequest, RegistryScope, apply_plan, find_pod_specs, plan_spec
from regcred.core.errors import InputError
from regcred.core.manifests.streamedit import edit_stream
from tests.support.workloadtexts import (
    ANCHORED,
    CRONJOB,
    DEPLOYMENT,
    EMPTY_FLOW,
    EXISTING_BLOCK,
    FLOW_SPEC,
    JSON_DOC,
    JSON_LIST,
    LIST,
    MULTI,
)

ENGINES = ["auto", "ruamel"]

CASES = {
    "deployment": DEPLOYMENT,
    "existing-block": EXISTING_BLOCK,
    "empty-flow": EMPTY_FLOW,
    "flow-spec": FLOW_SPEC,
    "cronjob": CRONJOB,
    "list": LIST,
    "multi": MULTI,
    "json": JSON_DOC,
    "json-list": JSON_LIST,
    "anchored": ANCHORED,
}

# Lines the edit does not concern; each must survive byte for byte.
KEPT = {
    "deployment": ["# leading comment of the stream", "kind: Deployment   # the kind", '  namespace: "prod"',
                   "  replicas: 2 # two", "          image: 'registry.example.com/app:1'  # quoted",
                   """          args: ["--a", 'b', c]""", "      # trailing comment of the pod spec"],
    "existing-block": ["      - name: other   # keep me", "metadata: {name: db}"],
    "empty-flow": ["      containers: [{name: a, image: registry.example.com/agent}]"],
    "cronjob": ['  schedule: "*/5 * * * *"', '              echo "multi', '              line"'],
    "list": ["  kind: ConfigMap # not a workload", """  data: {spec: '{"template": 1}'}"""],
    "multi": [*MULTI.split("---")[0].splitlines(), "# third: an unknown kind passes through", "    spec: {containers: [{image: registry.example.com/w}]}"],
    "anchored": ["x-common: &common", "  image: registry.example.com/a  # shared", "      - <<: *common"],
}


def _load(text: str) -> list:
    return list(yaml.safe_load_all(text))


def _expected(text: str, request: EditRequest) -> list:
    docs = copy.deepcopy(_load(text))
    for doc in docs:
        for _, spec in find_pod_specs(doc):
            apply_plan(spec, plan_spec(spec, request), request.secret)
    return docs


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("case", sorted(CASES))
def test_edit_means_secret_appended_and_is_idempotent(case: str, engine: str) -> None:
    text = CASES[case]
    request = EditRequest("regsecret")
    result = edit_stream(text, case, request, engine=engine)
    assert _load(result.text) == _expected(text, request)
    assert result.changed, "every case has at least one pod spec to edit"
    again = edit_stream(result.text, case, request, engine=engine)
    assert again.text == result.text
    assert not again.changed
    for line in KEPT.get(case, []):
        assert line in result.text.splitlines(), (engine, line, result.text)


@pytest.mark.parametrize("case", sorted(CASES))
def test_fast_path_changes_only_inserted_text(case: str) -> None:
    """The text editor only inserts: deleting what it added gives the input back."""
    text = CASES[case]
    result = edit_stream(text, case, EditRequest("regsecret"), engine="auto")
    editors = {o.editor for o in result.changed}
    if case == "anchored":
        assert editors == {"ruamel"}  # anchors and aliases go to the round-trip editor
        return
    assert editors == {"text"} or case.startswith("json")
    import difflib

    matcher = difflib.SequenceMatcher(a=text, b=result.text, autojunk=False)
    for op, a0, a1, _, _ in matcher.get_opcodes():
        if op in ("delete", "replace"):
            assert text[a0:a1].replace(" ", "") in ("[]",), (case, op, text[a0:a1])


def test_json_stays_json_with_its_indentation() -> None:
    for text in (JSON_DOC, JSON_LIST):
        for engine in ENGINES:
            out = edit_stream(text, "j.json", EditRequest("regsecret"), engine=engine).text
            data = json.loads(out)
            assert "regsecret" in out
            assert out.splitlines()[1].startswith(" " * (4 if text is JSON_LIST else 2) + '"')
            assert data == _expected(text, EditRequest("regsecret"))[0]


def test_untouched_documents_are_byte_identical() -> None:
    out = edit_stream(MULTI, "m", EditRequest("regsecret")).text
    first, second, third = out.split("---\n")
    assert first == MULTI.split("---\n")[0]
    assert third == MULTI.split("---\n")[2]
    assert "- name: regsecret" in second


def test_stream_without_workloads_is_returned_unchanged() -> None:
    text = "# just a comment\n---\nkind: Service\nmetadata: {name: s}  # x\n---\n"
    assert edit_stream(text, "s", EditRequest("regsecret")).text == text


def test_registry_filter_edits_only_matching_specs() -> None:
    request = EditRequest("regsecret", RegistryScope(["registry.example.com"]))
    result = edit_stream(LIST, "l", request)
    docs = _load(result.text)
    job = docs[0]["items"][1]["spec"]["template"]["spec"]
    assert job["imagePullSecrets"] == [{"name": "regsecret"}]  # its init container matches
    other = edit_stream(LIST, "l", EditRequest("regsecret", RegistryScope(["quay.io"])))
    assert other.text == LIST and not other.changed


def test_service_account_set_and_refused() -> None:
    out = edit_stream(MULTI, "m", EditRequest("regsecret", service_account="puller")).text
    assert "      serviceAccountName: 'puller'" in out.splitlines()  # quoting style kept
    deployment = _load(DEPLOYMENT.replace("    spec:\n      containers", "    spec:\n      serviceAccountName: ops\n"
                                                                           "      containers"))
    text = yaml.safe_dump(deployment[0])
    refused = edit_stream(text, "d", EditRequest("regsecret", service_account="puller"))
    assert refused.text == text
    assert refused.skipped and "'ops'" in (refused.skipped[0].plan.skipped or "")
    forced = edit_stream(text, "d", EditRequest("regsecret", service_account="puller", force=True))
    spec = _load(forced.text)[0]["spec"]["template"]["spec"]
    assert spec["serviceAccountName"] == "puller" and spec["imagePullSecrets"] == [{"name": "regsecret"}]


def test_new_service_account_key_is_added_next_to_the_secret() -> None:
    out = edit_stream(CRONJOB, "c", EditRequest("regsecret", service_account="puller")).text
    spec = _load(out)[0]["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert spec["serviceAccountName"] == "puller"
    assert "          serviceAccountName: puller" in out.splitlines()


def test_secret_name_that_yaml_would_misread_is_quoted() -> None:
    out = edit_stream(EXISTING_BLOCK, "e", EditRequest("true")).text
    assert _load(out)[0]["spec"]["template"]["spec"]["imagePullSecrets"][-1] == {"name": "true"}


def test_file_without_trailing_newline() -> None:
    text = EXISTING_BLOCK.rstrip("\n")
    out = edit_stream(text, "e", EditRequest("regsecret")).text
    assert _load(out) == _expected(text, EditRequest("regsecret"))


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("kind: Pod\nspec: {a: 1\n", "document 1, line 3"),
        ("kind: ConfigMap\n---\nkind: Pod\nspec:\n  - a\n  b: c\n", "document 2, line"),
        ("kind: Pod\n\tspec: x\n", "document 1, line 2"),
    ],
)
def test_invalid_yaml_names_document_and_line(text: str, needle: str) -> None:
    with pytest.raises(InputError) as info:
        edit_stream(text, "bad.yaml", EditRequest("regsecret"))
    assert info.value.line().startswith("bad.yaml: ") and needle in info.value.line()


def test_invalid_json_names_line() -> None:
    with pytest.raises(InputError, match=r"bad.json: document 1, line 4, invalid JSON"):
        edit_stream('{\n  "kind": "Pod",\n  "spec": [1, 2\n}\n', "bad.json", EditRequest("regsecret"))


def test_json_that_only_json_accepts_falls_back_to_json_editor() -> None:
    text = '{\n\t"kind": "Pod",\n\t"metadata": {"name": "t"},\n\t"spec": {"containers": [{"image": "a\\/b"}]}\n}\n'
    out = edit_stream(text, "t.json", EditRequest("regsecret")).text
    assert json.loads(out)["spec"]["imagePullSecrets"] == [{"name": "regsecret"}]
    assert "\t" in out


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("case", ["deployment", "existing-block", "multi", "anchored", "cronjob"])
def test_crlf_stream_stays_crlf(case: str, engine: str) -> None:
    """A Windows-edited file must not come back with mixed line endings."""
    text = CASES[case].replace("\n", "\r\n")
    out = edit_stream(text, case, EditRequest("regsecret"), engine=engine).text
    assert "regsecret" in out
    assert out.count("\n") == out.count("\r\n"), out
    assert _load(out) == _expected(text, EditRequest("regsecret"))


def test_crlf_json_fallback_stays_crlf() -> None:
    text = '{"kind": "Pod",\r\n "spec": {"containers": [{"image": "a"}]}}\r\n{"kind": "Pod", "spec": {}}\r\n'
    out = edit_stream(text, "two.json", EditRequest("regsecret")).text
    assert out.count("\n") == out.count("\r\n") and out.count("regsecret") == 2


def test_tab_indented_json_gets_tab_indented_keys() -> None:
    text = ('{\n\t"apiVersion": "apps/v1",\n\t"kind": "Deployment",\n\t"metadata": {"name": "w"},\n\t"spec": {\n'
            '\t\t"template": {\n\t\t\t"spec": {\n\t\t\t\t"containers": [{"name": "a", "image": "r.io/x"}]\n'
            '\t\t\t}\n\t\t}\n\t}\n}\n')
    out = edit_stream(text, "tab.json", EditRequest("regsecret")).text
    assert '\t\t\t\t"imagePullSecrets": [{"name": "regsecret"}]' in out.splitlines()
    assert json.loads(out)["spec"]["template"]["spec"]["imagePullSecrets"] == [{"name": "regsecret"}]
    multiline_flow = '{"kind": "Pod", "spec": {\n\t"containers": [{"image": "a"}]}}\n'
    out = edit_stream(multiline_flow, "f.json", EditRequest("regsecret")).text
    assert '\t"imagePullSecrets": [{"name": "regsecret"}]}}' in out.splitlines()


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("kind: ConfigMap\n---\nkind: Pod\nmetadata:\n  name: a\n  name: b\nspec: {}\n",
         "dup.yaml: document 2, line 6, duplicate key 'name' (first at line 5)"),
        ("kind: Pod\nspec: {containers: [], containers: []}\n", "document 1, line 2, duplicate key 'containers'"),
        ("kind: Pod\nkind: Pod\nspec: {}\n", "document 1, line 2, duplicate key 'kind' (first at line 1)"),
        ('{"kind": "Pod",\n "spec": {"containers": [{"image": "a\\/b", "image": "c"}]}}\n',
         "document 1, line 2, duplicate key 'image'"),
        ('{\n\t"kind": "Pod",\n\t"spec": {"containers": [{"image": "a\\/b"}]},\n\t"kind": "Pod"\n}\n',
         "document 1, line 4, duplicate key 'kind'"),  # JSON only json decodes (the fallback path)
    ],
)
def test_duplicate_keys_are_refused_as_kubectl_does(text: str, needle: str) -> None:
    """kubectl (strict decoding) rejects a repeated key; a YAML/JSON loader would silently keep the last one."""
    with pytest.raises(InputError) as info:
        edit_stream(text, "dup.yaml", EditRequest("regsecret"))
    assert needle in info.value.line() and "kubectl rejects it" in info.value.line()


def test_same_key_in_different_mappings_and_merge_keys_are_fine() -> None:
    text = ("kind: Pod\nmetadata: {name: a}\nspec:\n  containers:\n  - name: a\n    image: x\n"
            "  - name: b\n    image: y\nx: &A {k: 1}\ny:\n  <<: *A\n  k: 2\n")
    assert "regsecret" in edit_stream(text, "ok.yaml", EditRequest("regsecret")).text

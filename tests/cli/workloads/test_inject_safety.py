"""`inject` never writes a stream that does not parse, or that differs from its input by more than the entries.

Odd line endings (a lone CR, NEL, U+2028) and explicit `? key` mappings once produced invalid YAML with
exit 0; `inject -i` from several processes once lost entries. Each case here failed before the fix.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from regcred.core.cluster.podspec import EditRequest, RegistryScope
from regcred.core.errors import InputError
from regcred.core.manifests import streamedit
from regcred.core.manifests.editcheck import EditMismatch, check_edit, expected_documents
from regcred.core.manifests.streamedit import edit_stream
from tests.support.cli import assert_clean_error, run_regcred

POD_LINES = ["apiVersion: v1", "kind: Pod", "metadata:", "  name: p", "spec:", "  containers:", "  - name: c",
             "    image: r.example.com/app:1"]
REQUEST = EditRequest("regsecret", RegistryScope())


def _names(text: str) -> list[str]:
    (doc,) = yaml.safe_load_all(text)
    return [e["name"] for e in doc["spec"]["imagePullSecrets"]]


def test_cr_only_line_endings_stay_cr_and_parse(tmp_path: Path) -> None:
    path = tmp_path / "pod.yaml"
    path.write_bytes(("\r".join(POD_LINES) + "\r").encode())
    result = subprocess.run([sys.executable, "-m", "regcred", "inject", "regsecret", "-f", str(path)],
                            capture_output=True, stdin=subprocess.DEVNULL, check=False)
    assert result.returncode == 0, result.stderr
    assert b"\n" not in result.stdout and _names(result.stdout.decode()) == ["regsecret"]
    in_place = run_regcred("inject", "regsecret", "-f", path, "-i")
    assert in_place.returncode == 0, in_place.stderr
    assert b"\n" not in path.read_bytes() and _names(path.read_bytes().decode()) == ["regsecret"]


def test_explicit_key_mapping_is_edited_into_valid_yaml(tmp_path: Path) -> None:
    text = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  ? containers\n  : - name: c\n      image: r/x\n"
    path = tmp_path / "pod.yaml"
    path.write_text(text)
    assert run_regcred("inject", "regsecret", "-f", path, "-i").returncode == 0
    check_edit(text, path.read_text(), REQUEST)
    assert _names(path.read_text()) == ["regsecret"]


def test_an_edit_that_fails_the_check_is_refused_and_nothing_is_written(monkeypatch: pytest.MonkeyPatch,
                                                                          tmp_path: Path) -> None:
    text = "\n".join(POD_LINES) + "\n"
    real = streamedit._edit_stream

    def broken(*args: object) -> streamedit.StreamResult:
        result = real(*args)  # type: ignore[arg-type]
        result.text += "  extra: [\n"
        return result

    monkeypatch.setattr(streamedit, "_edit_stream", broken)
    with pytest.raises(InputError, match="cannot add the entries safely"):
        edit_stream(text, "pod.yaml", REQUEST)


def test_check_edit_refuses_a_valid_stream_that_changed_more() -> None:
    text = "\n".join(POD_LINES) + "\n"
    good = text + "  imagePullSecrets:\n  - name: regsecret\n"
    check_edit(text, good, REQUEST)
    with pytest.raises(EditMismatch):
        check_edit(text, good.replace("name: p", "name: q"), REQUEST)
    with pytest.raises(EditMismatch):
        check_edit(text, good + "  ? [\n", REQUEST)


BREAKS = st.sampled_from(["\n", "\r\n", "\r", "\x85", "\u2028"])


@settings(max_examples=150, deadline=None)
@given(breaks=st.lists(BREAKS, min_size=len(POD_LINES), max_size=len(POD_LINES)),
       explicit=st.booleans(), flow=st.booleans())
def test_odd_layouts_give_the_edit_or_a_refusal_never_a_wrong_stream(breaks: list[str], explicit: bool,
                                                                     flow: bool) -> None:
    lines = list(POD_LINES)
    if explicit:
        lines[5:7] = ["  ? containers", "  : - name: c"]
    if flow:
        lines[6:8] = ["  - {name: c, image: r.example.com/app:1}", "  # end"]
    text = "".join(line + br for line, br in zip(lines, breaks, strict=True))
    try:
        result = edit_stream(text, "s.yaml", REQUEST)
    except InputError:
        return
    assert yaml.safe_load(result.text) == expected_documents(text, REQUEST)[0]


def test_concurrent_in_place_runs_keep_every_entry(tmp_path: Path) -> None:
    """Eight processes, each adding its own secret to one file at the same time: all eight end up in it."""
    path = tmp_path / "pod.yaml"
    for _ in range(2):
        path.write_text("\n".join(POD_LINES) + "\n")
        procs = [subprocess.Popen([sys.executable, "-m", "regcred", "inject", f"s{i}", "-f", str(path), "-i"],
                                  stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                 for i in range(8)]
        for proc in procs:
            _, err = proc.communicate(timeout=120)
            assert proc.returncode == 0, err
        assert sorted(_names(path.read_text())) == [f"s{i}" for i in range(8)]


def test_a_broken_stream_is_still_one_clean_line(tmp_path: Path) -> None:
    path = tmp_path / "pod.yaml"
    path.write_text("spec: [\n")
    assert_clean_error(run_regcred("inject", "s", "-f", path, "-i"), 2, "pod.yaml")
    assert path.read_text() == "spec: [\n"

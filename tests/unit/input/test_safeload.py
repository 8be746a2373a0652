"""core/safeload and shells/input: the bounds every YAML/JSON document and every input file gets."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from regcred.core import safeload
from regcred.core.errors import InputError, NotFoundError
from regcred.shells import input as inputs
from tests.support.hostile import alias_bomb

# JSON values whose strings are full of what the depth scan must skip: brackets, quotes, backslashes
_text = st.text(alphabet=st.sampled_from('[]{}"\\ab\n\u00e9'), max_size=8)
_json = st.recursive(st.none() | st.booleans() | st.integers() | _text,
                     lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_text, inner, max_size=3),
                     max_leaves=30)


def _depth(value: Any) -> int:
    if isinstance(value, list):
        return 1 + max(map(_depth, value), default=0)
    if isinstance(value, dict):
        return 1 + max(map(_depth, value.values()), default=0)
    return 0


@settings(max_examples=300, deadline=None)
@given(_json, st.integers(min_value=0, max_value=6), st.booleans())
def test_the_json_depth_scan_agrees_with_the_parsed_depth(value: Any, limit: int, indent: bool) -> None:
    text = json.dumps(value, indent="\t" if indent else None, ensure_ascii=False)
    assert safeload.json_too_deep(text, limit) == (_depth(value) > limit)
    assert safeload.json_too_deep(text.encode(), limit) == (_depth(value) > limit)


def test_json_at_the_limit_passes_and_one_more_level_fails() -> None:
    assert not safeload.json_too_deep("[" * 100 + "]" * 100)
    assert safeload.json_too_deep("[" * 101 + "]" * 101)
    with pytest.raises(InputError, match=r"^f: nested deeper than 100 levels"):
        safeload.check_json_depth('{"a":' * 101 + "1" + "}" * 101, "f")


def test_a_big_credential_file_is_scanned_quickly() -> None:
    entries = {f"r{i}.example.com": {"username": "u", "password": 'p"[{', "auth": "dTpw"} for i in range(100_000)}
    text = json.dumps({"auths": entries}, indent="\t")
    started = time.monotonic()
    assert not safeload.json_too_deep(text)
    assert time.monotonic() - started < 5


def _problem(text: str) -> str:
    with pytest.raises(yaml.MarkedYAMLError) as caught:
        list(safeload.load_all(text))
    return safeload.describe_yaml_error(caught.value)


def test_an_alias_bomb_is_refused_after_a_few_thousand_nodes() -> None:
    started = time.monotonic()
    assert "excessive aliasing" in _problem(alias_bomb(levels=10, width=9))
    assert time.monotonic() - started < 2


def test_moderate_aliasing_is_read() -> None:
    assert next(safeload.load_all(alias_bomb(levels=3, width=9)))["l2"][8] == [["lol"]] * 9
    base = "base: &b {image: r.io/a, pullPolicy: Always}\n"
    doc = base + "".join(f"c{i}: {{<<: *b, name: c{i}}}\n" for i in range(500))
    assert next(safeload.load_all(doc))["c499"]["name"] == "c499"


def test_aliases_count_toward_depth_and_an_anchor_cannot_contain_itself() -> None:
    chain = "a0: &a0 [x]\n" + "".join(f"a{i}: &a{i} [*a{i - 1}]\n" for i in range(1, 101))
    assert "nested deeper than 100 levels" in _problem(chain)
    assert "alias to itself" in _problem("a: &a [*a]\n")
    assert "alias to itself" in _problem("a: &a {b: [c, *a]}\n")


def test_yaml_errors_are_one_line_with_a_line_number() -> None:
    assert _problem("a: 1\nb: '\x01'\n") == "line 2: unacceptable character #x0001: control characters are not allowed"
    with pytest.raises(InputError) as caught:
        safeload.load_documents("a: 1\n---\nb: [\n", "f.yaml")
    assert "\n" not in caught.value.line() and caught.value.line().startswith("f.yaml: document 2, line ")


def test_check_yaml_guards_ruamel() -> None:
    safeload.check_yaml("a: &x [1]\nb: *x\n")
    with pytest.raises(InputError, match=r"^doc: invalid YAML: line 1: nested deeper"):
        safeload.check_yaml("a: " + "[" * 200 + "]" * 200, "doc")


def test_load_one_refuses_a_second_document() -> None:
    assert safeload.load_one("") is None
    with pytest.raises(yaml.YAMLError):
        safeload.load_one("a: 1\n---\nb: 2\n")


# --- shells/input ----------------------------------------------------------------------------------------


def test_a_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "config.json"
    os.mkfifo(fifo)
    outcome: list[BaseException] = []
    thread = threading.Thread(target=lambda: _catch(outcome, inputs.read_file, fifo), daemon=True)
    thread.start()
    thread.join(5)
    assert not thread.is_alive(), "read_file blocked on a FIFO"
    assert isinstance(outcome[0], InputError) and "is a FIFO" in str(outcome[0])


def _catch(out: list[BaseException], func: Any, *args: Any) -> None:
    try:
        func(*args)
    except BaseException as exc:
        out.append(exc)


def test_devices_directories_and_missing_files(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="is a character device"):
        inputs.read_file(Path("/dev/zero"))
    with pytest.raises(InputError, match="is a directory"):
        inputs.read_file(tmp_path)
    with pytest.raises(NotFoundError):
        inputs.read_file(tmp_path / "missing")
    assert inputs.read_optional_file(tmp_path / "missing") is None


def test_the_size_cap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"x" * 2048)
    monkeypatch.setenv(inputs.MAX_INPUT_ENV, "2K")
    assert inputs.read_file(path) == b"x" * 2048
    monkeypatch.setenv(inputs.MAX_INPUT_ENV, "2047")
    with pytest.raises(InputError, match="larger than regcred's input limit of 2047 bytes"):
        inputs.read_file(path, shown="/node/path")
    for value, size in (("64MiB", 64 << 20), ("1g", 1 << 30), ("", inputs.DEFAULT_MAX_INPUT)):
        monkeypatch.setenv(inputs.MAX_INPUT_ENV, value)
        assert inputs.max_input_bytes() == size
    for bad in ("0", "-1", "1T", "lots"):
        monkeypatch.setenv(inputs.MAX_INPUT_ENV, bad)
        with pytest.raises(InputError, match="is not a size"):
            inputs.max_input_bytes()

"""Fuzz tier: hostile files through every file-reading command of the real CLI.

Strategies: alias bombs, deep nesting, control characters, odd line endings (\\r, \\r\\n, mixed), invalid
UTF-8 and sizes over the input cap, applied to valid credential files, specs and manifests. Every run must
end with exit 0, 1 or 2, never a traceback or an internal error, errors on one line, and leave the input
file byte for byte as it was. Bounded to a few dozen runs (~1 minute).
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.hostile import (
    ALL_READERS,
    DEPLOYMENT,
    SPEC,
    alias_bomb,
    assert_handled,
    sha256,
)

CONFIG = json.dumps({"auths": {"r.example.com": {"username": "u", "password": "p", "auth": "dTpw"},
                               "other.io:5000": {"auth": "YTpi"}}}, indent="\t") + "\n"
K3S = 'configs:\n  "r.example.com":\n    auth: {username: u, password: p}\n'
VALID = [CONFIG, SPEC, DEPLOYMENT, SPEC + "---\n" + DEPLOYMENT, K3S]
_SETTINGS = settings(max_examples=8, deadline=None, derandomize=True,
                     suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
_commands = st.sampled_from(sorted(ALL_READERS))


@st.composite
def _bombs(draw: st.DrawFn) -> bytes:
    bomb = alias_bomb(levels=draw(st.integers(3, 14)), width=draw(st.integers(2, 12)))
    base = draw(st.sampled_from(VALID[1:4]))
    return (base + "---\n" + bomb if draw(st.booleans()) else bomb).encode()


@st.composite
def _deep(draw: st.DrawFn) -> bytes:
    levels = draw(st.sampled_from([99, 100, 101, 150, 999, 1001, 5000, 100_000]))
    opener = draw(st.sampled_from(["[", '{"a":', "- ", "a:\n"]))
    if opener in ("[", '{"a":'):
        closer = "]" if opener == "[" else "}"
        return (opener * levels + ("1" if opener != "[" else "") + closer * levels).encode()
    if opener == "- ":
        return ("- " * min(levels, 5000) + "x\n").encode()
    return "".join(" " * i + "a:\n" for i in range(min(levels, 2000))).encode()


@st.composite
def _control(draw: st.DrawFn) -> bytes:
    text = draw(st.sampled_from(VALID))
    char = draw(st.sampled_from([chr(c) for c in [*range(0, 9), 11, 12, *range(14, 32), 127, 0x85, 0xFEFF, 0xFFFE]]))
    at = draw(st.integers(0, len(text)))
    return (text[:at] + char + text[at:]).encode("utf-8", "surrogatepass")


@st.composite
def _line_endings(draw: st.DrawFn) -> bytes:
    text = draw(st.sampled_from(VALID))
    style = draw(st.sampled_from(["\r", "\r\n", "mixed"]))
    if style != "mixed":
        return text.replace("\n", style).encode()
    ends = draw(st.lists(st.sampled_from(["\n", "\r", "\r\n"]), min_size=text.count("\n"),
                         max_size=text.count("\n")))
    parts = text.split("\n")
    return "".join(p + (ends[i] if i < len(ends) else "") for i, p in enumerate(parts)).encode()


@st.composite
def _bad_utf8(draw: st.DrawFn) -> bytes:
    data = draw(st.sampled_from(VALID)).encode()
    junk = draw(st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\x80\x80", b"\xfe\xff"]))
    at = draw(st.integers(0, len(data)))
    return data[:at] + junk + data[at:]


def _run(command: str, data: bytes, env_cap: str | None = None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        path = work / ("input.json" if data.lstrip()[:1] in (b"{", b"[") else "input.yaml")
        path.write_bytes(data)
        before = sha256(path)
        runner = ALL_READERS[command]
        if env_cap is not None:
            os.environ["REGCRED_MAX_INPUT_BYTES"] = env_cap
        try:
            result = runner(path, work)
        finally:
            if env_cap is not None:
                os.environ.pop("REGCRED_MAX_INPUT_BYTES", None)
        assert_handled(result)
        assert sha256(path) == before, f"{command} changed its input file"


@_SETTINGS
@given(_commands, _bombs())
def test_alias_bombs(command: str, data: bytes) -> None:
    _run(command, data)


@_SETTINGS
@given(_commands, _deep())
def test_deep_nesting(command: str, data: bytes) -> None:
    _run(command, data)


@_SETTINGS
@given(_commands, _control())
def test_control_characters(command: str, data: bytes) -> None:
    _run(command, data)


@_SETTINGS
@given(_commands, _line_endings())
def test_odd_line_endings(command: str, data: bytes) -> None:
    _run(command, data)


@_SETTINGS
@given(_commands, _bad_utf8())
def test_invalid_utf8(command: str, data: bytes) -> None:
    _run(command, data)


@settings(max_examples=6, deadline=None, derandomize=True)
@given(_commands, st.sampled_from(VALID), st.integers(1, 3))
def test_sizes_over_the_cap(command: str, text: str, factor: int) -> None:
    data = (text * (factor * 40)).encode()
    _run(command, data, env_cap=str(len(data) - 1))

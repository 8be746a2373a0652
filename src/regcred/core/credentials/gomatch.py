"""Go's `filepath.Match` for one host label: the kubelet matches registry globs label by label with it.

Python's fnmatch differs (it negates with `[!...]`, has no escapes, and a malformed class is literal),
so this is a small port of the semantics, not of the code: `*` any run, `?` one character,
`[...]`/`[^...]` classes with ranges, `\\` escapes, and a malformed pattern never matches.
"""

from __future__ import annotations

import re
from functools import lru_cache


class BadPattern(ValueError):
    """The pattern is malformed (Go's filepath.ErrBadPattern)."""


def translate(pattern: str) -> str:
    """A regex fragment for one label pattern; '*', '?' and classes never cross a '.' or '/'.

    Labels never contain '.', so excluding it changes nothing for a single label and lets several
    label fragments be joined with '\\.' into one host regex.
    """
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "*":
            out.append("[^/.]*")
            i += 1
        elif c == "?":
            out.append("[^/.]")
            i += 1
        elif c == "\\":
            if i + 1 >= n:
                raise BadPattern(pattern)
            out.append(re.escape(pattern[i + 1]))
            i += 2
        elif c == "[":
            cls, i = _class(pattern, i + 1)
            out.append(cls)
        else:
            out.append(re.escape(c))
            i += 1
    return "".join(out)


@lru_cache(maxsize=4096)
def _compile(pattern: str) -> re.Pattern[str]:
    return re.compile(translate(pattern) + r"\Z", re.DOTALL)


def _class_char(pattern: str, i: int) -> tuple[str, int]:
    if i >= len(pattern):
        raise BadPattern(pattern)
    c = pattern[i]
    if c in "-]":
        raise BadPattern(pattern)
    if c == "\\":
        if i + 1 >= len(pattern):
            raise BadPattern(pattern)
        return pattern[i + 1], i + 2
    return c, i + 1


def _class(pattern: str, i: int) -> tuple[str, int]:
    negate = i < len(pattern) and pattern[i] == "^"
    if negate:
        i += 1
    ranges: list[str] = []
    first = True
    while True:
        if i < len(pattern) and pattern[i] == "]" and not first:
            i += 1
            break
        lo, i = _class_char(pattern, i)
        hi = lo
        if i < len(pattern) and pattern[i] == "-":
            hi, i = _class_char(pattern, i + 1)
            if hi < lo:
                raise BadPattern(pattern)
        ranges.append(f"{re.escape(lo)}-{re.escape(hi)}" if hi != lo else re.escape(lo))
        first = False
    body = "".join(ranges)
    # Go's character classes never match the separator '/'.
    return (f"[^/.{body}]" if negate else f"(?![/.])[{body}]"), i


def match(pattern: str, name: str) -> bool:
    """True when `name` matches `pattern` as Go's filepath.Match would say; a bad pattern is no match."""
    if "*" not in pattern and "?" not in pattern and "[" not in pattern and "\\" not in pattern:
        return pattern == name
    try:
        return _compile(pattern).match(name) is not None
    except BadPattern:
        return False


def compile_host(labels: tuple[str, ...]) -> re.Pattern[str] | None:
    """One regex for a whole host glob, label by label; None when any label is malformed (never matches)."""
    try:
        return re.compile(r"\.".join(translate(label) for label in labels) + r"\Z", re.DOTALL)
    except BadPattern:
        return None

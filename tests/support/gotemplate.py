"""A small evaluator for the Go text/template subset regcred's ExternalSecret uses, written from Go's spec.

Supported: text; actions `{{ ... }}` (with optional `-` trim markers refused, not used); interpreted string
constants with Go's escapes; `.field` of the data map; pipelines `a | f`; the functions `printf` (only `%s`
verbs, as Go's fmt) and sprig's `b64enc` (standard base64 of the UTF-8 bytes, as ESO engine v2 has it). Anything
else raises, so a template that strays from the subset fails the test instead of being guessed at.
"""

from __future__ import annotations

import base64
import re
from typing import Any

_TOKEN = re.compile(r'\s*(?:(?P<string>"(?:[^"\\\n]|\\.)*")|(?P<field>\.[A-Za-z_][A-Za-z0-9_]*)|(?P<pipe>\|)'
                    r"|(?P<ident>[A-Za-z_][A-Za-z0-9_]*))")
_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v", "\\": "\\", '"': '"'}


def _go_unquote(literal: str) -> str:
    body, out, i = literal[1:-1], [], 0
    while i < len(body):
        char = body[i]
        if char != "\\":
            out.append(char)
            i += 1
            continue
        kind = body[i + 1]
        if kind in _ESCAPES:
            out.append(_ESCAPES[kind])
            i += 2
        elif kind == "x":
            out.append(chr(int(body[i + 2 : i + 4], 16)))
            i += 4
        elif kind in "uU":
            width = 4 if kind == "u" else 8
            out.append(chr(int(body[i + 2 : i + 2 + width], 16)))
            i += 2 + width
        else:
            raise ValueError(f"unknown escape \\{kind}")
    return "".join(out)


def _printf(fmt: str, *args: str) -> str:
    if fmt.count("%s") != len(args) or fmt.replace("%s", "").count("%"):
        raise ValueError(f"unsupported printf format {fmt!r}")
    parts = fmt.split("%s")
    return parts[0] + "".join(arg + part for arg, part in zip(args, parts[1:], strict=True))


_FUNCS = {"printf": _printf, "b64enc": lambda s: base64.b64encode(s.encode()).decode()}


def _evaluate(action: str, data: dict[str, Any]) -> str:
    commands: list[list[tuple[str, str]]] = [[]]
    pos = 0
    while pos < len(action.rstrip()):
        match = _TOKEN.match(action, pos)
        if match is None:
            raise ValueError(f"outside the subset: {action[pos:]!r}")
        pos = match.end()
        kind = match.lastgroup
        assert kind is not None
        if kind == "pipe":
            commands.append([])
        else:
            commands[-1].append((kind, match.group(kind)))
    value: str | None = None
    for command in commands:
        args = [_go_unquote(v) if k == "string" else str(data[v[1:]]) if k == "field" else v for k, v in command[1:]]
        head_kind, head = command[0]
        if head_kind == "ident":
            value = _FUNCS[head](*args, *(() if value is None else (value,)))
        elif len(command) == 1 and value is None:
            value = _go_unquote(head) if head_kind == "string" else str(data[head[1:]])
        else:
            raise ValueError(f"outside the subset: {action!r}")
    assert value is not None
    return value


def render(template: str, data: dict[str, Any]) -> str:
    """Execute `template` against `data` (a map of strings, as ESO engine v2 passes the store's values)."""
    out, pos = [], 0
    while True:
        start = template.find("{{", pos)
        if start == -1:
            out.append(template[pos:])
            return "".join(out)
        out.append(template[pos:start])
        end = _action_end(template, start + 2)
        action = template[start + 2 : end]
        if action.startswith("-") or action.endswith("-"):
            raise ValueError("trim markers are outside the subset")
        out.append(_evaluate(action, data))
        pos = end + 2


def _action_end(template: str, pos: int) -> int:
    """The `}}` closing an action, skipping string constants (a `}}` inside quotes does not close it)."""
    while True:
        match = re.compile(r'"(?:[^"\\\n]|\\.)*"|}}').search(template, pos)
        if match is None:
            raise ValueError("unclosed action")
        if match.group() == "}}":
            return match.start()
        pos = match.end()

"""Label and field selectors evaluated over cached objects, as the API server would answer the same LIST.

Why: the use cases ask `list(kind, label_selector=..., field_selector=...)`; the controller answers from its
caches, so the same query must select the same objects without a request. Only the forms the API accepts:
`k=v`, `k==v`, `k!=v`, `k in (a,b)`, `k notin (a,b)`, `k`, `!k` (labels) and `path=v`/`path!=v` (fields).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from regcred.core.errors import InputError

Predicate = Callable[[Mapping[str, Any]], bool]
_SET = re.compile(r"^\s*([^\s!=]+)\s+(in|notin)\s+\(([^)]*)\)\s*$")


def _split(selector: str) -> list[str]:
    """Requirements separated by commas outside parentheses."""
    parts, depth, current = [], 0, ""
    for char in selector:
        depth += char == "("
        depth -= char == ")"
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    return [p.strip() for p in parts if p.strip()]


def _label_requirement(text: str) -> Callable[[Mapping[str, str]], bool]:
    found = _SET.match(text)
    if found:
        key, op, values = found.group(1), found.group(2), {v.strip() for v in found.group(3).split(",")}
        if op == "in":
            return lambda labels: labels.get(key) in values
        return lambda labels: labels.get(key) not in values
    for op in ("!=", "==", "="):
        if op in text:
            key, _, value = (s.strip() for s in text.partition(op))
            if op == "!=":
                return lambda labels: labels.get(key) != value
            return lambda labels: labels.get(key) == value
    if text.startswith("!"):
        return lambda labels: text[1:].strip() not in labels
    if re.fullmatch(r"[A-Za-z0-9._/-]+", text):
        return lambda labels: text in labels
    raise InputError(f"unsupported label selector requirement {text!r}")


def label_predicate(selector: str | None) -> Predicate:
    """True for objects whose metadata.labels satisfy every requirement."""
    checks = [_label_requirement(p) for p in _split(selector or "")]

    def matches(obj: Mapping[str, Any]) -> bool:
        labels = (obj.get("metadata") or {}).get("labels") or {}
        return all(check(labels) for check in checks)

    return matches


def _field(obj: Mapping[str, Any], path: str) -> str:
    node: Any = obj
    for part in path.split("."):
        node = node.get(part) if isinstance(node, Mapping) else None
    return "" if node is None else str(node)


def field_predicate(selector: str | None) -> Predicate:
    """True for objects whose fields (metadata.name, metadata.namespace, ...) satisfy every requirement."""
    checks: list[tuple[str, bool, str]] = []
    for part in _split(selector or ""):
        negate = "!=" in part
        path, _, value = part.partition("!=" if negate else ("==" if "==" in part else "="))
        checks.append((path.strip(), negate, value.strip()))

    def matches(obj: Mapping[str, Any]) -> bool:
        return all((_field(obj, path) != value) if negate else (_field(obj, path) == value)
                   for path, negate, value in checks)

    return matches

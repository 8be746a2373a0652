"""Label and field selectors with the apiserver's parser and its error messages.

Why a port: set-based selectors (``in``, ``notin``, ``!key``) and the exact 400 texts are
what a product's list calls depend on; a naive ``k=v`` split would accept garbage.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .errors import bad_request, go_quote
from .resources import ResourceType

_SPECIAL = set("=!(),><")
_WS = set(" \t\r\n")
_TOKENS = {")": "CPAR", ",": "COMMA", "!": "NOT", "==": "DEQ", "=": "EQ", ">": "GT", "in": "IN",
           "<": "LT", "!=": "NEQ", "notin": "NOTIN", "(": "OPAR"}
_BINARY_OPS = "in, notin, =, ==, !=, gt, lt"
_NAME_RE = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_DNS1123_SUB = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_VALUE_MSG = ("a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', "
              "and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or "
              "'12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')")
_NAME_MSG = ("name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end "
             "with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "
             "validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')")


def _lex(s: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    i, n = 0, len(s)
    while True:
        while i < n and s[i] in _WS:
            i += 1
        if i >= n:
            out.append(("END", ""))
            return out
        if s[i] in _SPECIAL:
            buf, last = "", None
            while i < n and s[i] in _SPECIAL:
                buf += s[i]
                if buf in _TOKENS:
                    last = (_TOKENS[buf], buf)
                    i += 1
                elif last is not None:
                    break
                else:
                    i += 1
            if last is None:
                out.append(("ERR", f"error expected: keyword found '{buf}'"))
            else:
                out.append(last)
            continue
        j = i
        while j < n and s[j] not in _SPECIAL and s[j] not in _WS:
            j += 1
        word = s[i:j]
        i = j
        out.append((_TOKENS.get(word, "ID") if word in ("in", "notin") else "ID", word))


def label_key_errors(k: str) -> list[str]:
    errs: list[str] = []
    parts = k.split("/")
    if len(parts) == 1:
        name = parts[0]
    elif len(parts) == 2:
        prefix, name = parts
        if not prefix:
            errs.append("prefix part must be non-empty")
        elif len(prefix) > 253 or not _DNS1123_SUB.match(prefix):
            errs.append("prefix part a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
                        "characters, '-' or '.', and must start and end with an alphanumeric character (e.g. "
                        "'example.com', regex used for validation is "
                        "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")
    else:
        return ["a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start "
                "and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex "
                "used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS "
                "subdomain prefix and '/' (e.g. 'example.com/MyName')"]
    if not name:
        errs.append("name part must be non-empty")
    elif len(name) > 63:
        errs.append("name part must be no more than 63 bytes")
    elif not _NAME_RE.match(name):
        errs.append(_NAME_MSG)
    return errs


def label_value_errors(v: str) -> list[str]:
    if len(v) > 63:
        return ["must be no more than 63 bytes"]
    if v and not _NAME_RE.match(v):
        return [_VALUE_MSG]
    return []


@dataclass(frozen=True)
class Requirement:
    key: str
    op: str  # exists, !, =, ==, !=, in, notin, gt, lt
    values: tuple[str, ...] = ()

    def matches(self, labels: dict[str, str]) -> bool:
        op, has = self.op, self.key in labels
        if op == "exists":
            return has
        if op == "!":
            return not has
        if op in ("=", "==", "in"):
            return has and labels[self.key] in self.values
        if op in ("!=", "notin"):
            return not has or labels[self.key] not in self.values
        if not has:
            return False
        try:
            lv, rv = int(labels[self.key]), int(self.values[0])
        except ValueError:
            return False
        return lv > rv if op == "gt" else lv < rv


class SelectorError(ValueError):
    pass


class _Parser:
    def __init__(self, s: str) -> None:
        self.items = _lex(s)
        self.pos = 0

    def look(self, values: bool = True) -> tuple[str, str]:
        tok, lit = self.items[self.pos]
        if values and tok in ("IN", "NOTIN"):
            tok = "ID"
        return tok, lit

    def take(self, values: bool = True) -> tuple[str, str]:
        r = self.look(values)
        self.pos += 1
        return r

    def parse(self) -> list[Requirement]:
        reqs: list[Requirement] = []
        while True:
            tok, lit = self.look()
            if tok in ("ID", "NOT"):
                try:
                    reqs.append(self.requirement())
                except SelectorError as e:
                    raise SelectorError(f"unable to parse requirement: {e}") from None
                t, lit2 = self.take()
                if t == "END":
                    return reqs
                if t == "COMMA":
                    t2, l2 = self.look()
                    if t2 not in ("ID", "NOT"):
                        raise SelectorError(f"found '{l2}', expected: identifier after ','")
                else:
                    raise SelectorError(f"found '{lit2}', expected: ',' or 'end of string'")
            elif tok == "END":
                return reqs
            else:
                raise SelectorError(f"found '{lit}', expected: !, identifier, or 'end of string'")

    def requirement(self) -> Requirement:
        op = ""
        tok, key = self.take()
        if tok == "NOT":
            op = "!"
            tok, key = self.take()
        if tok != "ID":
            raise SelectorError(f"found '{key}', expected: identifier")
        errs = label_key_errors(key)
        if errs:
            raise SelectorError(f"<nil>: Invalid value: {go_quote(key)}: " + "; ".join(errs))
        if op == "!" or self.look()[0] in ("END", "COMMA"):
            return Requirement(key, op or "exists")
        tok, lit = self.take(values=False)
        ops = {"IN": "in", "NOTIN": "notin", "EQ": "=", "DEQ": "==", "NEQ": "!=", "GT": "gt", "LT": "lt"}
        if tok not in ops:
            raise SelectorError(f"found '{lit}', expected: {_BINARY_OPS}")
        op = ops[tok]
        values = self.set_values() if op in ("in", "notin") else self.exact_value()
        for v in values:
            errs = label_value_errors(v)
            if errs and op not in ("gt", "lt"):
                raise SelectorError(f"values[0][{key}]: Invalid value: {go_quote(v)}: " + "; ".join(errs))
        if op in ("gt", "lt"):
            try:
                int(values[0])
            except ValueError:
                raise SelectorError(f"values[0]: Invalid value: {go_quote(values[0])}: for 'Gt', 'Lt' "
                                    "operators, the value must be an integer") from None
        return Requirement(key, op, tuple(sorted(set(values))))

    def set_values(self) -> list[str]:
        tok, lit = self.take()
        if tok != "OPAR":
            raise SelectorError(f"found '{lit}' expected: '('")
        tok, lit = self.look()
        if tok == "CPAR":
            self.take()
            return [""]
        if tok not in ("ID", "COMMA"):
            raise SelectorError(f"found '{lit}', expected: ',', ')' or identifier")
        out: list[str] = []
        while True:
            t, l2 = self.take()
            if t == "ID":
                out.append(l2)
                t2, l3 = self.look()
                if t2 == "COMMA":
                    continue
                if t2 == "CPAR":
                    break
                raise SelectorError(f"found '{l3}', expected: ',' or ')'")
            if t == "COMMA":
                if not out:
                    out.append("")
                t2, _ = self.look()
                if t2 == "CPAR":
                    out.append("")
                    break
                if t2 == "COMMA":
                    out.append("")
            else:
                raise SelectorError(f"found '{l2}', expected: ',', or identifier")
        if self.take()[0] != "CPAR":
            raise SelectorError(f"found '{lit}', expected: ')'")
        return out

    def exact_value(self) -> list[str]:
        tok, _ = self.look()
        if tok in ("END", "COMMA"):
            return [""]
        tok, lit = self.take()
        if tok == "ID":
            return [lit]
        raise SelectorError(f"found '{lit}', expected: identifier")


def parse_labels(s: str) -> list[Requirement]:
    """labels.Parse; raises ApiError 400 with the upstream message."""
    try:
        return _Parser(s).parse()
    except SelectorError as e:
        raise bad_request(str(e)) from None


def labels_match(reqs: list[Requirement], labels: dict[str, str] | None) -> bool:
    lab = labels or {}
    return all(r.matches(lab) for r in reqs)


def _split_unescaped(s: str, sep: str) -> list[str]:
    parts, buf, esc = [], "", False
    for ch in s:
        if esc:
            buf += "\\" + ch
            esc = False
        elif ch == "\\":
            esc = True
        elif ch == sep:
            parts.append(buf)
            buf = ""
        else:
            buf += ch
    parts.append(buf + ("\\" if esc else ""))
    return parts


def _unescape(v: str) -> str:
    return re.sub(r"\\(.)", r"\1", v)


def parse_fields(s: str, rt: ResourceType) -> list[tuple[str, str, str]]:
    """fields.ParseSelector + the per-type label conversion; returns (field, op, value)."""
    out: list[tuple[str, str, str]] = []
    if not s:
        return out
    for term in _split_unescaped(s, ","):
        if not term:
            continue
        for op in ("!=", "==", "="):
            idx = term.find(op)
            if idx > 0:
                f, v = term[:idx], _unescape(term[idx + len(op):])
                out.append((f, "!=" if op == "!=" else "=", v))
                break
        else:
            raise bad_request(f"invalid selector: '{s}'; can't understand '{term}'")
    for f, _, _ in out:
        if rt.custom and (f == "metadata.name" or (f == "metadata.namespace" and rt.namespaced)):
            continue
        if not rt.custom and (f in ("metadata.name", "metadata.namespace") or f in rt.extra_fields):
            continue
        if rt.extra_fields or rt.custom:
            raise bad_request(f"field label not supported: {f}")
        raise bad_request(f'"{f}" is not a known field selector: only "metadata.name", "metadata.namespace"')
    return out


def _field_value(obj: dict[str, Any], f: str) -> str:
    if f == "type":
        return str(obj.get("type", ""))
    cur: Any = obj
    for part in f.split("."):
        cur = cur.get(part) if isinstance(cur, dict) else None
    if cur is None:
        return ""
    if isinstance(cur, bool):
        return "true" if cur else "false"
    return str(cur)


def fields_matcher(terms: list[tuple[str, str, str]]) -> Callable[[dict[str, Any]], bool]:
    def match(obj: dict[str, Any]) -> bool:
        for f, op, v in terms:
            got = _field_value(obj, f)
            if (got == v) != (op == "="):
                return False
        return True

    return match

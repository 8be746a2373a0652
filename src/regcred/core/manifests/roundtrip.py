"""The fallback editor: round-trip one document whose layout the text editor does not handle.

YAML goes through ruamel.yaml (comments, quoting and anchors kept, the file's list indentation guessed);
JSON is decoded and re-dumped with the document's indentation and line endings. Slower than the text
edits of core.manifests.streamedit (~18 s for 4,000 documents), so used only for the documents that need it.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable
from typing import Any

from regcred.core.cluster.podspec import (
    EditRequest,
    find_pod_specs,
    object_label,
    plan_spec,
    pull_secret_names,
)
from regcred.core.errors import InputError
from regcred.core.manifests.edits import SpecOutcome, StreamResult, apply_replacements, line_ending
from regcred.core.safeload import check_json_depth, check_yaml


class RoundTripFailed(ValueError):
    """ruamel refuses a document libyaml accepted."""


def roundtrip_document(doc_text: str, request: EditRequest, is_json: bool) -> tuple[str, list[SpecOutcome]]:
    if is_json:
        data = json.loads(doc_text)
        json_outcomes = _edit_plain(data, request, "json")
        return _json_dump_like(data, doc_text), json_outcomes
    outcomes: list[SpecOutcome] = []

    def edit(data: Any) -> None:
        from ruamel.yaml.comments import CommentedMap, CommentedSeq

        for obj, spec in find_pod_specs(data):
            plan = plan_spec(spec, request)
            if plan.add_secret and request.secret not in pull_secret_names(spec):
                entries: Any = spec.get("imagePullSecrets")
                if not isinstance(entries, list):
                    entries = CommentedSeq()
                    spec["imagePullSecrets"] = entries
                item = CommentedMap()
                item["name"] = request.secret
                if entries.fa.flow_style():
                    item.fa.set_flow_style()
                entries.append(item)
                _move_trailing_comment(entries)
            if plan.set_service_account is not None:
                spec["serviceAccountName"] = plan.set_service_account
            outcomes.append(SpecOutcome(object_label(obj), plan, "ruamel"))

    return roundtrip_yaml(doc_text, edit), outcomes


def roundtrip_yaml(doc_text: str, edit: Callable[[Any], None]) -> str:
    """One YAML document loaded with ruamel (comments, quoting, anchors kept), edited in place by `edit`, and
    dumped with the file's list indentation, line endings and final newline.

    RoundTripFailed when ruamel (YAML 1.2) reads the text differently from libyaml (YAML 1.1: NEL, U+2028).
    """
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    yaml_rt = YAML()
    yaml_rt.preserve_quotes = True
    yaml_rt.width = 4096
    text = doc_text.replace("\r\n", "\n")
    check_yaml(text, "a YAML document")  # ruamel has no depth or alias bound of its own
    offset = _guess_dash_offset(text)
    yaml_rt.indent(mapping=2, sequence=offset + 2, offset=offset)
    try:
        data = yaml_rt.load(text)
    except YAMLError as exc:
        raise RoundTripFailed(f"the round-trip editor cannot read it: {str(exc).splitlines()[0]}") from None
    _keep_anchors(data)
    edit(data)
    buffer = io.StringIO()
    yaml_rt.dump(data, buffer)
    new = buffer.getvalue()
    if not text.endswith("\n"):
        new = new.rstrip("\n")
    return _same_newlines(new, doc_text)


def _keep_anchors(node: Any) -> None:
    """ruamel drops anchors nothing refers to; a round-trip must keep them."""
    anchor = getattr(node, "anchor", None)
    if anchor is not None and getattr(anchor, "value", None):
        anchor.always_dump = True
    if isinstance(node, dict):
        for value in node.values():
            _keep_anchors(value)
    elif isinstance(node, list):
        for value in node:
            _keep_anchors(value)


def _move_trailing_comment(entries: Any) -> None:
    """ruamel hangs comments after a list on its last item; keep them after the item we appended."""
    if len(entries) < 2:
        return
    previous, new = entries[-2], entries[-1]
    if len(entries) - 2 in entries.ca.items:
        entries.ca.items[len(entries) - 1] = entries.ca.items.pop(len(entries) - 2)
    elif hasattr(previous, "ca") and previous:
        last_key = list(previous)[-1]
        comment = previous.ca.items.get(last_key)
        token = comment[2] if comment is not None and len(comment) > 2 else None
        if token is None or "\n" not in token.value.rstrip("\n"):
            return
        from ruamel.yaml.tokens import CommentToken

        inline, _, rest = token.value.partition("\n")
        token.value = inline + "\n"
        new.ca.items["name"] = [None, None, CommentToken("\n" + rest, token.start_mark, None), None]


def _guess_dash_offset(doc_text: str) -> int:
    match = re.search(r"^( *)[A-Za-z_\"'][^\n]*:[ \t]*\n( *)- ", doc_text, re.MULTILINE)
    return max(0, len(match.group(2)) - len(match.group(1))) if match else 0


def _edit_plain(data: Any, request: EditRequest, editor: str) -> list[SpecOutcome]:
    from regcred.core.cluster.podspec import apply_plan

    outcomes: list[SpecOutcome] = []
    for obj, spec in find_pod_specs(data):
        plan = plan_spec(spec, request)
        if plan.changes:
            apply_plan(spec, plan, request.secret)
        outcomes.append(SpecOutcome(object_label(obj), plan, editor))
    return outcomes


def _json_dump_like(data: Any, original: str) -> str:
    match = re.search(r"\n([ \t]+)\S", original)
    indent: str | int | None = match.group(1) if match else None
    dumped = json.dumps(data, indent=indent, ensure_ascii=False)
    return _same_newlines(dumped + ("\n" if original.endswith("\n") else ""), original)


def _same_newlines(new: str, original: str) -> str:
    """A re-dumped document written with the original's line endings."""
    return new.replace("\n", "\r\n") if line_ending(original) == "\r\n" else new


def edit_json_stream(text: str, source: str, request: EditRequest) -> StreamResult:
    """JSON the YAML composer refuses (tabs, escapes): decode with json, re-dump only edited documents."""
    check_json_depth(text, source)
    decoder = json.JSONDecoder(object_pairs_hook=_refuse_duplicates)
    result = StreamResult(text)
    replacements: list[tuple[int, int, str]] = []
    index, count = 0, 0
    while True:
        while index < len(text) and text[index] in " \t\r\n":
            index += 1
        if index >= len(text):
            break
        count += 1
        try:
            data, end = decoder.raw_decode(text, index)
        except json.JSONDecodeError as exc:
            raise InputError(
                f"{source}: document {count}, line {exc.lineno}, invalid JSON: {exc.msg}", hint="nothing was written"
            ) from None
        except _DuplicateKey as dup:
            line = _duplicate_line(text, index, dup.key)
            raise InputError(f"{source}: document {count}, line {line}, duplicate key {dup.key!r}; kubectl rejects it",
                             hint="nothing was written") from None
        outcomes = _edit_plain(data, request, "json")
        result.outcomes.extend(outcomes)
        if any(o.plan.changes for o in outcomes):
            replacements.append((index, end, _json_dump_like(data, text[index:end]).rstrip("\r\n")))
        index = end
    result.text = apply_replacements(text, replacements)
    return result


class _DuplicateKey(Exception):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _refuse_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """kubectl's strict decoding refuses an object that repeats a key (json keeps the last): so do we."""
    data = dict(pairs)
    if len(data) != len(pairs):
        seen: set[str] = set()
        raise _DuplicateKey(next(k for k, _ in pairs if k in seen or seen.add(k)))  # type: ignore[func-returns-value]
    return data


def _duplicate_line(text: str, start: int, key: str) -> int:
    """The line of the key's second literal occurrence in the document (its first line if written with escapes)."""
    matches = list(re.finditer(re.escape(json.dumps(key)) + r"\s*:", text[start:]))
    at = start + matches[1].start() if len(matches) > 1 else start
    return text.count("\n", 0, at) + 1

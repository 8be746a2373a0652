"""Edit the pod specs of a YAML/JSON manifest stream in place, leaving every other byte as it was.

Fast path: libyaml (PyYAML's C composer) finds each pod spec node and its position; the edit is a
minimal text insertion (a new `imagePullSecrets` block at the spec's indentation, one more list item,
`[]` -> `[{name: S}]`, a changed `serviceAccountName` scalar). Comments, key order and quoting of every
other line stay byte-identical, and documents without an edit are copied verbatim. Documents with an
unusual layout (anchors/aliases, a null `imagePullSecrets`, an empty flow mapping) fall back to a
round-trip of that document alone (core.manifests.roundtrip: ruamel.yaml, or a json re-dump for JSON). ruamel
round-trips 4,000 documents in ~18 s; the fast path needs ~1 s.
"""

from __future__ import annotations

import gc
import json
import re
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

from regcred.core.cluster.podspec import (
    CONTAINER_FIELDS,
    EditRequest,
    SpecPlan,
    object_label,
    plan_spec,
    pod_spec_path,
)
from regcred.core.errors import InputError
from regcred.core.manifests.editcheck import EditMismatch, check_edit
from regcred.core.manifests.edits import (
    SpecOutcome,
    StreamResult,
    apply_replacements,
    line_ending,
    looks_like_json,
)
from regcred.core.manifests.roundtrip import RoundTripFailed, edit_json_stream, roundtrip_document
from regcred.core.safeload import compose_all

_ANCHOR_OR_ALIAS = re.compile(r"(?:^|[\s,\[{:?-])[&*][A-Za-z0-9_]", re.MULTILINE)
ENGINES = ("auto", "text", "ruamel")


class _Unsupported(Exception):
    """This document's layout is not one the text editor handles: round-trip it instead."""


def edit_stream(text: str, source: str, request: EditRequest, *, engine: str = "auto") -> StreamResult:
    """Add the secret to every pod spec of a stream; raises InputError (nothing edited) on invalid input.

    The result is checked as data (editcheck): a text edit that would change anything but the added entries
    is redone by the round-trip editor, and refused when that does not pass either. A stream whose lines end
    in a lone CR (old Mac style) is edited as LF and given back its CRs.
    """
    cr_only = "\r" in text and "\n" not in text
    work = text.replace("\r", "\n") if cr_only else text
    # The node graph of a large stream is acyclic and short-lived: the cyclic GC would only rescan it.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        result = _checked_edit(work, source, request, engine)
    finally:
        if was_enabled:
            gc.enable()
    if result.text == work:
        result.text = text
    elif cr_only:
        result.text = result.text.replace("\n", "\r")
    return result


def _checked_edit(text: str, source: str, request: EditRequest, engine: str) -> StreamResult:
    try:
        result = _edit_stream(text, source, request, engine)
        if result.text == text:
            return result
        check_edit(text, result.text, request)
        return result
    except (EditMismatch, RoundTripFailed) as exc:
        problem = str(exc)
        retry = engine == "auto" and not isinstance(exc, RoundTripFailed)
    if retry:
        try:
            result = _edit_stream(text, source, request, "ruamel")
            check_edit(text, result.text, request)
            return result
        except (EditMismatch, RoundTripFailed) as exc:
            problem = str(exc)
    raise InputError(f"{source}: cannot add the entries safely: {problem}",
                     hint="nothing was written; edit this file by hand or re-format it (kubectl's YAML style)")


def _edit_stream(text: str, source: str, request: EditRequest, engine: str) -> StreamResult:
    """One document at a time: compose it, plan and collect its edits, drop its nodes (memory stays at one
    document's node graph, ~40 bytes per input byte, not the stream's)."""
    import yaml  # lazy: PyYAML costs ~14 ms; JSON input never needs it

    is_json = looks_like_json(text)
    result = StreamResult(text)
    replacements: list[tuple[int, int, str]] = []
    number = 0
    try:
        for number, root in enumerate(compose_all(text), 1):  # bounded: depth and aliases (core/safeload)
            _refuse_duplicate_keys(root, source, number)
            if isinstance(root, yaml.MappingNode):
                replacements.extend(_document_edits(text, root, request, engine, is_json, result, source))
    except yaml.MarkedYAMLError as exc:
        if is_json:
            return edit_json_stream(text, source, request)
        mark = exc.problem_mark or exc.context_mark
        line = f" line {mark.line + 1}," if mark is not None else ""
        raise InputError(
            f"{source}: document {number + 1},{line} invalid YAML: {exc.problem or exc.context}",
            hint="nothing was written",
        ) from None
    except yaml.YAMLError as exc:
        raise InputError(f"{source}: document {number + 1}: invalid YAML: {exc}") from None
    result.text = apply_replacements(text, replacements)
    return result


def _document_edits(text: str, root: Any, request: EditRequest, engine: str, is_json: bool, result: StreamResult,
                    source: str) -> list[tuple[int, int, str]]:
    """The replacements for one document (its outcomes go into `result`)."""
    doc_start = text.rfind("\n", 0, root.start_mark.index) + 1
    doc_text = text[doc_start : root.end_mark.index]
    plans = [(obj, spec, plan_spec(_spec_summary(spec), request)) for obj, spec in _pod_spec_nodes(root)]
    if not any(plan.changes for _, _, plan in plans):
        result.outcomes.extend(SpecOutcome(_node_label(obj), plan) for obj, _, plan in plans)
        return []
    if engine != "ruamel" and not _ANCHOR_OR_ALIAS.search(doc_text):
        try:
            edits = [e for _, spec, plan in plans for e in _text_edits(text, spec, plan, request, is_json)]
        except _Unsupported:
            pass
        else:
            result.outcomes.extend(SpecOutcome(_node_label(obj), plan, "text") for obj, _, plan in plans)
            return edits
    if engine == "text":
        raise InputError(f"{source}: a document needs the round-trip editor")
    new_doc, outcomes = roundtrip_document(doc_text, request, is_json)
    result.outcomes.extend(outcomes)
    return [(doc_start, root.end_mark.index, new_doc)]


# --- reading composed nodes -------------------------------------------------------------------------


def _refuse_duplicate_keys(root: Any, source: str, number: int) -> None:
    """A mapping that repeats a key is invalid for kubectl (strict decoding: "key already set in map"),
    although YAML loaders keep the last value: refuse the whole stream before anything is written."""
    import yaml  # lazy: PyYAML costs ~14 ms; JSON input never needs it

    stack, seen = [root], set()
    while stack:
        node = stack.pop()
        if id(node) in seen:  # an aliased node is checked once
            continue
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            first: dict[tuple[str, str], Any] = {}
            for key, value in node.value:
                stack.append(value)
                if not isinstance(key, yaml.ScalarNode):
                    stack.append(key)
                    continue
                if key.tag == "tag:yaml.org,2002:merge":
                    continue
                earlier = first.setdefault((key.tag, key.value), key)
                if earlier is not key:
                    raise InputError(f"{source}: document {number}, line {key.start_mark.line + 1}, duplicate key "
                                     f"{key.value!r} (first at line {earlier.start_mark.line + 1}); kubectl rejects it",
                                     hint="nothing was written")
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)




def _get(node: Any, key: str) -> Any:
    """The value node under a scalar key of a mapping node, or None."""
    import yaml  # lazy: PyYAML costs ~14 ms; JSON input never needs it

    if not isinstance(node, yaml.MappingNode):
        return None
    for k, v in node.value:
        if isinstance(k, yaml.ScalarNode) and k.value == key:
            return v
    return None


def _scalar(node: Any) -> str | None:
    import yaml  # lazy: PyYAML costs ~14 ms; JSON input never needs it

    return node.value if isinstance(node, yaml.ScalarNode) else None


def _pod_spec_nodes(obj: Any) -> Iterator[tuple[Any, Any]]:
    import yaml  # lazy: PyYAML costs ~14 ms; JSON input never needs it

    kind = _scalar(_get(obj, "kind"))
    items = _get(obj, "items")
    if kind is not None and kind.endswith("List") and isinstance(items, yaml.SequenceNode):
        for item in items.value:
            yield from _pod_spec_nodes(item)
        return
    path = pod_spec_path(kind)
    if path is None:
        return
    node = obj
    for key in path:
        node = _get(node, key)
    if isinstance(node, yaml.MappingNode):
        yield obj, node


def _spec_summary(spec: Any) -> dict[str, Any]:
    """The few fields of a pod spec node the plan reads, as plain data."""
    import yaml  # lazy: PyYAML costs ~14 ms; JSON input never needs it

    summary: dict[str, Any] = {}
    for fieldname in CONTAINER_FIELDS:
        containers = _get(spec, fieldname)
        if isinstance(containers, yaml.SequenceNode):
            summary[fieldname] = [{"image": _scalar(_get(c, "image"))} for c in containers.value]
    secrets = _get(spec, "imagePullSecrets")
    if isinstance(secrets, yaml.SequenceNode):
        summary["imagePullSecrets"] = [{"name": _scalar(_get(e, "name"))} for e in secrets.value]
    for key in ("serviceAccountName", "serviceAccount"):
        value = _scalar(_get(spec, key))
        if value is not None:
            summary[key] = value
    return summary


def _node_label(obj: Any) -> str:
    meta = _get(obj, "metadata")
    return object_label(
        {
            "kind": _scalar(_get(obj, "kind")),
            "metadata": {"name": _scalar(_get(meta, "name")), "namespace": _scalar(_get(meta, "namespace"))},
        }
    )


# --- text edits ----------------------------------------------------------------------------------------


@lru_cache(maxsize=256)
def _plain_or_quoted(value: str, is_json: bool) -> str:
    """A scalar that reads back as this string: plain when safe, else double-quoted JSON."""
    if is_json:
        return json.dumps(value)
    import yaml  # lazy: PyYAML costs ~14 ms; JSON input never needs it

    try:
        safe = isinstance(yaml.safe_load(value), str) and re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", value)
    except yaml.YAMLError:
        safe = False
    return value if safe else json.dumps(value)


def _line_end_after(text: str, index: int) -> int:
    """Where a new line may start after the content ending at `index`."""
    if index == 0 or text[index - 1] == "\n":
        return index
    newline = text.find("\n", index)
    return len(text) if newline == -1 else newline + 1


def _content_end(node: Any) -> int:
    """Index just after the last character of a block node's content (not its trailing comments)."""
    import yaml  # lazy: PyYAML costs ~14 ms; JSON input never needs it

    while True:
        if isinstance(node, yaml.MappingNode) and not node.flow_style and node.value:
            key, value = node.value[-1]
            if isinstance(value, yaml.ScalarNode) and value.start_mark.index == value.end_mark.index:
                return int(key.end_mark.index)
            node = value
        elif isinstance(node, yaml.SequenceNode) and not node.flow_style and node.value:
            node = node.value[-1]
        else:
            return int(node.end_mark.index)


def _indent(text: str, node: Any) -> str:
    """Whitespace reaching the node's column, tabs kept (a tab-indented JSON file stays tab-indented)."""
    start = int(node.start_mark.index)
    return re.sub(r"[^\t]", " ", text[text.rfind("\n", 0, start) + 1 : start])


def _new_line_block(text: str, after: Any, lines: list[str]) -> tuple[int, int, str]:
    at = _line_end_after(text, _content_end(after))
    newline = line_ending(text)
    block = "".join(line + newline for line in lines)
    if at == len(text) and text and not text.endswith("\n"):
        block = newline + block
    return (at, at, block)


def _sequence_dash_offset(spec: Any) -> int:
    """How far this file indents `- ` under its key (0 for kubectl's style)."""
    import yaml  # lazy: PyYAML costs ~14 ms; JSON input never needs it

    for key, value in spec.value:
        if isinstance(value, yaml.SequenceNode) and not value.flow_style and value.value:
            return max(0, int(value.start_mark.column) - int(key.start_mark.column))
    return 0


def _text_edits(text: str, spec: Any, plan: SpecPlan, request: EditRequest, is_json: bool) -> list[tuple[int, int, str]]:
    import yaml  # lazy: PyYAML costs ~14 ms; JSON input never needs it

    if not plan.changes:
        return []
    edits: list[tuple[int, int, str]] = []
    secret = request.secret
    item_flow = (
        '{"name": ' + json.dumps(secret) + "}" if is_json else "{name: " + _plain_or_quoted(secret, False) + "}"
    )
    key_isp = '"imagePullSecrets"' if is_json else "imagePullSecrets"
    key_san = '"serviceAccountName"' if is_json else "serviceAccountName"
    new_keys: list[tuple[str, str]] = []  # (flow text, block lines) per key to add
    if plan.add_secret:
        existing = _get(spec, "imagePullSecrets")
        if existing is None:
            new_keys.append((f"{key_isp}: [{item_flow}]", "isp"))
        elif isinstance(existing, yaml.SequenceNode) and existing.flow_style:
            if existing.value:
                after_last = existing.value[-1].end_mark.index
                edits.append((after_last, after_last, ", " + item_flow))
            else:
                start, end = existing.start_mark.index, existing.end_mark.index
                if text[start:end].replace(" ", "") != "[]":
                    raise _Unsupported
                edits.append((start, end, f"[{item_flow}]"))
        elif isinstance(existing, yaml.SequenceNode) and existing.value:
            dash = _indent(text, existing)
            edits.append(_new_line_block(text, existing, [f"{dash}- name: {_plain_or_quoted(secret, False)}"]))
        else:
            raise _Unsupported
    if plan.set_service_account is not None:
        current = _get(spec, "serviceAccountName")
        value = _plain_or_quoted(plan.set_service_account, is_json)
        if current is None:
            new_keys.append((f"{key_san}: {value}", "san"))
        elif isinstance(current, yaml.ScalarNode) and current.start_mark.index < current.end_mark.index:
            if current.style == "'":
                value = "'" + plan.set_service_account + "'"
            elif current.style == '"':
                value = json.dumps(plan.set_service_account)
            elif current.style:
                raise _Unsupported
            edits.append((current.start_mark.index, current.end_mark.index, value))
        else:
            raise _Unsupported
    if new_keys:
        if not spec.value:
            raise _Unsupported
        first_key = spec.value[0][0]
        if spec.flow_style:
            last_value = spec.value[-1][1]
            multiline = first_key.start_mark.line > spec.start_mark.line
            sep = "," + line_ending(text) + _indent(text, first_key) if multiline else ", "
            edits.append((last_value.end_mark.index, last_value.end_mark.index, "".join(sep + t for t, _ in new_keys)))
        else:
            indent = _indent(text, first_key)
            dash = " " * _sequence_dash_offset(spec)
            lines: list[str] = []
            for flow_text, which in new_keys:
                if which == "isp":
                    lines += [f"{indent}imagePullSecrets:", f"{indent}{dash}- name: {_plain_or_quoted(secret, False)}"]
                else:
                    lines.append(f"{indent}{flow_text}")
            edits.append(_new_line_block(text, spec, lines))
    return edits

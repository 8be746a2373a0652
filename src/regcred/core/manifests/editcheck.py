"""The check every edited manifest stream passes before anyone sees it: it parses, and it is the input plus the edit.

Why: a text edit that misjudges a layout (CR-only line endings, an explicit `? key`, a line break YAML knows
and the editor does not) can produce a stream that is invalid, or valid and different. Comparing data, not
text, catches every such case whatever its cause: the output parsed must equal the input parsed with the
same plan applied to each pod spec by the plain-data editor (`podspec.apply_plan`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from itertools import zip_longest
from typing import Any

from regcred.core.cluster.podspec import EditRequest, apply_plan, find_pod_specs, plan_spec
from regcred.core.manifests.edits import looks_like_json


class EditMismatch(Exception):
    """The edited stream does not parse, or differs from the input by more than the edit."""


def expected_documents(text: str, request: EditRequest) -> list[Any]:
    """The input's documents with the edit applied to each pod spec as plain data."""
    return list(_expected(text, request))


def check_edit(before: str, after: str, request: EditRequest) -> None:
    """Raise EditMismatch unless `after` parses to `before`'s documents with only the edit applied.

    Both streams are read one document at a time, side by side: memory holds one document of each, not
    the stream (a 150,000-document stream would need gigabytes as data).
    """
    missing = object()
    try:
        for want, got in zip_longest(_expected(before, request), iter_stream(after), fillvalue=missing):
            if got != want:
                raise EditMismatch("the edited stream differs from the input by more than the added entries")
    except ValueError as exc:
        raise EditMismatch(str(exc)) from None


def parse_stream(text: str) -> list[Any]:
    """Every document of a YAML or JSON stream as data; ValueError when it does not parse."""
    return list(iter_stream(text))


def iter_stream(text: str) -> Iterator[Any]:
    """Each document of a YAML or JSON stream as data, one at a time; ValueError when it does not parse."""
    if looks_like_json(text):
        try:
            yield from _json_documents(text)  # a list: JSON-looking YAML falls back before any is yielded
            return
        except ValueError:
            pass  # JSON-looking YAML (a flow mapping): the YAML loader decides
    import yaml  # lazy: PyYAML costs ~14 ms; JSON input never needs it

    try:
        yield from yaml.load_all(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as exc:
        raise ValueError(f"invalid YAML: {str(exc).splitlines()[0]}") from None


def _expected(text: str, request: EditRequest) -> Iterator[Any]:
    for doc in iter_stream(text):
        for _, spec in find_pod_specs(doc):
            plan = plan_spec(spec, request)
            if plan.changes:
                apply_plan(spec, plan, request.secret)
        yield doc


def _json_documents(text: str) -> list[Any]:
    decoder = json.JSONDecoder()
    docs: list[Any] = []
    index = 0
    while True:
        while index < len(text) and text[index] in " \t\r\n":
            index += 1
        if index >= len(text):
            return docs
        doc, index = decoder.raw_decode(text, index)
        docs.append(doc)

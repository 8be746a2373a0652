"""YAML and JSON text parsed within bounds: every document regcred reads goes through here.

Hostile input must end fast with one line, not hang or crash. Two bounds apply to every document:

- depth: at most MAX_DEPTH nested lists/objects (JSON) or sequences/mappings (YAML, counted after
  alias expansion), so no walk over the data can exhaust the stack;
- aliases (YAML): the Kubernetes API server's rule (go-yaml's `allowedAliasRatio`): once a document
  decodes more than 1,000 nodes and 100 of them come from aliases, aliases may make up at most 99% of
  the nodes (400,000 nodes or fewer), falling to 10% (4,000,000 or more); an anchor that contains an
  alias to itself is refused. A "billion laughs" document is refused after a few thousand nodes.

YAML is composed by libyaml (PyYAML's C parser), checked, and only then constructed; text that
ruamel.yaml will round-trip is checked the same way first (ruamel has no bound of its own). Errors are
`yaml.MarkedYAMLError`s with a problem and a mark, so every caller prints one line with a line number
(PyYAML's own message spans two lines for control characters).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from itertools import accumulate
from typing import Any

from regcred.core.errors import InputError

MAX_DEPTH = 100
_ALIAS_MIN_COUNT = 100
_ALIAS_MIN_DECODED = 1000
_RATIO_LOW, _RATIO_HIGH = 400_000, 4_000_000


# --- JSON -----------------------------------------------------------------------------------------------

_NOT_STRUCTURE = bytes(c for c in range(256) if c not in b'"[]{}')
_STEP = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}
_STRING = re.compile(rb'"[^"]*"')


def json_too_deep(text: str | bytes, limit: int = MAX_DEPTH) -> bool:
    """True when JSON text nests lists/objects deeper than `limit` (strings and escapes are skipped).

    A scan in C-speed string operations before json.loads (whose C scanner only stops at the interpreter's
    recursion limit, ~1,000 levels, with a RecursionError): about a third of json.loads' own time.
    """
    data = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    if data.count(b"[") + data.count(b"{") <= limit:
        return False
    # escapes go first, then everything but quotes and brackets; two adjacent quotes close and reopen (or
    # delimit an empty) string, so dropping them keeps every bracket on its side; what is left between
    # quotes is inside a string
    skeleton = data.replace(b"\\\\", b"").replace(b'\\"', b"").translate(None, _NOT_STRUCTURE)
    skeleton = _STRING.sub(b"", skeleton.replace(b'""', b""))
    return max(accumulate(map(_STEP.__getitem__, skeleton.replace(b'"', b""))), default=0) > limit


def check_json_depth(text: str | bytes, source: str) -> None:
    """Refuse JSON nested deeper than MAX_DEPTH, naming the source."""
    if json_too_deep(text):
        raise InputError(f"{source}: nested deeper than {MAX_DEPTH} levels", hint="regcred reads at most "
                         f"{MAX_DEPTH} levels of lists and objects")


# --- YAML -----------------------------------------------------------------------------------------------


def _loader_class() -> Any:
    import yaml

    return getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def compose_all(text: str) -> Iterator[Any]:
    """The node graph of each document, checked for depth and aliasing before it is yielded.

    Raises yaml.MarkedYAMLError (one-line problem, with a mark) for syntax errors and exceeded bounds.
    """
    loader = _loader_class()(text)
    try:
        while _checked(loader.check_node, text):
            node = _checked(loader.get_node, text)
            check_node(node)
            yield node
    finally:
        loader.dispose()


def load_all(text: str) -> Iterator[Any]:
    """The data of each document (PyYAML safe types), each checked as compose_all checks it."""
    loader = _loader_class()(text)
    try:
        while _checked(loader.check_node, text):
            node = _checked(loader.get_node, text)
            check_node(node)
            yield loader.construct_document(node)
    finally:
        loader.dispose()


def load_one(text: str) -> Any:
    """The data of a text holding at most one document (None when empty)."""
    docs = load_all(text)
    first = next(docs, None)
    for _ in docs:
        raise _error("expected a single document, found another", None)
    return first


def check_yaml(text: str, source: str | None = None) -> None:
    """Check every document of `text` without constructing it (before ruamel.yaml loads the same text).

    Raises yaml.MarkedYAMLError, or InputError naming `source` when one is given.
    """
    import yaml

    try:
        for _ in compose_all(text):
            pass
    except yaml.YAMLError as exc:
        if source is None:
            raise
        raise InputError(f"{source}: invalid YAML: {describe_yaml_error(exc)}") from None


def yaml_problem(exc: Exception) -> tuple[int | None, str]:
    """(line, problem) of a YAML error, the problem on one line (no context lines, no source snippet)."""
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    problem = getattr(exc, "problem", None) or getattr(exc, "context", None) or str(exc)
    return (mark.line + 1 if mark is not None else None), " ".join(str(problem).split())


def describe_yaml_error(exc: Exception) -> str:
    """`line N: problem` (or just the problem) on one line, for PyYAML and ruamel.yaml errors alike."""
    line, problem = yaml_problem(exc)
    return f"line {line}: {problem}" if line is not None else problem


def load_documents(text: str, source: str) -> list[Any]:
    """All documents of a YAML/JSON stream; any error is an InputError naming source, document and line."""
    import yaml

    docs: list[Any] = []
    try:
        docs.extend(load_all(text))
    except yaml.YAMLError as exc:
        line, problem = yaml_problem(exc)
        at = f", line {line}" if line is not None else ""
        raise InputError(f"{source}: document {len(docs) + 1}{at}: invalid YAML: {problem}") from None
    return docs


def _checked(step: Any, text: str) -> Any:
    """Run a parser step; a reader error (a control character, bad UTF-8) becomes a marked error."""
    import yaml

    try:
        return step()
    except yaml.reader.ReaderError as exc:
        position = max(0, min(int(exc.position), len(text)))
        line = text.count("\n", 0, position)
        column = position - (text.rfind("\n", 0, position) + 1)
        problem = f"unacceptable character #x{exc.character:04x}: {exc.reason}" if isinstance(
            exc.character, int) else str(exc.reason)
        raise _error(problem, yaml.Mark("<input>", position, line, column, None, 0)) from None
    except RecursionError:  # the pure-Python parser (no libyaml) on deep input: libyaml stops at 1,000 levels
        raise _error(f"nested deeper than {MAX_DEPTH} levels", None) from None


def _error(problem: str, mark: Any) -> Exception:
    import yaml

    return yaml.MarkedYAMLError(problem=problem, problem_mark=mark)


def _allowed_alias_ratio(decoded: int) -> float:
    if decoded <= _RATIO_LOW:
        return 0.99
    if decoded >= _RATIO_HIGH:
        return 0.10
    return 0.99 - 0.89 * (decoded - _RATIO_LOW) / (_RATIO_HIGH - _RATIO_LOW)


def check_node(root: Any) -> None:
    """Walk a composed document as its data would be built (aliases expanded), refusing exceeded bounds.

    The walk stops at the first exceeded bound, so it costs at most ~1.1x the document's own nodes plus
    400,000: an alias bomb is refused, never expanded.
    """
    import yaml

    decoded = aliased = 0
    seen: set[int] = set()
    on_path: set[int] = set()
    stack: list[Any] = [(root, 1, False)]
    pop, push = stack.pop, stack.append
    while stack:
        item = pop()
        if type(item) is int:  # leaving a collection
            on_path.discard(item)
            continue
        node, depth, in_alias = item
        decoded += 1
        if in_alias:
            aliased += 1
            if (aliased > _ALIAS_MIN_COUNT and decoded > _ALIAS_MIN_DECODED
                    and aliased / decoded > _allowed_alias_ratio(decoded)):
                raise _error("excessive aliasing (anchors and aliases expand too far)", node.start_mark)
        if isinstance(node, yaml.ScalarNode):
            continue
        if depth > MAX_DEPTH:
            raise _error(f"nested deeper than {MAX_DEPTH} levels", node.start_mark)
        key = id(node)
        if key in on_path:
            raise _error("an anchor contains an alias to itself", node.start_mark)
        if key in seen:
            in_alias = True
        else:
            seen.add(key)
        on_path.add(key)
        push(key)
        if isinstance(node, yaml.MappingNode):
            for k, v in reversed(node.value):
                push((v, depth + 1, in_alias))
                push((k, depth + 1, in_alias))
        else:
            for child in reversed(node.value):
                push((child, depth + 1, in_alias))

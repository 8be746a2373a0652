"""What an edit of a manifest stream produced, and the small text helpers both editors share."""

from __future__ import annotations

from dataclasses import dataclass, field

from regcred.core.cluster.podspec import SpecPlan


@dataclass(frozen=True, slots=True)
class SpecOutcome:
    """What happened to one pod spec: its object, the plan, and which editor applied it."""

    label: str
    plan: SpecPlan
    editor: str = ""


@dataclass(slots=True)
class StreamResult:
    text: str
    outcomes: list[SpecOutcome] = field(default_factory=list)

    @property
    def changed(self) -> list[SpecOutcome]:
        return [o for o in self.outcomes if o.plan.changes]

    @property
    def skipped(self) -> list[SpecOutcome]:
        return [o for o in self.outcomes if o.plan.skipped]


def looks_like_json(text: str) -> bool:
    stripped = text.lstrip()
    return stripped.startswith(("{", "["))


def apply_replacements(text: str, replacements: list[tuple[int, int, str]]) -> str:
    """`text` with each (start, end, new) span replaced; spans do not overlap."""
    if not replacements:
        return text
    pieces: list[str] = []
    cursor = 0
    for start, end, new in sorted(replacements, key=lambda r: (r[0], r[1])):
        pieces.append(text[cursor:start])
        pieces.append(new)
        cursor = end
    pieces.append(text[cursor:])
    return "".join(pieces)


def line_ending(text: str) -> str:
    """The stream's line ending: new lines follow the first line's (CRLF files stay CRLF)."""
    first = text.find("\n")
    return "\r\n" if first > 0 and text[first - 1] == "\r" else "\n"

"""The code cites the kubelet's rules as `docs/concepts/kubelet-rules.md#<anchor>`: each anchor must be a heading
of that page, so that renaming a section breaks this test rather than the citations."""

from __future__ import annotations

import re
from pathlib import Path

from tests.unit.docs.test_reference_pages import _anchors

ROOT = Path(__file__).resolve().parents[3]
PAGE = "docs/concepts/kubelet-rules.md"
CITATION = re.compile(re.escape(PAGE) + r"#([A-Za-z0-9_-]+)")


def _citations() -> list[tuple[str, str]]:
    found = []
    for folder in ("src", "tests", "benchmarks"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            found += [(str(path.relative_to(ROOT)), a) for a in CITATION.findall(path.read_text(encoding="utf-8"))]
    return found


def test_the_code_cites_the_rules_page() -> None:
    assert len({anchor for _, anchor in _citations()}) >= 5  # guards the guard: the pattern still finds them


def test_every_cited_anchor_is_a_heading_of_the_rules_page() -> None:
    anchors = _anchors(ROOT / PAGE)
    assert [(where, anchor) for where, anchor in _citations() if anchor not in anchors] == []

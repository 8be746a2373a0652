"""The manifest editor is pure core: it imports nothing above the core, and its modules form no import cycle."""

from __future__ import annotations

import ast
from pathlib import Path

import regcred.core.manifests as package

PACKAGE = Path(package.__file__).parent


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name for name in found if name.startswith("regcred")}


def test_the_editor_imports_only_the_core() -> None:
    for path in PACKAGE.glob("*.py"):
        outside = {name for name in _imports(path) if not name.startswith("regcred.core")}
        assert not outside, (path.name, outside)


def test_the_editor_modules_form_no_cycle() -> None:
    graph = {f"regcred.core.manifests.{p.stem}": {n for n in _imports(p) if n.startswith("regcred.core.manifests.")}
             for p in PACKAGE.glob("*.py") if p.stem != "__init__"}

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        return any(n == goal or (n not in seen and reaches(n, goal, seen | {n})) for n in graph.get(start, ()))

    assert not [m for m in graph if reaches(m, m, set())]


def test_the_old_shell_modules_are_gone() -> None:
    shells = Path(package.__file__).parents[2] / "shells"
    assert not (shells / "yamledit.py").exists() and not (shells / "yamlroundtrip.py").exists()

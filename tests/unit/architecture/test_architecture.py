"""The architecture as a contract: layers, independent core domains, no import cycles, lazy imports that say
why, long modules that say why. Read from the source with `ast` (tests/support/importgraph.py), so every
import counts, including those inside functions; tests/unit/architecture/test_importgraph.py shows the checks can fail.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from tests.support.importgraph import (
    Import,
    Layer,
    Module,
    cycles,
    independence_violations,
    layer_violations,
    scan,
    unassigned,
    within,
)

SRC = Path(__file__).resolve().parents[3] / "src"

# Lowest first; a layer imports only itself and the layers below it. A package listed here that does not exist
# yet (regcred.usecases while it is being built, the controller and the webhook) is enforced once it does.
LAYERS = (
    Layer("core", packages=("regcred.core",), modules=("regcred._version",)),
    Layer("shells", packages=("regcred.shells", "regcred.localregistry")),
    Layer("usecases", packages=("regcred.usecases",)),
    Layer(
        "interfaces",
        packages=("regcred.cli", "regcred.controller", "regcred.webhook"),
        modules=("regcred", "regcred.__main__"),  # the package root is the library surface (regcred.__all__)
    ),
)

# Core domains that answer different questions and must not lean on each other.
INDEPENDENT_CORE = ("regcred.core.audit", "regcred.core.spec", "regcred.core.verify")
# Interfaces share the use cases, never each other.
INDEPENDENT_INTERFACES = ("regcred.cli", "regcred.controller", "regcred.webhook")

# The one door between interfaces: `regcred controller` starts the controller as other commands call a use case,
# through the controller's entry points only (Options and run; the log set-up), imported inside the command
# function so the CLI's cold start does not load the controller. Decision: docs/decisions.md, "The CLI starts
# the controller through its entry points".
ENTRY_POINTS = {"regcred.cli.controller": frozenset({"regcred.controller.manager", "regcred.controller.logs"})}

# Modules exempt from the lazy-import rule (none now: every branch that was rewriting modules has merged).
LAZY_RULE_PENDING: frozenset[str] = frozenset()

LONG_MODULE = 400
LONG_MODULE_REASON = "Why this module is long:"


@pytest.fixture(scope="module")
def modules() -> dict[str, Module]:
    return scan(SRC, "regcred")


@pytest.fixture(scope="module")
def imports(modules: dict[str, Module]) -> list[Import]:
    return [edge for module in modules.values() for edge in module.imports]


def test_the_scan_sees_the_package(modules: dict[str, Module], imports: list[Import]) -> None:
    """Guards the guards: an empty scan would make every test below pass."""
    assert {"regcred.core.credentials.keyring", "regcred.shells.files", "regcred.cli.main"} <= modules.keys()
    assert any(edge.lazy for edge in imports) and any(not edge.lazy for edge in imports)


def test_every_module_belongs_to_a_layer(modules: dict[str, Module]) -> None:
    assert unassigned(modules, LAYERS) == [], "place the new package in LAYERS"


def test_each_layer_imports_only_itself_and_the_layers_below(imports: list[Import]) -> None:
    assert layer_violations(imports, LAYERS) == []


def test_core_audit_spec_and_verify_are_independent(imports: list[Import]) -> None:
    assert independence_violations(imports, INDEPENDENT_CORE) == []


def through_an_entry_point(edge: Import) -> bool:
    return edge.lazy and edge.imported in ENTRY_POINTS.get(edge.importer, frozenset())


def test_interfaces_are_independent(imports: list[Import]) -> None:
    assert independence_violations([e for e in imports if not through_an_entry_point(e)], INDEPENDENT_INTERFACES) == []


def test_the_cli_starts_the_controller_only_through_its_entry_points(imports: list[Import]) -> None:
    edges = [e for e in imports if within(e.importer, "regcred.cli") and within(e.imported, "regcred.controller")]
    assert edges, "the scan lost `regcred controller`"
    assert [str(e) for e in edges if not through_an_entry_point(e)] == []
    assert not through_an_entry_point(Import("regcred.cli.controller", "regcred.controller.manager", 1))  # eager
    assert not through_an_entry_point(Import("regcred.cli.controller", "regcred.controller.reconciler", 1, True))


def test_no_import_cycle_among_module_level_imports(imports: list[Import]) -> None:
    assert cycles(imports) == []


def test_no_import_cycle_even_through_lazy_imports(imports: list[Import]) -> None:
    """A lazy import only hides a cycle from the interpreter; the two modules still need each other."""
    assert cycles(replace(edge, lazy=False) for edge in imports) == []


def test_function_level_imports_say_why(modules: dict[str, Module]) -> None:
    """A function-level import exists only to keep the cold start fast, and its `# lazy: <reason>` says so."""
    silent = [
        str(edge)
        for module in modules.values()
        if module.name not in LAZY_RULE_PENDING
        for edge in module.function_level
        if "lazy:" not in edge.comment
    ]
    assert silent == [], "hoist these imports, or add `# lazy: <reason>`"


def test_long_modules_say_why(modules: dict[str, Module]) -> None:
    unexplained = sorted(
        f"{m.name} ({m.lines} lines)"
        for m in modules.values()
        if m.lines > LONG_MODULE and LONG_MODULE_REASON not in m.docstring
    )
    assert unexplained == [], f"split these modules, or add a {LONG_MODULE_REASON!r} line to their docstring"

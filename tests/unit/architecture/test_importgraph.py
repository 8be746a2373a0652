"""The architecture checker finds what it must: planted violations, in a synthetic graph and in a real package
tree on disk (module level, inside functions, relative, under TYPE_CHECKING), and real cycles only."""

from __future__ import annotations

import textwrap
from pathlib import Path

from tests.support.importgraph import (
    Import,
    Layer,
    cycles,
    independence_violations,
    layer_violations,
    scan,
    unassigned,
)
from tests.unit.architecture.test_architecture import INDEPENDENT_CORE, LAYERS

LAYERS_ABC = (Layer("low", packages=("p.low",)), Layer("mid", packages=("p.mid",)), Layer("top", ("p.top",)))


def plant(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return root


def test_a_core_module_importing_a_shell_is_reported_by_the_real_contract() -> None:
    planted = Import("regcred.core.credentials.keyring", "regcred.shells.files", 3)
    assert layer_violations([planted], LAYERS) == [
        "regcred.core.credentials.keyring imports regcred.shells.files (line 3): "
        "layer 'core' must not import layer 'shells'"
    ]


def test_every_upward_import_of_the_real_contract_is_reported_and_no_downward_one() -> None:
    up = [
        Import("regcred.shells.registry", "regcred.usecases.verify", 1),  # usecases need not exist yet
        Import("regcred.usecases.attach", "regcred.cli.sa", 2, lazy=True),
        Import("regcred.core.spec.model", "regcred", 3),  # the library surface is an interface
        Import("regcred.localregistry.registry", "regcred.controller.loop", 4),
    ]
    down = [
        Import("regcred.cli.sa", "regcred.usecases.attach", 1),
        Import("regcred.usecases.attach", "regcred.shells.kube", 2),
        Import("regcred.shells.registry", "regcred.localregistry.tls", 3),  # shells may use other shells
        Import("regcred.shells.kube.client", "regcred._version", 4),
        Import("regcred", "regcred.core.credentials.keyring", 5),
    ]
    assert len(layer_violations(up, LAYERS)) == len(up)
    assert layer_violations(down, LAYERS) == []


def test_core_domains_leaning_on_each_other_are_reported() -> None:
    edges = [
        Import("regcred.core.audit.simulation", "regcred.core.verify.verification", 1),
        Import("regcred.core.spec.planner", "regcred.core.credentials.keyring", 2),  # shared core: allowed
    ]
    assert independence_violations(edges, INDEPENDENT_CORE) == [
        "regcred.core.audit.simulation imports regcred.core.verify.verification (line 1): "
        "regcred.core.audit and regcred.core.verify must stay independent"
    ]


def test_a_planted_package_is_scanned_for_every_kind_of_import(tmp_path: Path) -> None:
    src = plant(tmp_path, {
        "p/__init__.py": "",
        "p/low/__init__.py": "",
        "p/low/rules.py": '''\
            """Rules."""
            from typing import TYPE_CHECKING

            if TYPE_CHECKING:
                from p.top import cli

            def later():
                from ..mid import io  # a relative import inside a function
                return io

            def other():
                # lazy: the reason may sit on the line above
                import json
                import csv
                return json, csv
            ''',
        "p/low/more.py": "from p.mid.io import thing\n",
        "p/mid/__init__.py": "",
        "p/mid/io.py": "from . import helper\nimport p.low.rules\nthing = 1\n",
        "p/mid/helper.py": "",
        "p/top/__init__.py": "",
        "p/top/cli.py": "from p.low import rules\n",
        "p/stray.py": "",
    })
    modules = scan(src, "p")
    edges = [edge for module in modules.values() for edge in module.imports]
    assert sorted(layer_violations(edges, LAYERS_ABC)) == [
        "p.low.more imports p.mid.io (line 1): layer 'low' must not import layer 'mid'",
        "p.low.rules imports p.mid.io (line 8) (inside a function): layer 'low' must not import layer 'mid'",
        "p.low.rules imports p.top.cli (line 5): layer 'low' must not import layer 'top'",
    ]
    lazy = next(e for e in edges if e.lazy)
    assert (lazy.importer, lazy.imported, lazy.comment) == ("p.low.rules", "p.mid.io", "a relative import inside a function")
    assert next(e for e in edges if e.imported == "p.top.cli").type_checking
    assert {e.imported: e.comment for e in modules["p.low.rules"].function_level} == {
        "p.mid.io": "a relative import inside a function", "json": "lazy: the reason may sit on the line above",
        "csv": "",  # a reason covers one statement
    }
    assert ("p.mid.io", "p.mid.helper") in {(e.importer, e.imported) for e in edges}  # `from . import helper`
    assert unassigned(modules, LAYERS_ABC) == ["p", "p.stray"]
    # p.low.rules -> p.mid.io runs only when `later` is called; p.top.cli -> p.low.rules never closes a loop
    assert cycles(edges) == []


def test_cycles_are_found_and_lazy_or_type_checking_edges_do_not_make_one() -> None:
    edges = [
        Import("a", "b", 1), Import("b", "c", 1), Import("c", "a", 1),  # a real cycle
        Import("c", "d", 1), Import("d", "c", 1, lazy=True),  # broken by a lazy import
        Import("e", "f", 1), Import("f", "e", 1, type_checking=True),
        Import("g", "g", 1),
    ]
    assert cycles(edges) == [["a", "b", "c"]]

"""Root conftest: the shared fixtures (tests/support) and one marker per tier, taken from the folder.

`pytest -m unit`, `-m cli`, `-m fuzz`, `-m kube`, `-m real` select a tier however a test was written; see tests/README.md.
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["tests.support.fixtures", "tests.support.kube", "tests.support.node"]

TESTS = Path(__file__).parent
TIERS = ("unit", "cli", "fuzz", "kube", "real")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        parts = item.path.relative_to(TESTS).parts if item.path.is_relative_to(TESTS) else ()
        if parts and parts[0] in TIERS:
            item.add_marker(parts[0])

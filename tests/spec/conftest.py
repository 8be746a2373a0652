"""Until the shared fake-API fixture (tests/support/kube.py) exists, cluster tests skip with that reason."""

from __future__ import annotations

import importlib.util

import pytest

if importlib.util.find_spec("tests.support.kube") is None:

    @pytest.fixture
    def kube() -> None:
        pytest.skip("the fake kube-apiserver fixture (tests/support/kube.py) is not available")

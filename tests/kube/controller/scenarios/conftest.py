"""The scenarios' one fixture: the CRD served, the password variable set, and the test's specs removed after."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.controllerrun import PASSWORD, Specs, forget_specs, install_crd
from tests.support.kube import KubeBackend


@pytest.fixture
def specs(kube: KubeBackend, monkeypatch: pytest.MonkeyPatch) -> Iterator[Specs]:
    monkeypatch.setenv("REG_PW", PASSWORD)
    install_crd(kube)
    made = Specs(kube)
    yield made
    forget_specs(kube, made.names)

"""Fixtures of the conformance tests: a fresh fake API server, and a replay client on it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.kube.fakekube.replay import Client
from tests.support.fakekube import FakeKube


@pytest.fixture
def fake() -> Iterator[FakeKube]:
    with FakeKube(too_large_rv_wait=0.2) as kube:
        yield kube


@pytest.fixture
def api(fake: FakeKube) -> Iterator[Client]:
    c = Client(fake)
    yield c
    c.http.close()

"""Fixtures of the verify tests: local fake registries, closed after each test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.fakeregistry import FakeServer, Route


@pytest.fixture
def serve() -> Iterator[Callable[[Route], FakeServer]]:
    servers: list[FakeServer] = []

    def start(route: Route, tls_dir: Path | None = None) -> FakeServer:
        servers.append(FakeServer(route, tls_dir))
        return servers[-1]

    yield start
    for server in servers:
        server.close()

"""`api_server`: the in-process fake kube-apiserver behind a small, test-facing adapter.

The shared `kube` fixture (tests/support/kube.py, parametrized fake/envtest) was not available when these tests
were written; this adapter speaks FakeKube directly. Envtest-only runs go through `kube` once it exists.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.fakekube import FakeKube, Rule


class FakeCluster:
    """Seed objects, read them back, terminate namespaces, restricted identities, request log and write hooks."""

    supports_hooks = True

    def __init__(self, fake: FakeKube, tmp_path: Path) -> None:
        self.fake = fake
        self.tmp_path = tmp_path
        self.kubeconfig = fake.write_kubeconfig(tmp_path / "kubeconfig")
        self._users = 0

    @property
    def request_log(self) -> Any:
        return self.fake.request_log

    def create(self, obj: dict[str, Any]) -> dict[str, Any]:
        return self.fake.seed(obj)

    replace = create  # seeding an existing object stores a new version (a new resourceVersion)

    def get(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> dict[str, Any] | None:
        return self.fake.get_object(api_version, kind, name, namespace)

    def create_namespace(self, name: str) -> None:
        self.fake.seed({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})

    def terminate_namespace(self, name: str) -> None:
        """DELETE the namespace over HTTP: it stays Terminating (no namespace controller runs)."""
        response = httpx.delete(f"{self.fake.url}/api/v1/namespaces/{name}",
                                headers={"Authorization": f"Bearer {self.fake.admin.token}"})
        assert response.status_code == 200, response.text

    def kubeconfig_for(self, rules: list[dict[str, Any]]) -> Path:
        self._users += 1
        user = self.fake.add_user([Rule.from_policy(r) for r in rules], name=f"limited-{self._users}")
        return self.fake.write_kubeconfig(self.tmp_path / f"kubeconfig-{self._users}", user)

    def before_write(self, hook: Callable[[Any], None]) -> None:
        self.fake.before_write = hook


@pytest.fixture
def api_server(tmp_path: Path) -> Iterator[FakeCluster]:
    with FakeKube() as fake:
        yield FakeCluster(fake, tmp_path)

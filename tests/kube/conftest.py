"""Fixtures of the kube tier shared by its features."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from regcred.shells.kube.kubeconfig import ClusterConfig, connect
from regcred.usecases.kubeapi import KubeApi


@pytest.fixture
def api(kube: Any) -> Iterator[KubeApi]:
    """regcred's own API client on the test's backend (the fake API, or envtest's kube-apiserver)."""
    with connect(ClusterConfig(kubeconfig=str(kube.kubeconfig))) as client:
        yield client

"""The leader-election identity: the pod's name from the downward API, unique per process."""

from __future__ import annotations

import socket

import pytest

from regcred.controller.leader import default_identity
from regcred.core.controller.manifests import deployment


def test_identity_is_the_pod_name_with_a_random_suffix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POD_NAME", "regcred-controller-7d9f-abcde")
    first, second = default_identity(), default_identity()
    assert first.startswith("regcred-controller-7d9f-abcde_") and second.startswith("regcred-controller-7d9f-abcde_")
    assert first != second  # a restarted container in the same pod is another candidate


@pytest.mark.parametrize("value", [None, "", "  "])
def test_identity_falls_back_to_the_host_name(monkeypatch: pytest.MonkeyPatch, value: str | None) -> None:
    if value is None:
        monkeypatch.delenv("POD_NAME", raising=False)
    else:
        monkeypatch.setenv("POD_NAME", value)
    name, _, suffix = default_identity().rpartition("_")
    assert name == socket.gethostname() and len(suffix) == 12


def test_the_deployment_gives_the_pod_name_to_the_controller() -> None:
    (container,) = deployment(namespace="regcred-system", image="r/regcred:1", replicas=2)["spec"]["template"][
        "spec"]["containers"]
    env = {e["name"]: e.get("valueFrom", {}).get("fieldRef", {}).get("fieldPath") for e in container["env"]}
    assert env["POD_NAME"] == "metadata.name"

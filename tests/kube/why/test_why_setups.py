"""`regcred why pod/app --verify` on the nine credential set-ups run on a real kubelet (tests/support/pullsetups.py):
the same verdict as the kubelet's (exit 1 exactly where the pull fails), the right cause, and a fix wherever it fails;
on the fake API and envtest, against the real docker-registry with htpasswd and with token auth."""

from __future__ import annotations

import json
from typing import Any

import pytest

from regcred.localregistry.registry import RegistryServer
from tests.support.cli import run_regcred_kube
from tests.support.clusterobjects import namespace
from tests.support.fixtures import IMAGE_REPO, IMAGE_TAG
from tests.support.pullsetups import SETUPS, WRONG_PASSWORD, account


@pytest.mark.parametrize("name", list(SETUPS))
def test_why_verify_explains_each_setup(kube: Any, auth_registry: RegistryServer, name: str) -> None:
    setup, exit_code, _codes, cause = SETUPS[name]
    ns = namespace(kube, "why-setup")
    cred = account(auth_registry.auth)
    setup(kube, ns, auth_registry.host, f"{auth_registry.host}/{IMAGE_REPO}:{IMAGE_TAG}", cred)

    result = run_regcred_kube(kube, "why", "pod/app", "-n", ns, "--verify", "--insecure-http", "-o", "json",
                              secrets=[cred[1], WRONG_PASSWORD])
    assert result.returncode == exit_code, (name, result.stdout, result.stderr)
    [image] = json.loads(result.stdout)["images"]
    assert image["cause"] == cause, (name, image)
    assert image["will_pull"] is (exit_code == 0), (name, image)
    if exit_code:
        assert image["fix"] and image["fix"].startswith("regcred "), (name, image)
        if name != "wrong-password":
            assert "refuses anonymous pulls" in image["explanation"], (name, image)
    if name == "sa-patched-after-pod":
        assert image["fix"] == f"regcred sa attach pull -n {ns} --service-account default --restart-stuck"

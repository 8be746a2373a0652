"""`audit --verify` on the nine credential set-ups that were run on a real kubelet and containerd: it exits 1
exactly for the six that fail to pull there, against the real docker-registry with htpasswd and with token auth.

Three of them (no credentials, a key without the port, a Pod created before its ServiceAccount was patched) end in
an anonymous pull the registry refuses: the kubelet's pull then fails with 401 (see the recorded wording in
tests/unit/why/test_events.py), and only asking the registry anonymously tells.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from regcred.core.credentials.pullsecret import dockerconfigjson_payload
from regcred.localregistry.registry import RegistryServer
from tests.support.cli import run_regcred_kube
from tests.support.clusterobjects import make_secret, namespace
from tests.support.fixtures import IMAGE_REPO, IMAGE_TAG
from tests.support.pullsetups import SETUPS, WRONG_PASSWORD, account, pod


@pytest.mark.parametrize("name", list(SETUPS))
def test_audit_verify_fails_exactly_the_setups_the_kubelet_fails(kube: Any, auth_registry: RegistryServer,
                                                                 name: str) -> None:
    setup, exit_code, codes, _cause = SETUPS[name]
    ns = namespace(kube, "setup")
    cred = account(auth_registry.auth)
    setup(kube, ns, auth_registry.host, f"{auth_registry.host}/{IMAGE_REPO}:{IMAGE_TAG}", cred)

    result = run_regcred_kube(kube, "audit", "-n", ns, "--verify", "--insecure-http", "-o", "json",
                              secrets=[cred[1], WRONG_PASSWORD])
    report = json.loads(result.stdout)
    errors = {f["code"] for f in report["findings"] if f["severity"] == "error"}
    assert result.returncode == exit_code, (name, report["findings"], result.stderr)
    assert errors == codes, (name, report["findings"])
    refused = [f for f in report["findings"] if f["code"] == "anonymous-pull-refused"]
    for finding in refused:
        assert finding["object"] == f"Pod/{ns}/app"
        assert "refuses anonymous pulls" in finding["message"]
    if name == "sa-patched-after-pod":
        assert "regcred sa attach pull -n " + ns + " --service-account default --restart-stuck" in refused[0]["message"]
    if name == "no-credentials":
        assert f"regcred secret create regcred-pull -n {ns} --server {auth_registry.host}" in refused[0]["message"]


def test_without_verify_a_key_missing_the_port_is_a_warning(kube: Any) -> None:
    ns = namespace(kube, "noport")
    make_secret(kube, ns, "pull", dockerconfigjson_payload("registry.example.com", "robot", "noport-pw"))
    kube.create(pod(ns, "registry.example.com:5000/team/app:v1", ["pull"]))
    result = run_regcred_kube(kube, "audit", "-n", ns, "-o", "json", secrets=["noport-pw"])
    assert result.returncode == 0, result.stderr  # a warning: without --verify the registry may allow anonymous pulls
    findings = json.loads(result.stdout)["findings"]
    miss = [f for f in findings if f["code"] == "pull-secrets-miss-image"]
    assert [f["object"] for f in miss] == [f"Pod/{ns}/app"], findings
    assert "'registry.example.com' has no port while the image uses port 5000" in miss[0]["message"]

"""`audit --verify` on the nine credential set-ups that were run on a real kubelet and containerd: it exits 1
exactly for the six that fail to pull there, against the real docker-registry with htpasswd and with token auth.

Three of them (no credentials, a key without the port, a Pod created before its ServiceAccount was patched) end in
an anonymous pull the registry refuses: the kubelet's pull then fails with 401 (see the recorded wording in
tests/unit/why/test_events.py), and only asking the registry anonymously tells.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from regcred.core.credentials.pullsecret import dockerconfigjson_payload
from regcred.localregistry.registry import RegistryServer
from tests.support.cli import run_regcred_kube
from tests.support.clusterobjects import make_sa, make_secret, namespace
from tests.support.fixtures import HTPASSWD_USERS, IMAGE_REPO, IMAGE_TAG, TOKEN_PASSWORDS

WRONG_PASSWORD = "not-the-password-7"


def _account(kind: str) -> tuple[str, str]:
    return ("alice", HTPASSWD_USERS["alice"]) if kind == "htpasswd" else ("reader", TOKEN_PASSWORDS["reader"])


def pod(ns: str, image: str, pull: list[str] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": [{"name": "app", "image": image}]}
    if pull is not None:
        spec["imagePullSecrets"] = [{"name": n} for n in pull]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "app", "namespace": ns}, "spec": spec}


Setup = Callable[[Any, str, str, str, tuple[str, str]], None]  # kube, ns, host, image, (user, password)


def no_credentials(kube: Any, ns: str, host: str, image: str, cred: tuple[str, str]) -> None:
    kube.create(pod(ns, image))


def sa_patched_before(kube: Any, ns: str, host: str, image: str, cred: tuple[str, str]) -> None:
    make_secret(kube, ns, "pull", dockerconfigjson_payload(host, *cred))
    make_sa(kube, ns, "default", pull=["pull"])
    kube.create(pod(ns, image))


def key_without_port(kube: Any, ns: str, host: str, image: str, cred: tuple[str, str]) -> None:
    make_secret(kube, ns, "pull", dockerconfigjson_payload(host.rsplit(":", 1)[0], *cred))
    kube.create(pod(ns, image, ["pull"]))


def opaque_secret(kube: Any, ns: str, host: str, image: str, cred: tuple[str, str]) -> None:
    make_secret(kube, ns, "pull", dockerconfigjson_payload(host, *cred), type_="Opaque")
    kube.create(pod(ns, image, ["pull"]))


def missing_secret(kube: Any, ns: str, host: str, image: str, cred: tuple[str, str]) -> None:
    kube.create(pod(ns, image, ["pull"]))


def right_secret(kube: Any, ns: str, host: str, image: str, cred: tuple[str, str]) -> None:
    make_secret(kube, ns, "pull", dockerconfigjson_payload(host, *cred))
    kube.create(pod(ns, image, ["pull"]))


def wrong_password(kube: Any, ns: str, host: str, image: str, cred: tuple[str, str]) -> None:
    make_secret(kube, ns, "pull", dockerconfigjson_payload(host, cred[0], WRONG_PASSWORD))
    kube.create(pod(ns, image, ["pull"]))


def sa_patched_after(kube: Any, ns: str, host: str, image: str, cred: tuple[str, str]) -> None:
    make_secret(kube, ns, "pull", dockerconfigjson_payload(host, *cred))
    kube.create(pod(ns, image))
    make_sa(kube, ns, "default", pull=["pull"])


def key_with_path_prefix(kube: Any, ns: str, host: str, image: str, cred: tuple[str, str]) -> None:
    make_secret(kube, ns, "pull", dockerconfigjson_payload(f"{host}/{IMAGE_REPO.split('/')[0]}", *cred))
    kube.create(pod(ns, image, ["pull"]))


# set-up -> (exit code of audit --verify, the error codes it must report on the Pod or its Secret)
SETUPS: dict[str, tuple[Setup, int, set[str]]] = {
    "no-credentials": (no_credentials, 1, {"anonymous-pull-refused"}),
    "sa-patched-before-pod": (sa_patched_before, 0, set()),
    "key-without-port": (key_without_port, 1, {"anonymous-pull-refused"}),
    "opaque-secret": (opaque_secret, 1, {"secret-wrong-type", "anonymous-pull-refused"}),
    "missing-secret": (missing_secret, 1, {"missing-secret", "anonymous-pull-refused"}),
    "right-secret": (right_secret, 0, set()),
    "wrong-password": (wrong_password, 1, {"credential-rejected"}),
    "sa-patched-after-pod": (sa_patched_after, 1, {"anonymous-pull-refused"}),
    "key-with-path-prefix": (key_with_path_prefix, 0, set()),
}


@pytest.fixture(params=["htpasswd", "token"])
def registry(request: pytest.FixtureRequest) -> RegistryServer:
    server: RegistryServer = request.getfixturevalue(f"registry_{request.param}")
    return server


@pytest.mark.parametrize("name", list(SETUPS))
def test_audit_verify_fails_exactly_the_setups_the_kubelet_fails(kube: Any, registry: RegistryServer,
                                                                 name: str) -> None:
    setup, exit_code, codes = SETUPS[name]
    ns = namespace(kube, "setup")
    cred = _account(registry.auth)
    setup(kube, ns, registry.host, f"{registry.host}/{IMAGE_REPO}:{IMAGE_TAG}", cred)

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
        assert f"regcred secret create regcred-pull -n {ns} --server {registry.host}" in refused[0]["message"]


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

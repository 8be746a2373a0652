"""The nine credential set-ups run on a real kubelet and containerd against an htpasswd registry, one namespace each
(the issue of `audit --verify` and `why`): each builds its objects through a `kube` backend, and SETUPS says what the
kubelet did. Shared by tests/kube/audit/test_audit_verify_setups.py and tests/kube/why/test_why_setups.py."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from regcred.core.credentials.pullsecret import dockerconfigjson_payload
from tests.support.clusterobjects import make_sa, make_secret
from tests.support.fixtures import HTPASSWD_USERS, IMAGE_REPO, TOKEN_PASSWORDS

WRONG_PASSWORD = "not-the-password-7"


def account(kind: str) -> tuple[str, str]:
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


# set-up -> (exit code of audit --verify and why --verify, the audit's error codes, why's cause)
SETUPS: dict[str, tuple[Setup, int, set[str], str]] = {
    "no-credentials": (no_credentials, 1, {"anonymous-pull-refused"}, "no-credential"),
    "sa-patched-before-pod": (sa_patched_before, 0, set(), "none"),
    "key-without-port": (key_without_port, 1, {"anonymous-pull-refused"}, "key-mismatch"),
    "opaque-secret": (opaque_secret, 1, {"secret-wrong-type", "anonymous-pull-refused"}, "secret-ignored"),
    "missing-secret": (missing_secret, 1, {"missing-secret", "anonymous-pull-refused"}, "secret-missing"),
    "right-secret": (right_secret, 0, set(), "none"),
    "wrong-password": (wrong_password, 1, {"credential-rejected"}, "credential-rejected"),
    "sa-patched-after-pod": (sa_patched_after, 1, {"anonymous-pull-refused"}, "stale-pod"),
    "key-with-path-prefix": (key_with_path_prefix, 0, set(), "none"),
}




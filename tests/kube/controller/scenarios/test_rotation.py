"""A source Secret rotated (passwordFrom.secretKeyRef, fromSecret) reaches every managed copy.

Through the running controller (`manager.run` in a thread), on the fake API and on a real kube-apiserver; the
copies' decoded `auth` is compared, so a copy left with the old credential fails.
"""

from __future__ import annotations

from typing import Any

from tests.support.controllerrun import (
    Specs,
    auth_in,
    controller,
    dockerconfig,
    namespaces,
    spec_doc,
    wait_until,
)
from tests.support.kube import KubeBackend

PASSWORD_SERVER, COPIED_SERVER = "r.example.com", "copied.example.com"


def test_rotating_either_source_updates_every_copy(kube: KubeBackend, specs: Specs) -> None:
    vault = namespaces(kube, "vault", 1)[0]
    targets = namespaces(kube, "rot", 3)
    kube.create({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "pw", "namespace": vault},
                 "type": "Opaque", "stringData": {"password": "first-password"}})
    kube.create({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "cfg", "namespace": vault},
                 "type": "kubernetes.io/dockerconfigjson",
                 "stringData": {".dockerconfigjson": dockerconfig(COPIED_SERVER, "robot", "first-token")}})
    name = kube.unique_ns("spec")
    doc: dict[str, Any] = spec_doc(targets, name=name)
    doc["spec"]["registries"] = [
        {"server": PASSWORD_SERVER, "username": "u",
         "passwordFrom": {"secretKeyRef": {"namespace": vault, "name": "pw", "key": "password"}}},
        {"fromSecret": {"namespace": vault, "name": "cfg"}}]

    def every_copy(password: str, token: str) -> bool:
        return all(auth_in(kube, ns, name, PASSWORD_SERVER) == f"u:{password}" and
                   auth_in(kube, ns, name, COPIED_SERVER) == f"robot:{token}" for ns in targets)

    with controller(kube):
        specs.create(doc)
        wait_until(lambda: every_copy("first-password", "first-token"), "every copy with the first credentials")

        kube.patch("v1", "Secret", "pw", {"stringData": {"password": "second-password"}}, vault)
        wait_until(lambda: every_copy("second-password", "first-token"), "every copy with the rotated password")

        kube.patch("v1", "Secret", "cfg", {"stringData": {
            ".dockerconfigjson": dockerconfig(COPIED_SERVER, "robot", "second-token")}}, vault)
        wait_until(lambda: every_copy("second-password", "second-token"), "every copy with the rotated fromSecret")
    assert kube.get("v1", "Secret", name, vault) is None  # the vault is not a target

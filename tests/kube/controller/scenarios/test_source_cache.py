"""The controller holds the data of the Secrets specs read, and of no other Secret of the cluster.

The source-Secret informer watches every Secret regcred does not manage (a spec may name any); before, it kept
each one's data: every token, TLS key and Helm release of the cluster in the controller's memory.
"""

from __future__ import annotations

from typing import Any

from tests.support.controllerrun import SPECS, Specs, auth_in, controller, namespaces, spec_doc, wait_until
from tests.support.kube import KubeBackend

SERVER = "r.example.com"


def _secret(namespace: str, name: str, password: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": namespace},
            "type": "Opaque", "stringData": {"password": password}}


def test_only_the_secrets_a_spec_reads_keep_their_data(kube: KubeBackend, specs: Specs) -> None:
    vault = namespaces(kube, "vault", 1)[0]
    target = namespaces(kube, "src", 1)[0]
    kube.create(_secret(vault, "pw", "first-password"))
    kube.create(_secret(vault, "unrelated", "not-for-regcred"))
    name = kube.unique_ns("spec")
    doc: dict[str, Any] = spec_doc([target], name=name)
    doc["spec"]["registries"] = [{"server": SERVER, "username": "u", "passwordFrom": {
        "secretKeyRef": {"namespace": vault, "name": "pw", "key": "password"}}}]
    with controller(kube) as running:
        cache = running.manager.informers["SourceSecret"]
        assert "data" not in (cache.get("pw", vault) or {"data": "missing"})  # no spec named it yet
        specs.create(doc)
        # named after it was cached without data: read once, and the copy carries the password
        wait_until(lambda: auth_in(kube, target, name, SERVER) == "u:first-password", "the first copy")
        assert (cache.get("pw", vault) or {}).get("data")
        unrelated = cache.get("unrelated", vault)
        assert unrelated is not None and "data" not in unrelated  # seen, never held
        kube.patch("v1", "Secret", "unrelated", {"stringData": {"password": "changed"}}, vault)
        kube.patch("v1", "Secret", "pw", {"stringData": {"password": "second-password"}}, vault)
        wait_until(lambda: auth_in(kube, target, name, SERVER) == "u:second-password", "the rotated copy")
        assert "data" not in (cache.get("unrelated", vault) or {})
        edit = kube.request("PATCH", f"{SPECS}/{name}", content_type="application/merge-patch+json",
                            json={"spec": {"registries": [
                                {"server": SERVER, "username": "u", "passwordFrom": {"env": "REG_PW"}}]}})
        assert edit.status_code == 200, edit.text
        wait_until(lambda: "data" not in (cache.get("pw", vault) or {}), "the data dropped once no spec reads it")

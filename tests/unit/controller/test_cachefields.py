"""The cache transforms keep what the rules read and drop the rest (managedFields, foreign annotations)."""

from __future__ import annotations

from typing import Any

from regcred.core.controller.cachefields import keep_needed_fields, transform_for


def obj(kind: str, **rest: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": kind, **rest, "metadata": {
        "name": "x", "namespace": "n", "uid": "u", "resourceVersion": "7", "labels": {"a": "b"},
        "annotations": {"regcred.dev/registries": "r", "kubectl.kubernetes.io/last-applied-configuration": "{...}"},
        "managedFields": [{"manager": "kubectl"}], "ownerReferences": [{"uid": "o"}],
        "deletionTimestamp": "2026-01-01T00:00:00Z"}}


def test_every_transform_keeps_identity_labels_and_only_regcreds_annotations() -> None:
    for kind in ("Namespace", "ServiceAccount", "Secret", "RegistryCredential", "Deployment"):
        meta = transform_for(kind)(obj(kind))["metadata"]
        assert meta == {"name": "x", "namespace": "n", "uid": "u", "resourceVersion": "7", "labels": {"a": "b"},
                        "annotations": {"regcred.dev/registries": "r"}, "ownerReferences": [{"uid": "o"}],
                        "deletionTimestamp": "2026-01-01T00:00:00Z"}, kind


def test_the_fields_each_kind_keeps() -> None:
    sa = transform_for("ServiceAccount")(obj("ServiceAccount", imagePullSecrets=[{"name": "p"}], secrets=[{}],
                                             automountServiceAccountToken=False))
    assert set(sa) == {"apiVersion", "kind", "metadata", "imagePullSecrets"}
    secret = transform_for("Secret")(obj("Secret", type="kubernetes.io/dockerconfigjson", data={"k": "dg=="}))
    assert (secret["type"], secret["data"]) == ("kubernetes.io/dockerconfigjson", {"k": "dg=="})
    ns = transform_for("Namespace")(obj("Namespace", spec={"finalizers": ["kubernetes"]},
                                        status={"phase": "Terminating", "conditions": [{}]}))
    assert ns["status"] == {"phase": "Terminating"} and "spec" not in ns
    rc = transform_for("RegistryCredential")(obj("RegistryCredential", spec={"s": 1}, status={"t": 2}))
    assert (rc["spec"], rc["status"]) == ({"s": 1}, {"t": 2})
    assert transform_for("Deployment") is keep_needed_fields


def test_the_input_object_is_not_changed() -> None:
    original = obj("Secret", data={"k": "dg=="})
    transform_for("Secret")(original)
    assert "managedFields" in original["metadata"]

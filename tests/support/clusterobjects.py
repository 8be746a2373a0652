"""Objects the kube-tier tests create through a `kube` backend (fake or envtest): namespaces, pull Secrets,
ServiceAccounts. Shared by the tests of `secret`/`sa` and `audit` against an API server."""

from __future__ import annotations

import base64
from typing import Any

from regcred.core.credentials.pullsecret import dockerconfigjson_payload


def make_secret(kube: Any, ns: str, name: str = "pull", payload: bytes | None = None, labels: dict | None = None,
                type_: str = "kubernetes.io/dockerconfigjson") -> None:
    payload = dockerconfigjson_payload("r.io", "u", "p") if payload is None else payload
    meta: dict[str, Any] = {"name": name, "namespace": ns}
    if labels:
        meta["labels"] = labels
    kube.create({"apiVersion": "v1", "kind": "Secret", "metadata": meta, "type": type_,
                 "data": {".dockerconfigjson": base64.b64encode(payload).decode()}})


def make_sa(kube: Any, ns: str, name: str = "default", pull: list[str] | None = None,
            annotations: dict | None = None) -> None:
    """Create the ServiceAccount, or overwrite it when it exists (the namespace's `default` always does)."""
    obj: dict[str, Any] = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name, "namespace": ns}}
    if annotations:
        obj["metadata"]["annotations"] = annotations
    if pull is not None:
        obj["imagePullSecrets"] = [{"name": n} for n in pull]
    current = kube.get("v1", "ServiceAccount", name, ns)
    if current is None:
        kube.create(obj)
    else:
        obj["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
        kube.replace(obj)


def namespace(kube: Any, prefix: str, labels: dict[str, str] | None = None) -> str:
    """A fresh namespace with its default ServiceAccount (envtest has no controller to create it)."""
    name = kube.unique_ns(prefix)
    kube.create_namespace(name, labels=labels)
    return name

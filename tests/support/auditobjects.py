"""Small builders for the objects an audit reads (plain dicts, as from a manifest or the API)."""

from __future__ import annotations

import base64
import json
from typing import Any


def pull_secret(name: str, ns: str, auths: Any = None, *, type_: str = "kubernetes.io/dockerconfigjson",
                key: str = ".dockerconfigjson", raw: str | None = None) -> dict[str, Any]:
    payload = raw if raw is not None else json.dumps({"auths": auths or {}})
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": ns}, "type": type_,
            "data": {key: base64.b64encode(payload.encode()).decode()}}


def entry(user: str, password: str) -> dict[str, str]:
    return {"auth": base64.b64encode(f"{user}:{password}".encode()).decode()}


def service_account(name: str, ns: str, *secrets: str) -> dict[str, Any]:
    sa: dict[str, Any] = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name, "namespace": ns}}
    if secrets:
        sa["imagePullSecrets"] = [{"name": s} for s in secrets]
    return sa


def pod_spec(*images: str, secrets: tuple[str, ...] | None = None, sa: str | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": [{"name": f"c{i}", "image": img} for i, img in enumerate(images)]}
    if secrets is not None:
        spec["imagePullSecrets"] = [{"name": s} for s in secrets]
    if sa:
        spec["serviceAccountName"] = sa
    return spec


def deployment(name: str, ns: str, *images: str, secrets: tuple[str, ...] | None = None,
               sa: str | None = None) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": ns},
            "spec": {"template": {"spec": pod_spec(*images, secrets=secrets, sa=sa)}}}


def cronjob(name: str, ns: str, *images: str, secrets: tuple[str, ...] | None = None) -> dict[str, Any]:
    return {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": name, "namespace": ns},
            "spec": {"jobTemplate": {"spec": {"template": {"spec": pod_spec(*images, secrets=secrets)}}}}}


def pod(name: str, ns: str, *images: str, secrets: tuple[str, ...] | None = None, sa: str | None = None,
        owner: tuple[str, str] | None = None, created: bool = True) -> dict[str, Any]:
    """A Pod as read from the API (with a uid), or with `created=False` a Pod manifest not yet applied."""
    meta: dict[str, Any] = {"name": name, "namespace": ns}
    if created:
        meta["uid"] = f"uid-{ns}-{name}"
    if owner:
        meta["ownerReferences"] = [{"kind": owner[0], "name": owner[1], "apiVersion": "apps/v1", "uid": "u"}]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": pod_spec(*images, secrets=secrets, sa=sa)}

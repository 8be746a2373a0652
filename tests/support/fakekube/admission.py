"""Admission plugins and the controller behaviour the fake emulates.

Why: NamespaceLifecycle (404/403 on create), ServiceAccount admission (default SA, copying
imagePullSecrets only into pods that have none, rejecting unknown SAs) and the
kube-controller-manager's default-ServiceAccount creation shape what a product observes.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from .errors import forbidden, not_found
from .resources import BY_KEY

if TYPE_CHECKING:
    from .store import Store

NAMESPACES = BY_KEY["namespaces"]
SERVICEACCOUNTS = BY_KEY["serviceaccounts"]
_SUFFIX = "bcdfghjklmnpqrstvwxz2456789"
TOKEN_PATH = "/var/run/secrets/kubernetes.io/serviceaccount"
IMMORTAL = ("default", "kube-system", "kube-public")


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def random_suffix(n: int = 5) -> str:
    return "".join(random.choice(_SUFFIX) for _ in range(n))


def new_uid() -> str:
    return str(uuid.uuid4())


def check_namespace(store: Store, plural: str, group: str, ns: str, name: str) -> None:
    """NamespaceLifecycle: creates need an existing, non-terminating namespace."""
    entry = store.get(NAMESPACES, "", ns)
    if entry is None:
        raise not_found("namespaces", "", ns)
    if entry.obj["metadata"].get("deletionTimestamp"):
        cause = {"reason": "NamespaceTerminating", "message": f"namespace {ns} is being terminated",
                 "field": "metadata.namespace"}
        raise forbidden(plural, group, name,
                        f"unable to create new content in namespace {ns} because it is being terminated", [cause])


def builtin_plugins(store: Store, kind: str, ns: str, wait: float) -> Callable[[dict[str, Any]], None]:
    """The built-in mutating plugins for a new object of ``kind`` (run again when webhooks are reinvoked)."""
    def run(obj: dict[str, Any]) -> None:
        if kind == "Pod":
            with store.lock:
                admit_pod(store, obj, ns, wait)
    return run


def admit_pod(store: Store, pod: dict[str, Any], ns: str, wait: float) -> None:
    """ServiceAccount, Priority and DefaultTolerationSeconds admission for a new pod."""
    spec = pod.setdefault("spec", {})
    name = pod["metadata"].get("name", "")
    sa_name = spec.get("serviceAccountName") or "default"
    spec["serviceAccountName"] = spec["serviceAccount"] = sa_name
    sa = store.get(SERVICEACCOUNTS, ns, sa_name)
    deadline = time.monotonic() + wait
    while sa is None and sa_name == "default" and (left := deadline - time.monotonic()) > 0:
        store.cond.wait(min(left, 0.1))  # the plugin retries a live lookup for "default"
        sa = store.get(SERVICEACCOUNTS, ns, sa_name)
    if sa is None:
        raise forbidden("pods", "", name,
                        f'error looking up service account {ns}/{sa_name}: serviceaccount "{sa_name}" not found')
    sa_obj = sa.obj
    sa_refs = [r.get("name", "") for r in sa_obj.get("imagePullSecrets") or []]
    annotations = sa_obj["metadata"].get("annotations") or {}
    if annotations.get("kubernetes.io/enforce-mountable-secrets") == "true":
        for i, ref in enumerate(spec.get("imagePullSecrets") or []):
            if ref.get("name") not in sa_refs:
                raise forbidden("pods", "", name,
                                f"imagePullSecrets[{i}].name={ref.get('name')} is not allowed because service "
                                f"account {sa_name} does not reference that imagePullSecret")
    if not spec.get("imagePullSecrets"):
        if sa_refs:
            spec["imagePullSecrets"] = [{"name": n} if n else {} for n in sa_refs]
        else:
            spec.pop("imagePullSecrets", None)
    automount = spec.get("automountServiceAccountToken")
    if automount is None:
        automount = sa_obj.get("automountServiceAccountToken")
    if automount is not False:
        _mount_token(spec)
    if not spec.get("priorityClassName"):
        spec.setdefault("priority", 0)
    spec.setdefault("preemptionPolicy", "PreemptLowerPriority")
    tolerations = spec.setdefault("tolerations", [])
    for key in ("node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"):
        if not any(t.get("key") == key and t.get("effect") in ("NoExecute", None, "") for t in tolerations):
            tolerations.append({"key": key, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300})


def _mount_token(spec: dict[str, Any]) -> None:
    containers = (spec.get("initContainers") or []) + (spec.get("containers") or [])
    if any(m.get("mountPath") == TOKEN_PATH for c in containers for m in c.get("volumeMounts") or []):
        return
    vol = f"kube-api-access-{random_suffix()}"
    spec.setdefault("volumes", []).append({
        "name": vol,
        "projected": {
            "sources": [
                {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
                {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {
                    "apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}},
            ],
            "defaultMode": 420,
        },
    })
    for c in containers:
        c.setdefault("volumeMounts", []).append({"name": vol, "readOnly": True, "mountPath": TOKEN_PATH})


def default_service_account(ns: str) -> dict[str, Any]:
    """What kube-controller-manager's serviceaccount controller creates."""
    return {"kind": "ServiceAccount", "apiVersion": "v1",
            "metadata": {"name": "default", "namespace": ns, "uid": new_uid(), "creationTimestamp": now()}}

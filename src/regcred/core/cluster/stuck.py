"""Pods stuck pulling an image the new secret covers, and what to restart so they get it.

A running Pod's imagePullSecrets never change, and a Pod copies its ServiceAccount's list only at creation:
a stuck Pod must be replaced. Walk ownerReferences to the object that can replace it: Deployment (through
its ReplicaSet), StatefulSet and DaemonSet roll out via the `kubectl.kubernetes.io/restartedAt` template
annotation (what `kubectl rollout restart` does); pods of a Job, a bare ReplicaSet or a
ReplicationController are deleted (their controller recreates them); bare Pods are only reported.
Each owner appears once, however many of its pods are stuck.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from regcred.core.cluster.podspec import (
    RegistryScope,
    current_service_account,
    find_pod_specs,
    pull_secret_names,
)
from regcred.core.objects import metadata

PULL_FAILURES = frozenset({"ErrImagePull", "ImagePullBackOff"})
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
ROLLOUT_KINDS = frozenset({"Deployment", "StatefulSet", "DaemonSet"})
DELETE_POD_OWNERS = frozenset({"Job", "ReplicaSet", "ReplicationController"})
_STATUS_FIELDS = ("initContainerStatuses", "containerStatuses", "ephemeralContainerStatuses")
_SPEC_FIELDS = {"initContainerStatuses": "initContainers", "containerStatuses": "containers",
                "ephemeralContainerStatuses": "ephemeralContainers"}

# (kind, namespace, name) -> the object, for ReplicaSets looked up while walking owners
OwnerLookup = Callable[[str, str, str], Mapping[str, Any] | None]


@dataclass(frozen=True, slots=True)
class StuckPod:
    namespace: str
    name: str
    images: tuple[str, ...]
    service_account: str


@dataclass(slots=True)
class RestartAction:
    """Restart one owner (rollout) or delete pods (controller recreates them) or just report."""

    action: str  # rollout | delete-pods | report
    kind: str
    namespace: str
    name: str
    pods: list[str] = field(default_factory=list)
    images: list[str] = field(default_factory=list)
    reason: str = ""

    @property
    def target(self) -> str:
        return f"{self.kind}/{self.name}"


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def stuck_images(pod: Mapping[str, Any]) -> list[str]:
    """Images of containers waiting in ErrImagePull/ImagePullBackOff (spec image, else status image)."""
    status, spec = _mapping(pod.get("status")), _mapping(pod.get("spec"))
    images: list[str] = []
    for status_field in _STATUS_FIELDS:
        spec_images = {c.get("name"): c.get("image") for c in spec.get(_SPEC_FIELDS[status_field]) or []
                       if isinstance(c, Mapping)}
        for cs in status.get(status_field) or []:
            if not isinstance(cs, Mapping):
                continue
            waiting = _mapping(_mapping(cs.get("state")).get("waiting"))
            if waiting.get("reason") in PULL_FAILURES:
                image = spec_images.get(cs.get("name")) or cs.get("image")
                if isinstance(image, str) and image not in images:
                    images.append(image)
    return images


def find_stuck_pods(pods: Iterable[Mapping[str, Any]], scope: RegistryScope) -> list[StuckPod]:
    """Pods with a pull failure on an image the secret covers; terminating pods are ignored."""
    stuck: list[StuckPod] = []
    for pod in pods:
        meta = metadata(pod)
        if meta.get("deletionTimestamp"):
            continue
        covered = scope.covered_images(stuck_images(pod))
        if covered:
            spec = _mapping(pod.get("spec"))
            sa = current_service_account(spec)
            stuck.append(StuckPod(str(meta.get("namespace", "")), str(meta.get("name")), tuple(covered), str(sa)))
    return stuck


def controller_of(obj: Mapping[str, Any]) -> tuple[str, str] | None:
    """(kind, name) of the managing controller: the ownerReference with controller=true, else the first."""
    refs = [r for r in metadata(obj).get("ownerReferences") or [] if isinstance(r, Mapping)]
    chosen = next((r for r in refs if r.get("controller")), refs[0] if refs else None)
    if chosen is None:
        return None
    return str(chosen.get("kind")), str(chosen.get("name"))


def plan_restarts(pods: Iterable[Mapping[str, Any]], stuck: Iterable[StuckPod], lookup: OwnerLookup) -> list[RestartAction]:
    """Group stuck pods by the owner that can replace them; one action per owner, in first-seen order."""
    by_name = {(str(metadata(p).get("namespace", "")), str(metadata(p).get("name"))): p for p in pods}
    actions: dict[tuple[str, str, str, str], RestartAction] = {}
    for item in stuck:
        pod = by_name.get((item.namespace, item.name), {})
        action, kind, name, reason = _resolve(pod, item.namespace, lookup)
        key = (action, kind, item.namespace, name if action != "report" else item.name)
        entry = actions.get(key)
        if entry is None:
            entry = RestartAction(action, kind, item.namespace, name, reason=reason)
            actions[key] = entry
        entry.pods.append(item.name)
        entry.images.extend(i for i in item.images if i not in entry.images)
    return list(actions.values())


def _resolve(pod: Mapping[str, Any], namespace: str, lookup: OwnerLookup) -> tuple[str, str, str, str]:
    owner = controller_of(pod)
    if owner is None:
        return "report", "Pod", str(metadata(pod).get("name")), "a bare Pod cannot be restarted: recreate it"
    kind, name = owner
    if kind == "ReplicaSet":
        rs = lookup("ReplicaSet", namespace, name)
        parent = controller_of(rs) if rs is not None else None
        if parent is not None and parent[0] == "Deployment":
            return "rollout", "Deployment", parent[1], ""
        if parent is not None:
            return "report", parent[0], parent[1], f"owned by {parent[0]}/{parent[1]}: restart it yourself"
    if kind in ROLLOUT_KINDS:
        return "rollout", kind, name, ""
    if kind in DELETE_POD_OWNERS:
        return "delete-pods", kind, name, ""
    return "report", kind, name, f"owned by {kind}/{name}: restart it yourself"


def service_account_copy_blocked(owner: Mapping[str, Any] | None, secret: str) -> str:
    """Why replacing this owner's Pods cannot give them `secret` through their ServiceAccount, or "".

    A new Pod copies its ServiceAccount's imagePullSecrets only when its own list is empty (admission),
    so an owner whose pod template lists its own entries (any, even an unnamed one) creates Pods that never
    see the ServiceAccount's: a rollout would fail the same way, unless the template itself names `secret`.
    An owner that could not be read (None) is not judged here.
    """
    for _, spec in find_pod_specs(owner):
        entries = spec.get("imagePullSecrets")
        if isinstance(entries, list) and entries and secret not in pull_secret_names(spec):
            return "its pod template lists its own imagePullSecrets, so new Pods will not copy the ServiceAccount's"
    return ""


def restart_patch(now: datetime) -> dict[str, Any]:
    """The strategic merge patch `kubectl rollout restart` sends (RFC 3339 timestamp)."""
    stamp = now.astimezone().isoformat(timespec="seconds")
    return {"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: stamp}}}}}

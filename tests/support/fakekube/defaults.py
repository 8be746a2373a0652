"""Defaulting (SetDefaults_* and PrepareForCreate) for the served types.

Why: clients that GET-modify-PUT send these defaults back, and assertions on stored objects
must see what a real apiserver stores (e.g. ``imagePullPolicy``, ``status: {}``).
"""

from __future__ import annotations

from typing import Any

from .resources import ResourceType
from .validation import get_path
from .webhookconfig import default_configuration


def _image_pull_policy(image: str) -> str:
    ref = image.split("@", 1)[0]
    last = ref.rsplit("/", 1)[-1]
    if "@" in image:
        return "IfNotPresent"
    if ":" not in last or last.endswith(":latest"):
        return "Always"
    return "IfNotPresent"


def default_container(c: dict[str, Any]) -> None:
    c.setdefault("resources", {})
    c.setdefault("terminationMessagePath", "/dev/termination-log")
    c.setdefault("terminationMessagePolicy", "File")
    if "imagePullPolicy" not in c and c.get("image"):
        c["imagePullPolicy"] = _image_pull_policy(c["image"])
    for p in c.get("ports") or []:
        p.setdefault("protocol", "TCP")


def default_pod_spec(spec: dict[str, Any]) -> None:
    """SetDefaults_PodSpec (+ container defaults); shared by pods and templates."""
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    if not spec.get("serviceAccountName") and spec.get("serviceAccount"):
        spec["serviceAccountName"] = spec["serviceAccount"]
    if spec.get("serviceAccountName"):
        spec["serviceAccount"] = spec["serviceAccountName"]
    spec.setdefault("securityContext", {})
    spec.setdefault("schedulerName", "default-scheduler")
    for group in ("initContainers", "containers"):
        for c in spec.get(group) or []:
            default_container(c)
    if "imagePullSecrets" in spec:
        refs = [({"name": r["name"]} if (r or {}).get("name") else {}) for r in spec["imagePullSecrets"] or []]
        if refs:
            spec["imagePullSecrets"] = refs
        else:
            del spec["imagePullSecrets"]
    for v in spec.get("volumes") or []:
        if "secret" in v:
            v["secret"].setdefault("defaultMode", 420)
        if "configMap" in v:
            v["configMap"].setdefault("defaultMode", 420)


def qos_class(spec: dict[str, Any]) -> str:
    reqs = [((c.get("resources") or {}).get("requests") or {}, (c.get("resources") or {}).get("limits") or {})
            for c in (spec.get("containers") or []) + (spec.get("initContainers") or [])]
    if not any(r or lim for r, lim in reqs):
        return "BestEffort"
    for r, lim in reqs:
        for res in ("cpu", "memory"):
            if res not in lim or r.get(res, lim[res]) != lim[res]:
                return "Burstable"
    return "Guaranteed"


def default_object(rt: ResourceType, obj: dict[str, Any], *, creating: bool) -> None:
    """Apply the defaults the apiserver applies on decode (and on create, PrepareForCreate)."""
    kind = rt.kind
    spec = obj.get("spec")
    if kind == "Secret":
        obj.setdefault("type", "Opaque")
    elif kind == "MutatingWebhookConfiguration":
        default_configuration(obj)
    elif kind == "Namespace":
        name = obj["metadata"].get("name", "")
        obj["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = name
        if creating:
            obj["spec"] = {"finalizers": ["kubernetes"]}
            obj["status"] = {"phase": "Active"}
    elif kind == "Deployment" and isinstance(spec, dict):
        spec.setdefault("replicas", 1)
        spec.setdefault("strategy", {"type": "RollingUpdate",
                                     "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}})
        spec.setdefault("revisionHistoryLimit", 10)
        spec.setdefault("progressDeadlineSeconds", 600)
    elif kind == "StatefulSet" and isinstance(spec, dict):
        spec.setdefault("replicas", 1)
        spec.setdefault("podManagementPolicy", "OrderedReady")
        spec.setdefault("updateStrategy", {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}})
        spec.setdefault("revisionHistoryLimit", 10)
        spec.setdefault("persistentVolumeClaimRetentionPolicy", {"whenDeleted": "Retain", "whenScaled": "Retain"})
    elif kind == "DaemonSet" and isinstance(spec, dict):
        spec.setdefault("updateStrategy", {"type": "RollingUpdate",
                                           "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}})
        spec.setdefault("revisionHistoryLimit", 10)
    elif kind in ("ReplicaSet", "ReplicationController") and isinstance(spec, dict):
        spec.setdefault("replicas", 1)
        if kind == "ReplicationController" and not spec.get("selector"):
            labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels")
            if labels:
                spec["selector"] = dict(labels)
    elif kind == "CronJob" and isinstance(spec, dict):
        for k, v in (("concurrencyPolicy", "Allow"), ("suspend", False), ("successfulJobsHistoryLimit", 3),
                     ("failedJobsHistoryLimit", 1)):
            spec.setdefault(k, v)
    path = rt.pod_spec_path()
    if path is not None:
        pod_spec = get_path(obj, path)
        if isinstance(pod_spec, dict):
            default_pod_spec(pod_spec)
    if kind == "Pod" and isinstance(spec, dict):
        spec.setdefault("enableServiceLinks", True)
    if creating and rt.has_generation and not rt.custom and kind not in ("CustomResourceDefinition",
                                                                         "MutatingWebhookConfiguration"):
        obj["status"] = _initial_status(kind, obj)


def _initial_status(kind: str, obj: dict[str, Any]) -> dict[str, Any]:
    if kind == "Pod":
        return {"phase": "Pending", "qosClass": qos_class(obj.get("spec") or {})}
    if kind == "StatefulSet":
        return {"replicas": 0, "availableReplicas": 0}
    if kind == "DaemonSet":
        return {"currentNumberScheduled": 0, "numberMisscheduled": 0, "desiredNumberScheduled": 0, "numberReady": 0}
    if kind in ("ReplicaSet", "ReplicationController"):
        return {"replicas": 0}
    return {}

"""Which objects `regcred why TARGET` explains: the target itself, the Pods a workload owns, and for a Pod that is
gone, the template of the workload whose name it carries (a Deployment's Pod is `NAME-<hash>-<suffix>`)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from regcred.core.audit.findings import object_name
from regcred.core.cluster.podspec import POD_SPEC_PATHS, current_service_account, pull_secret_names
from regcred.core.cluster.stuck import controller_of
from regcred.core.errors import InputError
from regcred.core.objects import metadata

KINDS = {
    "pod": "Pod", "po": "Pod", "pods": "Pod", "deployment": "Deployment", "deploy": "Deployment",
    "deployments": "Deployment", "statefulset": "StatefulSet", "sts": "StatefulSet", "statefulsets": "StatefulSet",
    "daemonset": "DaemonSet", "ds": "DaemonSet", "daemonsets": "DaemonSet", "job": "Job", "jobs": "Job",
    "cronjob": "CronJob", "cj": "CronJob", "cronjobs": "CronJob", "replicaset": "ReplicaSet", "rs": "ReplicaSet",
    "replicasets": "ReplicaSet",
}
OWNER_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob", "ReplicaSet")
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
# (kind, namespace, name) -> the object, or None
Lookup = Callable[[str, str, str], Mapping[str, Any] | None]


def parse_target(text: str) -> tuple[str, str]:
    """`kind/NAME` -> (Kind, NAME); a usage error names the accepted kinds."""
    kind, slash, name = text.partition("/")
    wanted = KINDS.get(kind.lower())
    if not slash or wanted is None or not _NAME.match(name):
        raise InputError(f"cannot explain {text[:80]!r}: expected KIND/NAME",
                         hint="KIND: pod, deployment, statefulset, daemonset, job, cronjob or replicaset; "
                              "or give a Pod manifest with -f")
    return wanted, name


_CREATED = re.compile(r"^(?:Created pod: (?P<name>\S+)|create Pod (?P<sts>\S+) in StatefulSet \S+ successful)$")


def created_by(pod_name: str, events: Iterable[Mapping[str, Any]]) -> tuple[str, str] | None:
    """(kind, name) of the controller whose SuccessfulCreate Event names the Pod (ReplicaSet, Job, DaemonSet:
    "Created pod: NAME"; StatefulSet: "create Pod NAME in StatefulSet S successful"); None when none does."""
    for event in events:
        if event.get("reason") != "SuccessfulCreate":
            continue
        note = event.get("note") or event.get("message")
        found = _CREATED.match(note) if isinstance(note, str) and len(note) < 600 else None
        if found is None or pod_name not in (found.group("name"), found.group("sts")):
            continue
        about = event.get("regarding") or event.get("involvedObject")
        if isinstance(about, Mapping) and about.get("kind") in OWNER_KINDS and isinstance(about.get("name"), str):
            return str(about["kind"]), str(about["name"])
    return None


def likely_owner(pod_name: str, workloads: Iterable[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The workload whose name prefixes the Pod's, the longest first (the Pod is gone; names are all that is left)."""
    best: tuple[int, Mapping[str, Any]] | None = None
    for obj in workloads:
        name = str(metadata(obj).get("name") or "")
        if name and pod_name.startswith(name + "-") and (best is None or len(name) > best[0]):
            best = (len(name), obj)
    return best[1] if best else None


def top_owner(obj: Mapping[str, Any], lookup: Lookup) -> tuple[str, str] | None:
    """(kind, name) of the object at the top of the controller chain (a Pod's Deployment through its ReplicaSet)."""
    ns = str(metadata(obj).get("namespace") or "")
    owner = controller_of(obj)
    for _ in range(3):
        if owner is None or owner[0] not in ("ReplicaSet", "Job"):
            break
        parent_obj = lookup(owner[0], ns, owner[1])
        parent = controller_of(parent_obj) if parent_obj is not None else None
        if parent is None:
            break
        owner = parent
    return owner


def spec_of(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    spec: Any = obj
    for part in POD_SPEC_PATHS.get(str(obj.get("kind")), ()):
        spec = spec.get(part) if isinstance(spec, Mapping) else None
    return spec if isinstance(spec, Mapping) else {}


def related(obj: Mapping[str, Any], namespace: str, accounts: Mapping[str, Mapping[str, Any]]) -> frozenset[str]:
    """The Secrets whose findings concern the object's pulls (its list, or its ServiceAccount's for a template or
    a Pod manifest not created yet), and its ServiceAccount."""
    spec = spec_of(obj)
    sa = current_service_account(spec)
    names = pull_secret_names(spec)
    if not names and (obj.get("kind") != "Pod" or not metadata(obj).get("uid")):
        names = pull_secret_names(accounts.get(sa) or {})
    return frozenset({*(object_name("Secret", namespace, n) for n in names if n),
                      object_name("ServiceAccount", namespace, sa)})

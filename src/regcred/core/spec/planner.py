"""Desired state (validated specs + resolved credentials) against observed state (listed objects) -> changes.

Pure: the shell lists Namespaces, Secrets, ServiceAccounts and workloads once per kind and hands them in
as dicts; the plan says what to create, update, add, remove or delete, and `apply` performs exactly that.
Ownership keeps removal safe: a Secret carries regcred's labels, and a ServiceAccount or workload records
in an annotation which `imagePullSecrets` entries regcred added, so only those are ever taken out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from regcred.core.cluster.podspec import RegistryScope, find_pod_specs, pod_spec_path, spec_images
from regcred.core.cluster.secretsync import is_managed, plan_secret
from regcred.core.cluster.serviceaccounts import (
    ADDED_ANNOTATION,
    ServiceAccountChange,
    change_patch,
    plan_attach,
    plan_detach,
    recorded_names,
)
from regcred.core.credentials.dockerconfig import DockerConfig, parse_config_json
from regcred.core.credentials.gojson import go_compact_dumps
from regcred.core.credentials.pullsecret import (
    MANAGED_BY_LABEL,
    MANAGED_BY_VALUE,
    read_pull_secret,
    secret_manifest,
)
from regcred.core.errors import ConfigFormatError
from regcred.core.objects import is_terminating, metadata, name_of, namespace_of
from regcred.core.spec.expiry import Expiry
from regcred.core.spec.model import RegistryCredential
from regcred.core.spec.planskips import Skip, missing_namespaces, missing_service_accounts

CREDENTIAL_LABEL = "regcred.dev/credential"
REGISTRIES_ANNOTATION = "regcred.dev/registries"


@dataclass(frozen=True, slots=True)
class DesiredCredential:
    """A spec with its credentials resolved: the `.dockerconfigjson` payload it wants in every namespace."""

    spec: RegistryCredential
    payload: bytes
    config: DockerConfig = field(repr=False, compare=False)
    expiries: tuple[Expiry, ...] = ()  # when its credentials expire, where that is known (core/spec/expiry)

    @classmethod
    def build(cls, spec: RegistryCredential, payload: bytes, expiries: tuple[Expiry, ...] = ()) -> DesiredCredential:
        return cls(spec, payload, parse_config_json(payload, f"RegistryCredential {spec.name}"), expiries)

    def registry_keys(self) -> tuple[str, ...]:
        return tuple(self.config.registry_keys())


@dataclass(frozen=True, slots=True)
class ClusterState:
    """What the shell listed: raw API objects (dicts), one list per kind for the whole cluster."""

    namespaces: Sequence[Mapping[str, Any]] = ()
    secrets: Sequence[Mapping[str, Any]] = ()
    service_accounts: Sequence[Mapping[str, Any]] = ()
    workloads: Sequence[Mapping[str, Any]] = ()


@dataclass(frozen=True, slots=True)
class Change:
    """One change. `obj` is the full object to write (a Secret's holds the credentials: never print it)."""

    kind: str
    action: str  # create | update | delete (objects), add | remove (imagePullSecrets entries), conflict
    namespace: str
    name: str
    credential: str
    secret: str = ""
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    updated: tuple[str, ...] = ()
    reason: str = ""
    obj: Mapping[str, Any] | None = field(default=None, repr=False, compare=False)

    @property
    def is_conflict(self) -> bool:
        return self.action == "conflict"

    def to_json(self) -> dict[str, Any]:
        """The stable JSON shape of a change (no secret values, no object bodies)."""
        out: dict[str, Any] = {"kind": self.kind, "action": self.action, "namespace": self.namespace,
                               "name": self.name, "credential": self.credential}
        if self.secret:
            out["secret"] = self.secret
        if self.kind in ("Secret", "Node") and self.action in ("create", "update"):
            out["registries"] = {"added": list(self.added), "removed": list(self.removed),
                                 "updated": list(self.updated)}
        if self.reason:
            out["reason"] = self.reason
        return out


@dataclass(frozen=True, slots=True)
class Plan:
    """Every change a set of specs needs (conflicts included), and the targets skipped for now (and why)."""

    changes: tuple[Change, ...]
    skipped: tuple[Skip, ...] = ()

    @property
    def pending(self) -> tuple[Change, ...]:
        return tuple(c for c in self.changes if not c.is_conflict)

    @property
    def waiting(self) -> tuple[Skip, ...]:
        return tuple(s for s in self.skipped if s.waiting)

    @property
    def in_sync(self) -> bool:
        """Nothing to change and nothing waiting: the cluster matches the specs (plan exits 0)."""
        return not self.changes and not self.waiting

    @property
    def conflicts(self) -> tuple[Change, ...]:
        return tuple(c for c in self.changes if c.is_conflict)

    def summary(self) -> dict[str, dict[str, int]]:
        counts: dict[str, dict[str, int]] = {}
        for change in self.changes:
            level = _level(change.kind)
            counts.setdefault(level, {})
            counts[level][change.action] = counts[level].get(change.action, 0) + 1
        return counts


def _level(kind: str) -> str:
    return {"Secret": "secrets", "ServiceAccount": "serviceAccounts", "Node": "nodes"}.get(kind, "workloads")



def new_secret(desired: DesiredCredential, namespace: str, owner: str) -> dict[str, Any]:
    """The pull Secret to create, labelled as regcred's and as this spec's."""
    obj = secret_manifest(desired.spec.secret_name, desired.payload, namespace=namespace,
                          labels={MANAGED_BY_LABEL: MANAGED_BY_VALUE, CREDENTIAL_LABEL: owner},
                          creation_timestamp_null=False)
    obj["metadata"]["annotations"] = {REGISTRIES_ANNOTATION: ",".join(desired.registry_keys())}
    return obj


def registry_diff(current: DockerConfig | None, wanted: DockerConfig) -> tuple[tuple[str, ...], ...]:
    """(added, removed, updated) registry keys; 'updated' means the credential changed (never says how)."""
    have = {e.key: (e.username, e.password, e.email) for e in current.entries} if current else {}
    want = {e.key: (e.username, e.password, e.email) for e in wanted.entries}
    added = tuple(k for k in want if k not in have)
    removed = tuple(k for k in have if k not in want)
    updated = tuple(k for k in want if k in have and have[k] != want[k])
    return added, removed, updated


def _current_config(secret: Mapping[str, Any]) -> DockerConfig | None:
    try:
        return read_pull_secret(dict(secret)).config
    except ConfigFormatError:
        return None


def secret_change(desired: DesiredCredential, owners: Sequence[str], namespace: str,
                  existing: Mapping[str, Any] | None) -> Change | None:
    """Create, update (a conditional merge patch), refuse (conflict) or nothing, for one namespace's Secret."""
    name = desired.spec.secret_name
    owner = sorted(owners)[0]
    decision = plan_secret(dict(existing) if existing is not None else None, desired.payload,
                           take_over_hint="delete it, or give the spec another secretName")
    if decision.action == "unchanged":
        return None
    if decision.action == "refuse":
        return Change("Secret", "conflict", namespace, name, owner, reason=decision.note)
    if decision.action == "create":
        return Change("Secret", "create", namespace, name, owner, added=desired.registry_keys(),
                      obj=new_secret(desired, namespace, owner))
    assert existing is not None and decision.patch is not None
    added, removed, updated = registry_diff(_current_config(existing), desired.config)
    patch = dict(decision.patch)
    patch["metadata"] = {**patch["metadata"],
                         "labels": {**patch["metadata"].get("labels", {}), CREDENTIAL_LABEL: owner},
                         "annotations": {REGISTRIES_ANNOTATION: ",".join(desired.registry_keys())}}
    return Change("Secret", "update", namespace, name, owner, added=added, removed=removed, updated=updated,
                  reason=decision.note, obj=patch)


def _entries_view(obj: Mapping[str, Any]) -> dict[str, Any] | None:
    """The object as a ServiceAccount-shaped view: its imagePullSecrets list and its annotations.

    For a workload the list is the pod template's; the ownership annotation sits on the workload itself
    (not on the template, so recording it never restarts pods).
    """
    if obj.get("kind") == "ServiceAccount":
        return dict(obj)
    for _, spec in find_pod_specs(obj):
        return {"metadata": {"annotations": metadata(obj).get("annotations") or {}},
                "imagePullSecrets": spec.get("imagePullSecrets")}
    return None


def entries_change(obj: Mapping[str, Any], wanted: Iterable[str],
                   managed: Iterable[str]) -> tuple[list[tuple[str, str, str]], dict[str, Any] | None]:
    """([(action, secret, reason)], merge patch or None): add what is wanted, remove what regcred added.

    The patch writes the whole list and the ownership annotation with the read's resourceVersion as a
    precondition (409 when the object changed since it was read): the list is atomic on a ServiceAccount.
    """
    view = _entries_view(obj)
    if view is None:
        return [], None
    wanted = list(wanted)
    steps: list[tuple[str, str, str]] = []
    changed = False
    current: ServiceAccountChange | None = None
    for secret in wanted:
        current = plan_attach(view, secret)
        if current.changed:
            steps.append(("add", secret, ""))
            changed = True
            view = _with(view, current)
    for secret in managed:
        if secret in wanted:
            continue
        current = plan_detach(view, secret)
        if current.changed:
            steps.append(("remove", secret, "no longer targeted by the spec"))
            changed = True
            view = _with(view, current)
    if not changed or current is None:
        return [], None
    final = ServiceAccountChange(list(view.get("imagePullSecrets") or []), recorded_names(view), True, "", "")
    patch = change_patch(dict(obj), final)
    if obj.get("kind") != "ServiceAccount":
        path = pod_spec_path(obj.get("kind")) or ()
        nested: dict[str, Any] = {"imagePullSecrets": patch.pop("imagePullSecrets")}
        for key in reversed(path):
            nested = {key: nested}
        patch.update(nested)
    return steps, patch


def _with(view: dict[str, Any], change: ServiceAccountChange) -> dict[str, Any]:
    annotations = dict((view.get("metadata") or {}).get("annotations") or {})
    annotations[ADDED_ANNOTATION] = ",".join(change.recorded)
    return {**view, "metadata": {**(view.get("metadata") or {}), "annotations": annotations},
            "imagePullSecrets": change.image_pull_secrets}


def _plan_entries(obj: Mapping[str, Any], wanted: Mapping[str, str], managed: Mapping[str, str]) -> list[Change]:
    steps, patch = entries_change(obj, wanted, managed)
    if patch is None:
        return []
    kind, ns, name = str(obj.get("kind")), namespace_of(obj), name_of(obj)
    label = name if kind == "ServiceAccount" else f"{kind}/{name}"
    return [Change(kind, action, ns, label, wanted.get(secret) or managed.get(secret, ""), secret=secret,
                   reason=reason, obj=patch) for action, secret, reason in steps]


def plan(desired: Sequence[DesiredCredential], state: ClusterState) -> Plan:
    """Every change that brings the cluster to the specs, grouped by namespace (sorted)."""
    namespaces = {name_of(ns): ns for ns in state.namespaces}
    active = {n for n, ns in namespaces.items() if not is_terminating(ns)}
    skipped = [Skip(n, "namespace is being terminated") for n in sorted(namespaces) if n not in active]
    skipped += missing_namespaces(desired, namespaces)
    targets: dict[str, list[DesiredCredential]] = {n: [] for n in active}
    for ns_name in active:
        labels = metadata(namespaces[ns_name]).get("labels") or {}
        targets[ns_name] = [d for d in desired if d.spec.namespaces.matches(ns_name, labels)]
    spec_names = {d.spec.name for d in desired}
    # Secret names these specs manage: the current ones, plus names they wrote before (still labelled).
    managed: dict[str, str] = {d.spec.secret_name: d.spec.name for d in desired}
    for secret in state.secrets:
        owner = (metadata(secret).get("labels") or {}).get(CREDENTIAL_LABEL)
        if is_managed(dict(secret)) and owner in spec_names:
            managed.setdefault(name_of(secret), str(owner))
    secrets = {(namespace_of(s), name_of(s)): s for s in state.secrets}
    by_namespace: dict[str, list[Mapping[str, Any]]] = {}
    for secret in state.secrets:
        by_namespace.setdefault(namespace_of(secret), []).append(secret)
    changes: list[Change] = []
    for ns_name in sorted(active):
        wanted_here: dict[str, DesiredCredential] = {}
        owners: dict[str, list[str]] = {}
        for d in targets[ns_name]:
            wanted_here.setdefault(d.spec.secret_name, d)
            owners.setdefault(d.spec.secret_name, []).append(d.spec.name)
        for secret_name, d in sorted(wanted_here.items()):
            change = secret_change(d, owners[secret_name], ns_name, secrets.get((ns_name, secret_name)))
            if change is not None:
                changes.append(change)
        for secret in sorted(by_namespace.get(ns_name, ()), key=name_of):
            owner = (metadata(secret).get("labels") or {}).get(CREDENTIAL_LABEL)
            if name_of(secret) not in wanted_here and is_managed(dict(secret)) and owner in spec_names:
                changes.append(Change("Secret", "delete", ns_name, name_of(secret), str(owner),
                                      reason="no longer targeted by the spec"))
    conflicted = {(c.namespace, c.name) for c in changes if c.is_conflict}
    changes += _plan_attachments(targets, state, managed, conflicted, active)
    skipped += missing_service_accounts(targets, state, conflicted)
    order = {"Secret": 0, "ServiceAccount": 1}
    changes.sort(key=lambda c: (c.namespace, order.get(c.kind, 2), c.name, c.secret))
    return Plan(tuple(changes), tuple(skipped))


def _plan_attachments(targets: Mapping[str, Sequence[DesiredCredential]], state: ClusterState,
                      managed: Mapping[str, str], conflicted: set[tuple[str, str]],
                      active: set[str]) -> list[Change]:
    """ServiceAccount and workload entries: add where wanted, remove our own where no longer wanted."""
    changes: list[Change] = []
    scopes: dict[str, RegistryScope] = {}
    for sa in state.service_accounts:
        ns, name = namespace_of(sa), name_of(sa)
        if ns not in active:
            continue
        wanted = {d.spec.secret_name: d.spec.name for d in targets[ns]
                  if d.spec.wants_service_account(name) and (ns, d.spec.secret_name) not in conflicted}
        changes += _plan_entries(sa, wanted, _managed_in(managed, ns, conflicted))
    for workload in state.workloads:
        ns, kind = namespace_of(workload), str(workload.get("kind"))
        if ns not in active:
            continue
        wanted = {}
        for d in targets[ns]:
            w = d.spec.workloads
            if not w.enabled or kind not in w.kinds or (ns, d.spec.secret_name) in conflicted:
                continue
            if w.match_registries:
                scope = scopes.get(d.spec.name)
                if scope is None:
                    scope = scopes[d.spec.name] = RegistryScope(d.registry_keys())
                images = [img for _, spec in find_pod_specs(workload) for img in spec_images(spec)]
                if not scope.covered_images(images):
                    continue
            wanted[d.spec.secret_name] = d.spec.name
        changes += _plan_entries(workload, wanted, _managed_in(managed, ns, conflicted))
    return changes


def _managed_in(managed: Mapping[str, str], ns: str, conflicted: set[tuple[str, str]]) -> dict[str, str]:
    """Names whose entries regcred may remove here: not one whose Secret belongs to somebody else."""
    return {k: v for k, v in managed.items() if (ns, k) not in conflicted}


def payload_from_entries(entries: Sequence[tuple[str, Mapping[str, Any]]]) -> bytes:
    """The `.dockerconfigjson` bytes for entries in spec order: compact Go JSON, like kubectl's."""
    return go_compact_dumps({"auths": {key: dict(obj) for key, obj in entries}}).encode()

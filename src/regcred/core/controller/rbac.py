"""Every API permission the controller uses, once, as data: its ClusterRole and Role are generated from it.

For controller authors: when the controller (or the use cases it calls) sends a new verb to a new resource, add a
row here with the reason, and the generated manifests, `deploy/controller/` and the RBAC tests follow. A verb
nobody sends does not belong here (least privilege); the RBAC tests check that the ServiceAccount can do exactly
these verbs and nothing else.

Scope "cluster" rows go to the ClusterRole, "namespace" rows to the Role in the controller's own namespace.
Rows with a feature ("webhook") are granted only when that feature is deployed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

Scope = Literal["cluster", "namespace"]
CREDENTIALS_GROUP = "regcred.dev"
WORKLOAD_RESOURCES = (("apps", "deployments"), ("apps", "statefulsets"), ("apps", "daemonsets"),
                      ("apps", "replicasets"), ("batch", "jobs"), ("batch", "cronjobs"))


@dataclass(frozen=True)
class Permission:
    """One resource, the verbs sent to it and why; `resource` may name a subresource (`x/status`)."""

    group: str
    resource: str
    verbs: tuple[str, ...]
    why: str
    scope: Scope = "cluster"
    feature: str | None = None


_WATCH = ("list", "watch")
PERMISSIONS: tuple[Permission, ...] = (
    Permission(CREDENTIALS_GROUP, "registrycredentials", ("get", *_WATCH, "patch"),
               "the specs' informer; the finalizer is added and removed with a patch; get re-reads after a 409"),
    Permission(CREDENTIALS_GROUP, "registrycredentials/status", ("patch",),
               "status.observedGeneration, conditions and counts"),
    Permission("", "namespaces", _WATCH, "the namespaces a spec selects, by name or label; Terminating is skipped"),
    Permission("", "serviceaccounts", ("get", *_WATCH, "patch"),
               "imagePullSecrets entries are added and removed with conditional merge patches (never created: "
               "`sa create` is a CLI action); get re-reads after a 409"),
    Permission("", "secrets", ("get", *_WATCH, "create", "patch", "delete"),
               "the managed pull Secrets (by label) and the source Secrets of passwordFrom/fromSecret; delete "
               "only what a spec owns (namespace left, spec deleted)"),
    *(Permission(group, resource, ("get", *_WATCH, "patch"),
                 "pod templates' imagePullSecrets when a spec enables workloads; get re-reads after a 409")
      for group, resource in WORKLOAD_RESOURCES),
    Permission("events.k8s.io", "events", ("create", "patch"),
               "Events on RegistryCredentials (cluster-scoped, so recorded in `default` as client-go does) and on "
               "objects in target namespaces; patch updates a repeated Event's series"),
    Permission("coordination.k8s.io", "leases", ("get", "create", "update"),
               "leader election: one Lease in the controller's namespace, renewed with a conditional PUT",
               scope="namespace"),
    Permission("admissionregistration.k8s.io", "mutatingwebhookconfigurations", ("get", "patch"),
               "the webhook's own configuration: its caBundle is injected and rotated", feature="webhook"),
    Permission("", "secrets", ("get", "create", "patch"),
               "the webhook's serving CA and certificate, shared by every replica: read by each, created by the "
               "first, renewed with a conditional merge patch", scope="namespace", feature="webhook"),
)


def permissions(features: Iterable[str] = ()) -> list[Permission]:
    """The rows granted with these features on."""
    enabled = set(features)
    return [p for p in PERMISSIONS if p.feature is None or p.feature in enabled]


def policy_rules(scope: Scope, features: Iterable[str] = ()) -> list[dict[str, Any]]:
    """RBAC PolicyRules of one scope: rows with the same group and verbs share a rule, in table order."""
    merged: dict[tuple[str, tuple[str, ...]], list[str]] = {}
    for p in permissions(features):
        if p.scope == scope:
            resources = merged.setdefault((p.group, p.verbs), [])
            if p.resource not in resources:
                resources.append(p.resource)
    return [{"apiGroups": [group], "resources": resources, "verbs": list(verbs)}
            for (group, verbs), resources in merged.items()]


def granted(scope: Scope, features: Iterable[str] = ()) -> set[tuple[str, str, str]]:
    """(group, resource, verb) triples of one scope: what the tests compare the live authorizer with."""
    return {(p.group, p.resource, v) for p in permissions(features) if p.scope == scope for v in p.verbs}

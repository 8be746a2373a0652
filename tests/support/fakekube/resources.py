"""The resource types the fake serves, with the per-type quirks the apiserver has.

Why one table: URL routing, discovery documents, error messages (plural vs Kind), DELETE
response shape and field-selector support all hang off these attributes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
NS_VERBS = ("create", "delete", "get", "list", "patch", "update", "watch")
DEFAULT_FIELDS = ("metadata.name", "metadata.namespace")


@dataclass(frozen=True)
class ResourceType:
    """One REST resource (e.g. ``deployments`` in ``apps/v1``)."""

    group: str
    version: str
    plural: str
    kind: str
    singular: str
    namespaced: bool = True
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    verbs: tuple[str, ...] = ALL_VERBS
    storage_hash: str = ""
    # DELETE answers with the object (ServiceAccount, Pod, Namespace) instead of Status{Success}.
    returns_deleted_object: bool = False
    # metadata.generation is maintained (workloads and, since 1.33, pods).
    has_generation: bool = False
    # Path to the embedded PodTemplateSpec, if any (pods: their own spec at ("spec",)).
    template_path: tuple[str, ...] | None = None
    # Extra field selectors beyond metadata.name/metadata.namespace; a custom converter
    # (non-empty tuple) answers "field label not supported: X" for unknown labels.
    extra_fields: tuple[str, ...] = ()
    subresources: tuple[str, ...] = field(default_factory=tuple)
    # PUT must carry metadata.resourceVersion (Leases, custom resources): 422 otherwise.
    requires_rv: bool = False
    # Served from a CustomResourceDefinition: unstructured JSON (sorted keys, list items keep
    # kind/apiVersion), OpenAPI schema pruning/validation, no strategic merge patch.
    custom: bool = False
    schema: dict[str, Any] | None = field(default=None, compare=False, hash=False)
    printer_columns: tuple[dict[str, Any], ...] = field(default=(), compare=False, hash=False)
    # Revision at which a custom resource became served (its watch cache starts there).
    served_rv: int = 0

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def list_kind(self) -> str:
        return self.kind + "List"

    @property
    def key(self) -> str:
        """Unique key: ``serviceaccounts`` or ``deployments.apps``."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    def pod_spec_path(self) -> tuple[str, ...] | None:
        """Path of the PodSpec inside this object, or None."""
        if self.template_path is None:
            return None
        if self.kind == "Pod":
            return ("spec",)
        return (*self.template_path, "spec")


_WORKLOAD_SUBS = ("status", "scale")
EVENT_FIELDS = ("involvedObject.kind", "involvedObject.namespace", "involvedObject.name", "involvedObject.uid",
                "involvedObject.apiVersion", "involvedObject.resourceVersion", "involvedObject.fieldPath", "reason",
                "reportingComponent", "source", "type")
RESOURCES: tuple[ResourceType, ...] = (
    ResourceType(
        "", "v1", "namespaces", "Namespace", "namespace", namespaced=False, short_names=("ns",),
        verbs=NS_VERBS, storage_hash="Q3oi5N2YM8M=", returns_deleted_object=True,
        extra_fields=("status.phase",), subresources=("finalize", "status"),
    ),
    ResourceType(
        "", "v1", "pods", "Pod", "pod", short_names=("po",), categories=("all",),
        storage_hash="xPOwRZ+Yhw8=", returns_deleted_object=True, has_generation=True,
        template_path=(), subresources=("status",),
        extra_fields=(
            "spec.nodeName", "spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName",
            "spec.hostNetwork", "status.phase", "status.podIP", "status.podIPs", "status.nominatedNodeName",
        ),
    ),
    ResourceType("", "v1", "secrets", "Secret", "secret", storage_hash="S6u1pOWzb84=", extra_fields=("type",)),
    ResourceType(
        "", "v1", "serviceaccounts", "ServiceAccount", "serviceaccount", short_names=("sa",),
        storage_hash="pbx9ZvyFpBE=", returns_deleted_object=True, subresources=("token",),
    ),
    ResourceType(
        "", "v1", "podtemplates", "PodTemplate", "podtemplate", storage_hash="LIXB2x4IFpk=",
        template_path=("template",),
    ),
    ResourceType(
        "", "v1", "replicationcontrollers", "ReplicationController", "replicationcontroller",
        short_names=("rc",), categories=("all",), storage_hash="Jond2If31h0=", has_generation=True,
        template_path=("spec", "template"), extra_fields=("status.replicas",), subresources=_WORKLOAD_SUBS,
    ),
    ResourceType(
        "apps", "v1", "deployments", "Deployment", "deployment", short_names=("deploy",),
        categories=("all",), storage_hash="8aSe+NMegvE=", has_generation=True,
        template_path=("spec", "template"), subresources=_WORKLOAD_SUBS,
    ),
    ResourceType(
        "apps", "v1", "statefulsets", "StatefulSet", "statefulset", short_names=("sts",),
        categories=("all",), storage_hash="H+vl74LkKdo=", has_generation=True,
        template_path=("spec", "template"), subresources=_WORKLOAD_SUBS,
    ),
    ResourceType(
        "apps", "v1", "daemonsets", "DaemonSet", "daemonset", short_names=("ds",), categories=("all",),
        storage_hash="dd7pWHUlMKQ=", has_generation=True, template_path=("spec", "template"),
        subresources=("status",),
    ),
    ResourceType(
        "apps", "v1", "replicasets", "ReplicaSet", "replicaset", short_names=("rs",), categories=("all",),
        storage_hash="P1RzHs8/mWQ=", has_generation=True, template_path=("spec", "template"),
        subresources=_WORKLOAD_SUBS,
    ),
    ResourceType(
        "batch", "v1", "jobs", "Job", "job", categories=("all",), storage_hash="mudhfqk/qZY=",
        has_generation=True, template_path=("spec", "template"), extra_fields=("status.successful",),
        subresources=("status",),
    ),
    ResourceType(
        "batch", "v1", "cronjobs", "CronJob", "cronjob", short_names=("cj",), categories=("all",),
        storage_hash="sd5LIXh4Fjs=", has_generation=True,
        template_path=("spec", "jobTemplate", "spec", "template"), subresources=("status",),
    ),
    ResourceType(
        "", "v1", "events", "Event", "event", short_names=("ev",), storage_hash="r2yiGXH7wu8=",
        extra_fields=EVENT_FIELDS,
    ),
    ResourceType(  # the same stored objects as core/v1 events (events.py converts)
        "events.k8s.io", "v1", "events", "Event", "event", short_names=("ev",), storage_hash="r2yiGXH7wu8=",
        extra_fields=tuple(f.replace("involvedObject", "regarding").replace("reportingComponent",
                                                                             "reportingController")
                           .replace("source", "deprecatedSource") for f in EVENT_FIELDS),
    ),
    ResourceType(
        "coordination.k8s.io", "v1", "leases", "Lease", "lease", storage_hash="gqkMMb/YqFM=", requires_rv=True,
    ),
    ResourceType(
        "admissionregistration.k8s.io", "v1", "mutatingwebhookconfigurations", "MutatingWebhookConfiguration",
        "mutatingwebhookconfiguration", namespaced=False, categories=("api-extensions",), has_generation=True,
        storage_hash="Sqi0GUgDaX0=",
        verbs=ALL_VERBS,
    ),
    ResourceType(
        "apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition",
        "customresourcedefinition", namespaced=False, short_names=("crd", "crds"), categories=("api-extensions",),
        storage_hash="jfWCUB31mvA=", has_generation=True, subresources=("status",),
    ),
)

BY_PATH: dict[tuple[str, str, str], ResourceType] = {(r.group, r.version, r.plural): r for r in RESOURCES}
BY_KIND: dict[tuple[str, str], ResourceType] = {(r.api_version, r.kind): r for r in RESOURCES}
BY_KEY: dict[str, ResourceType] = {r.key: r for r in RESOURCES}
GROUP_VERSIONS: dict[str, tuple[str, ...]] = {"": ("v1",), "apps": ("v1",), "batch": ("v1",),
                                              "coordination.k8s.io": ("v1",), "apiextensions.k8s.io": ("v1",),
                                              "events.k8s.io": ("v1",), "admissionregistration.k8s.io": ("v1",)}
# Groups served only for the self-review endpoints (no stored resources).
REVIEW_GROUPS = {
    "authentication.k8s.io": ("selfsubjectreviews", "SelfSubjectReview"),
    "authorization.k8s.io": ("selfsubjectaccessreviews", "SelfSubjectAccessReview"),
}


def lookup(api_version: str, kind: str) -> ResourceType:
    """Resource type for an apiVersion/kind pair (KeyError when not served)."""
    return BY_KIND[(api_version, kind)]

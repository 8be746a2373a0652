"""The resource kinds regcred reads and writes, and where each lives in the API.

A fixed table (instead of discovery or lightkube's typed models) keeps objects as the server sent them:
plain dicts, so no field the client does not know about is ever dropped on a write.
"""

from __future__ import annotations

from dataclasses import dataclass

from regcred.core.errors import InputError


@dataclass(frozen=True, slots=True)
class ResourceType:
    """One API resource: its kind, group/version, plural and scope."""

    kind: str
    api_version: str
    plural: str
    namespaced: bool = True

    @property
    def group(self) -> str:
        return self.api_version.rpartition("/")[0]

    @property
    def qualified(self) -> str:
        """The resource as RBAC and error messages name it: `deployments.apps`, `secrets`."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    def collection_path(self, namespace: str | None) -> str:
        """URL path of the collection; namespace None means cluster-wide (or a cluster-scoped kind)."""
        base = f"/api/{self.api_version}" if not self.group else f"/apis/{self.api_version}"
        if self.namespaced and namespace is not None:
            return f"{base}/namespaces/{namespace}/{self.plural}"
        return f"{base}/{self.plural}"

    def item_path(self, name: str, namespace: str | None) -> str:
        return f"{self.collection_path(namespace)}/{name}"


RESOURCES: dict[str, ResourceType] = {
    rt.kind: rt
    for rt in (
        ResourceType("Namespace", "v1", "namespaces", namespaced=False),
        ResourceType("Secret", "v1", "secrets"),
        ResourceType("ServiceAccount", "v1", "serviceaccounts"),
        ResourceType("Pod", "v1", "pods"),
        ResourceType("PodTemplate", "v1", "podtemplates"),
        ResourceType("ReplicationController", "v1", "replicationcontrollers"),
        ResourceType("Deployment", "apps/v1", "deployments"),
        ResourceType("StatefulSet", "apps/v1", "statefulsets"),
        ResourceType("DaemonSet", "apps/v1", "daemonsets"),
        ResourceType("ReplicaSet", "apps/v1", "replicasets"),
        ResourceType("Job", "batch/v1", "jobs"),
        ResourceType("CronJob", "batch/v1", "cronjobs"),
        ResourceType("Lease", "coordination.k8s.io/v1", "leases"),
        ResourceType("RegistryCredential", "regcred.dev/v1alpha1", "registrycredentials", namespaced=False),
        ResourceType("Event", "events.k8s.io/v1", "events"),
        ResourceType("MutatingWebhookConfiguration", "admissionregistration.k8s.io/v1",
                     "mutatingwebhookconfigurations", namespaced=False),
    )
}

# The kinds that carry a pod spec (directly or in a template), in the order a user reads them.
WORKLOAD_KINDS: tuple[str, ...] = (
    "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob",
    "ReplicationController", "PodTemplate", "Pod",
)


def resource_type(kind: str) -> ResourceType:
    """The ResourceType of a kind, accepting any case and the plural (`deployments`, `Deployment`)."""
    wanted = kind.lower()
    for rt in RESOURCES.values():
        if wanted in (rt.kind.lower(), rt.plural, rt.qualified):
            return rt

    raise InputError(
        f"unknown kind {kind!r}", hint=f"use one of {', '.join((*WORKLOAD_KINDS, 'Secret', 'ServiceAccount'))}"
    )

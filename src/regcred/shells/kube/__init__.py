"""The Kubernetes API shell: connect, read and write objects as dicts, errors as one clear line.

Only cluster commands import this package (it pulls in httpx and lightkube); offline commands never do.
"""

from regcred.shells.kube.client import FIELD_MANAGER, ClusterConfig, KubeApi, TokenBucket, connect
from regcred.shells.kube.errors import (
    KubeApiError,
    KubeConfigError,
    KubeConflict,
    KubeForbidden,
    KubeInvalid,
    KubeNotFound,
    KubeUnauthorized,
    KubeUnreachable,
    NamespaceGone,
    NamespaceTerminating,
)
from regcred.shells.kube.resources import RESOURCES, WORKLOAD_KINDS, ResourceType, resource_type

__all__ = [
    "FIELD_MANAGER", "RESOURCES", "WORKLOAD_KINDS", "ClusterConfig", "KubeApi", "KubeApiError", "KubeConfigError",
    "KubeConflict", "KubeForbidden", "KubeInvalid", "KubeNotFound", "KubeUnauthorized", "KubeUnreachable",
    "NamespaceGone", "NamespaceTerminating", "ResourceType", "TokenBucket", "connect",
    "resource_type",
]

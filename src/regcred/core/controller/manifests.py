"""The controller's deployment as data: CRD, Namespace, RBAC, Deployment and PodDisruptionBudget (and, with the
webhook, its Service and MutatingWebhookConfiguration).

Pure functions: `regcred controller manifests` prints them and `deploy/controller/` (a kustomize base) holds the
same objects, one file each, checked by a test. The RBAC rules come from `rbac.PERMISSIONS`, the CRD from the
spec's schema (`core.spec.schema.crd`), so neither can drift. The pod runs as the image's non-root user with a
read-only root filesystem, no privilege escalation, no capabilities and the runtime's seccomp profile, which is
what the `restricted` Pod Security Standard asks; its namespace enforces that standard.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from regcred.core.controller.rbac import policy_rules
from regcred.core.spec.schema import crd
from regcred.core.webhook.patch import OPT_OUT_LABEL, OPT_OUT_VALUE

NAME = "regcred-controller"
DEFAULT_NAMESPACE = "regcred-system"
IMAGE_REPOSITORY = "ghcr.io/regcred/regcred"
DEFAULT_REPLICAS = 2
METRICS_PORT = 8080
PROBE_PORT = 8081
WEBHOOK_PORT = 9443
WEBHOOK_SERVICE = "regcred-webhook"  # also the MutatingWebhookConfiguration's name
WEBHOOK_NAME = "pull-secrets.regcred.dev"
WEBHOOK_PATH = "/mutate-pods"
WEBHOOK_TIMEOUT_SECONDS = 3  # the mutator's own deadline for a Secret created on admission is 2 s
RUN_AS = 65532  # the image's default user (docs/development/image.md)
RBAC_GROUP = "rbac.authorization.k8s.io"
LABELS = {"app.kubernetes.io/name": "regcred", "app.kubernetes.io/component": "controller",
          "app.kubernetes.io/part-of": "regcred"}
SELECTOR = {"app.kubernetes.io/name": "regcred", "app.kubernetes.io/component": "controller"}


def _meta(name: str, namespace: str | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if namespace is not None:
        meta["namespace"] = namespace
    meta["labels"] = dict(LABELS)
    return meta


def controller_args(webhook: bool = False) -> list[str]:
    """The container's arguments after the image's entrypoint (`regcred`)."""
    return ["controller", "--leader-elect", "--leader-election-namespace=$(POD_NAMESPACE)",
            f"--metrics-bind-address=:{METRICS_PORT}", f"--health-probe-bind-address=:{PROBE_PORT}",
            *(["--webhook", f"--webhook-bind-address=:{WEBHOOK_PORT}"] if webhook else []), "--log-format=json"]


def container_security_context() -> dict[str, Any]:
    return {
        "runAsNonRoot": True,
        "runAsUser": RUN_AS,
        "runAsGroup": RUN_AS,
        "readOnlyRootFilesystem": True,
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def _probe(path: str, period: int, failures: int) -> dict[str, Any]:
    return {"httpGet": {"path": path, "port": "health"}, "periodSeconds": period, "timeoutSeconds": 2,
            "failureThreshold": failures}


def deployment(*, namespace: str, image: str, replicas: int, webhook: bool = False) -> dict[str, Any]:
    """Replicas spread across nodes; one leads (Lease), the others wait warm with synced caches (and all serve
    the webhook: its certificate is materialised under /tmp, an emptyDir)."""
    env = [{"name": var, "valueFrom": {"fieldRef": {"fieldPath": path}}}
           for var, path in (("POD_NAMESPACE", "metadata.namespace"), ("POD_NAME", "metadata.name"))]
    container = {
        "name": "controller",
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "args": controller_args(webhook),
        "env": env,
        "ports": [{"name": "metrics", "containerPort": METRICS_PORT, "protocol": "TCP"},
                  {"name": "health", "containerPort": PROBE_PORT, "protocol": "TCP"},
                  *([{"name": "webhook", "containerPort": WEBHOOK_PORT, "protocol": "TCP"}] if webhook else [])],
        "livenessProbe": _probe("/healthz", 10, 3),
        "readinessProbe": _probe("/readyz", 5, 2),
        "resources": {"requests": {"cpu": "50m", "memory": "96Mi"}, "limits": {"cpu": "1", "memory": "320Mi"}},
        "securityContext": container_security_context(),
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
    }
    anti_affinity = {"weight": 100, "podAffinityTerm": {"labelSelector": {"matchLabels": dict(SELECTOR)},
                                                        "topologyKey": "kubernetes.io/hostname"}}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _meta(NAME, namespace),
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": dict(SELECTOR)},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
            "template": {
                "metadata": {"labels": dict(LABELS)},
                "spec": {
                    "serviceAccountName": NAME,
                    "enableServiceLinks": False,
                    "securityContext": {"runAsNonRoot": True, "runAsUser": RUN_AS, "runAsGroup": RUN_AS,
                                        "seccompProfile": {"type": "RuntimeDefault"}},
                    "nodeSelector": {"kubernetes.io/os": "linux"},
                    "affinity": {"podAntiAffinity": {
                        "preferredDuringSchedulingIgnoredDuringExecution": [anti_affinity]}},
                    "terminationGracePeriodSeconds": 30,
                    "containers": [container],
                    "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": "16Mi"}}],
                },
            },
        },
    }


def _binding(kind: str, namespace: str, role_namespace: str | None) -> dict[str, Any]:
    return {
        "apiVersion": f"{RBAC_GROUP}/v1",
        "kind": f"{kind}Binding",
        "metadata": _meta(NAME, role_namespace),
        "roleRef": {"apiGroup": RBAC_GROUP, "kind": kind, "name": NAME},
        "subjects": [{"kind": "ServiceAccount", "name": NAME, "namespace": namespace}],
    }


def rbac(namespace: str, features: Iterable[str] = ()) -> list[dict[str, Any]]:
    """ClusterRole + binding (cluster-wide rows) and Role + binding in the controller's namespace."""
    features = tuple(features)
    return [
        {"apiVersion": f"{RBAC_GROUP}/v1", "kind": "ClusterRole", "metadata": _meta(NAME),
         "rules": policy_rules("cluster", features)},
        _binding("ClusterRole", namespace, None),
        {"apiVersion": f"{RBAC_GROUP}/v1", "kind": "Role", "metadata": _meta(NAME, namespace),
         "rules": policy_rules("namespace", features)},
        _binding("Role", namespace, namespace),
    ]


def webhook_service(namespace: str) -> dict[str, Any]:
    """Port 443 of the Service to the replicas' webhook port (every ready replica serves)."""
    return {"apiVersion": "v1", "kind": "Service", "metadata": _meta(WEBHOOK_SERVICE, namespace),
            "spec": {"selector": dict(SELECTOR), "ports": [{"name": "webhook", "port": 443, "targetPort": "webhook",
                                                             "protocol": "TCP"}]}}


def webhook_configuration(namespace: str) -> dict[str, Any]:
    """Pod CREATE only, never blocking: Ignore on failure, a short timeout, kube-system, the controller's own
    namespace and opted-out namespaces and Pods excluded; the caBundle is injected by the controller."""
    def opt_out() -> dict[str, Any]:
        return {"key": OPT_OUT_LABEL, "operator": "NotIn", "values": [OPT_OUT_VALUE]}

    excluded = sorted({"kube-system", namespace})
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "MutatingWebhookConfiguration",
        "metadata": _meta(WEBHOOK_SERVICE),
        "webhooks": [{
            "name": WEBHOOK_NAME,
            "admissionReviewVersions": ["v1"],
            "clientConfig": {"service": {"name": WEBHOOK_SERVICE, "namespace": namespace, "path": WEBHOOK_PATH,
                                         "port": 443}},
            "rules": [{"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"],
                       "scope": "Namespaced"}],
            "failurePolicy": "Ignore",
            "matchPolicy": "Equivalent",
            "sideEffects": "NoneOnDryRun",
            "timeoutSeconds": WEBHOOK_TIMEOUT_SECONDS,
            "reinvocationPolicy": "IfNeeded",
            "namespaceSelector": {"matchExpressions": [
                {"key": "kubernetes.io/metadata.name", "operator": "NotIn", "values": excluded}, opt_out()]},
            "objectSelector": {"matchExpressions": [opt_out()]},
        }],
    }


def controller_manifests(*, namespace: str = DEFAULT_NAMESPACE, image: str, replicas: int = DEFAULT_REPLICAS,
                         features: Iterable[str] = ()) -> list[dict[str, Any]]:
    """Every object, in the order `kubectl apply` needs them (CRD and Namespace first).

    With a single replica there is no PodDisruptionBudget: `minAvailable: 1` would block every node drain.
    With the "webhook" feature: its RBAC rows, the Deployment's flag and port, the Service and the registration
    (last: the registration only points at a Service whose replicas run).
    """
    features = tuple(features)
    webhook = "webhook" in features
    ns_meta = _meta(namespace)
    ns_meta["labels"].update({"pod-security.kubernetes.io/enforce": "restricted",
                              "pod-security.kubernetes.io/enforce-version": "latest"})
    ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": ns_meta}
    pdb = {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": _meta(NAME, namespace),
           "spec": {"minAvailable": 1, "selector": {"matchLabels": dict(SELECTOR)}}}
    return [
        crd(),
        ns,
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": _meta(NAME, namespace)},
        *rbac(namespace, features),
        deployment(namespace=namespace, image=image, replicas=replicas, webhook=webhook),
        *([pdb] if replicas > 1 else []),
        *([webhook_service(namespace), webhook_configuration(namespace)] if webhook else []),
    ]


def file_name(obj: dict[str, Any]) -> str:
    """The file of one object in the kustomize base: `deployment.yaml`, `clusterrolebinding.yaml`, ..."""
    return "crd.yaml" if obj["kind"] == "CustomResourceDefinition" else f"{obj['kind'].lower()}.yaml"


def kustomization(objects: list[dict[str, Any]]) -> dict[str, Any]:
    """The base's kustomization.yaml: its resources in apply order, nothing transformed."""
    return {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
            "resources": [file_name(o) for o in objects]}

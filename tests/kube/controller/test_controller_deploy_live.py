"""The controller's manifests against an API server: server-side dry-run, Pod Security, RBAC as its ServiceAccount.

Both tiers (`kube`: the fake API, and a real kube-apiserver with KUBEBUILDER_ASSETS). The fake serves no
RBAC, policy or apiextensions objects; those dry-runs run on the real apiserver only (skipped on the fake, with
that reason). The RBAC checks run on both: the fake's authorizer and the real RBAC authorizer must agree.
"""

from __future__ import annotations

from typing import Any

import pytest

from regcred.core.controller import rbac
from regcred.core.controller.manifests import NAME, controller_manifests, deployment
from tests.support.kube import KubeBackend
from tests.support.saaccess import can, service_account_access

IMAGE = "registry.example/regcred:test"
# kind -> (collection path, namespaced); the real apiserver's resources (the fake's table lacks several).
PATHS = {
    "CustomResourceDefinition": ("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", False),
    "Namespace": ("/api/v1/namespaces", False),
    "ServiceAccount": ("/api/v1/namespaces/{ns}/serviceaccounts", True),
    "ClusterRole": ("/apis/rbac.authorization.k8s.io/v1/clusterroles", False),
    "ClusterRoleBinding": ("/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", False),
    "Role": ("/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/roles", True),
    "RoleBinding": ("/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/rolebindings", True),
    "Deployment": ("/apis/apps/v1/namespaces/{ns}/deployments", True),
    "PodDisruptionBudget": ("/apis/policy/v1/namespaces/{ns}/poddisruptionbudgets", True),
    "Pod": ("/api/v1/namespaces/{ns}/pods", True),
    "Service": ("/api/v1/namespaces/{ns}/services", True),
    "MutatingWebhookConfiguration": ("/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations", False),
}
FAKE_SERVES = {"Namespace", "ServiceAccount", "Deployment", "Pod", "MutatingWebhookConfiguration"}


def dry_run_create(kube: KubeBackend, obj: dict[str, Any]) -> Any:
    path, namespaced = PATHS[obj["kind"]]
    if namespaced:
        path = path.format(ns=obj["metadata"]["namespace"])
    return kube.request("POST", path, json=obj, params={"dryRun": "All"})


@pytest.mark.parametrize("features", [(), ("webhook",)])
def test_every_manifest_passes_a_server_side_dry_run(kube: KubeBackend, features: tuple[str, ...]) -> None:
    ns = kube.unique_ns("regcred-system")
    objects = controller_manifests(namespace=ns, image=IMAGE, features=features)
    namespace, rest = objects[1], objects[2:]
    assert dry_run_create(kube, namespace).status_code == 201
    kube.create(namespace)  # namespaced objects need their namespace to exist, even for a dry run
    unserved = []
    for obj in [objects[0], *rest]:
        if kube.name == "fake" and obj["kind"] not in FAKE_SERVES:
            unserved.append(obj["kind"])
            continue
        answer = dry_run_create(kube, obj)
        if answer.status_code == 409 and obj["kind"] == "CustomResourceDefinition":  # installed by another test
            continue
        assert answer.status_code == 201, f"{obj['kind']}: {answer.text}"
        assert answer.json()["metadata"]["name"] == obj["metadata"]["name"]
    assert kube.get("apps/v1", "Deployment", NAME, ns) is None, "a dry run stores nothing"
    if unserved:
        pytest.skip(f"the fake API serves no {', '.join(unserved)}: dry-run on the envtest tier only")


@pytest.mark.parametrize("webhook", [False, True])
def test_the_pod_is_admitted_by_the_restricted_pod_security_standard(kube: KubeBackend, webhook: bool) -> None:
    """The namespace enforces `restricted`; the apiserver's PodSecurity admission must accept the pod (and
    reject a pod without the hardening, so this test can fail)."""
    if kube.name == "fake":
        pytest.skip("the fake API has no PodSecurity admission: envtest tier only")
    ns = kube.unique_ns("regcred-psa")
    namespace, service_account = controller_manifests(namespace=ns, image=IMAGE)[1:3]
    kube.create(namespace)
    kube.create(service_account)
    template = deployment(namespace=ns, image=IMAGE, replicas=2, webhook=webhook)["spec"]["template"]
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "controller", "namespace": ns, **template["metadata"]},
           "spec": template["spec"]}
    answer = dry_run_create(kube, pod)
    assert answer.status_code == 201, answer.text
    del pod["spec"]["containers"][0]["securityContext"]["allowPrivilegeEscalation"]
    answer = dry_run_create(kube, pod)
    assert answer.status_code == 403 and "restricted" in answer.text, answer.text


# Things the controller never does: its ServiceAccount must not be able to.
DENIED = [
    ("update", "", "secrets", ""), ("deletecollection", "", "secrets", ""), ("create", "", "serviceaccounts", ""),
    ("delete", "", "serviceaccounts", ""), ("get", "", "namespaces", ""), ("patch", "", "namespaces", ""),
    ("list", "", "pods", ""), ("get", "", "configmaps", ""), ("create", "regcred.dev", "registrycredentials", ""),
    ("delete", "regcred.dev", "registrycredentials", ""), ("update", "regcred.dev", "registrycredentials", "status"),
    ("delete", "apps", "deployments", ""), ("create", "apps", "deployments", ""),
    ("list", "rbac.authorization.k8s.io", "clusterroles", ""), ("escalate", "rbac.authorization.k8s.io", "roles", ""),
    ("create", "", "serviceaccounts", "token"), ("delete", "events.k8s.io", "events", ""),
    ("get", "admissionregistration.k8s.io", "mutatingwebhookconfigurations", ""),
]


def controller_access(kube: KubeBackend, rules: dict[str, list[dict[str, Any]]] | None = None) -> Any:
    ns = kube.unique_ns("regcred-system")
    objects = {o["kind"]: o for o in controller_manifests(namespace=ns, image=IMAGE)}
    rules = rules or {"cluster": objects["ClusterRole"]["rules"], "namespace": objects["Role"]["rules"]}
    return service_account_access(kube, ns, NAME, cluster_rules=rules["cluster"], namespace_rules=rules["namespace"])


def test_the_service_account_can_do_exactly_the_tables_verbs(kube: KubeBackend) -> None:
    access = controller_access(kube)
    other = kube.unique_ns("target")
    kube.create_namespace(other)
    for group, resource, verb in sorted(rbac.granted("cluster")):
        base, _, sub = resource.partition("/")
        assert can(kube, access, verb, group, base, subresource=sub, namespace=other if base not in (
            "namespaces", "registrycredentials") else ""), (verb, resource)
    for group, resource, verb in sorted(rbac.granted("namespace")):
        assert can(kube, access, verb, group, resource, namespace=access.namespace), (verb, resource)
        assert not can(kube, access, verb, group, resource, namespace=other), f"{verb} {resource} outside its ns"
    for verb, group, resource, sub in DENIED:
        assert not can(kube, access, verb, group, resource, subresource=sub, namespace=other), (verb, resource, sub)


def test_requests_as_the_service_account_are_allowed_and_denied_by_the_api_server(kube: KubeBackend) -> None:
    access = controller_access(kube)
    other = kube.unique_ns("target")
    kube.create_namespace(other)
    lease = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": "regcred-controller"},
             "spec": {"holderIdentity": "pod-a", "leaseDurationSeconds": 15}}
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "probe"}, "type": "Opaque"}
    asks = [
        ("GET", "/api/v1/secrets", None, 200),
        ("GET", "/api/v1/namespaces", None, 200),
        ("POST", f"/api/v1/namespaces/{other}/secrets", secret, 201),
        ("GET", f"/api/v1/namespaces/{other}/configmaps", None, 403),
        ("DELETE", f"/api/v1/namespaces/{other}", None, 403),
        ("GET", f"/api/v1/namespaces/{other}/pods", None, 403),
    ]
    if kube.name != "fake":  # Leases are in the fake only on the fakeapi branch; the SSAR test covers both
        asks += [("POST", f"/apis/coordination.k8s.io/v1/namespaces/{access.namespace}/leases", lease, 201),
                 ("POST", f"/apis/coordination.k8s.io/v1/namespaces/{other}/leases", lease, 403)]
    for method, path, body, code in asks:
        answer = kube.request(method, path, json=body, token=access.token)
        assert answer.status_code == code, f"{method} {path}: {answer.status_code} {answer.text[:200]}"


def test_removing_one_verb_from_the_table_takes_it_away(kube: KubeBackend) -> None:
    """What the later `Degraded naming the verb` scenario builds on: the same helper with one verb less."""
    objects = {o["kind"]: o for o in controller_manifests(image=IMAGE)}
    cluster = [dict(r, verbs=[v for v in r["verbs"] if not (r["resources"] == ["secrets"] and v == "delete")])
               for r in objects["ClusterRole"]["rules"]]
    access = controller_access(kube, {"cluster": cluster, "namespace": objects["Role"]["rules"]})
    assert can(kube, access, "patch", "", "secrets", namespace="default")
    assert not can(kube, access, "delete", "", "secrets", namespace="default")

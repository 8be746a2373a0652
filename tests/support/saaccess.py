"""A kubeconfig for a ServiceAccount bound to given RBAC rules, on the fake API and on a real apiserver.

Why: the controller's RBAC scenarios ("works with exactly the generated ClusterRole; one verb removed ->
Degraded naming that verb") must run the controller *as its ServiceAccount*, with exactly the rules the
manifests grant. `service_account_access` creates the ServiceAccount, binds the rules (the fake: `FakeKube.grant`;
a real apiserver: a ClusterRole/ClusterRoleBinding and a Role/RoleBinding, removed at the backend's cleanup),
asks the TokenRequest API for a token and writes a kubeconfig. `can` asks the live authorizer
(SelfSubjectAccessReview) whether that identity may do one thing.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.fakekube import Rule
from tests.support.kube import FakeBackend, KubeBackend, write_kubeconfig

RBAC = "/apis/rbac.authorization.k8s.io/v1"
SSAR = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"


@dataclass(frozen=True)
class ServiceAccountAccess:
    namespace: str
    name: str
    token: str
    kubeconfig: Path

    @property
    def username(self) -> str:
        return f"system:serviceaccount:{self.namespace}:{self.name}"


def service_account_access(kube: KubeBackend, namespace: str, name: str, *,
                           cluster_rules: list[dict[str, Any]],
                           namespace_rules: list[dict[str, Any]] | None = None) -> ServiceAccountAccess:
    """Create `namespace`/`name` (a ServiceAccount) with exactly these PolicyRules; namespace_rules apply in
    `namespace` only (a Role), cluster_rules everywhere (a ClusterRole)."""
    if kube.get("v1", "Namespace", namespace) is None:
        kube.create_namespace(namespace)
    kube.create({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name, "namespace": namespace}})
    namespace_rules = namespace_rules or []
    subject = {"kind": "ServiceAccount", "name": name, "namespace": namespace}
    if isinstance(kube, FakeBackend):
        rules = [Rule.from_policy(r) for r in cluster_rules]
        rules += [Rule.from_policy({**r, "namespaces": [namespace]}) for r in namespace_rules]
        kube.server.grant(f"system:serviceaccount:{namespace}:{name}", rules)
    else:
        role = f"{name}-{secrets.token_hex(3)}"
        _bind(kube, f"{RBAC}/clusterroles", f"{RBAC}/clusterrolebindings", "ClusterRole", role, cluster_rules, subject)
        if namespace_rules:
            _bind(kube, f"{RBAC}/namespaces/{namespace}/roles", f"{RBAC}/namespaces/{namespace}/rolebindings",
                  "Role", role, namespace_rules, subject)
    answer = kube.request("POST", f"/api/v1/namespaces/{namespace}/serviceaccounts/{name}/token",
                          json={"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                                "spec": {"expirationSeconds": 3600}})
    assert answer.status_code == 201, answer.text
    token = answer.json()["status"]["token"]
    path = write_kubeconfig(kube.workdir / f"kubeconfig-sa-{namespace}-{name}", kube.url, token, kube.ca_data,
                            namespace)
    access = ServiceAccountAccess(namespace, name, token, path)
    _wait_visible(kube, access, cluster_rules)
    return access


def _bind(kube: KubeBackend, roles: str, bindings: str, kind: str, role: str, rules: list[dict[str, Any]],
          subject: dict[str, str]) -> None:
    """Create a (Cluster)Role and its binding; the backend's cleanup deletes both."""
    group = "rbac.authorization.k8s.io"
    for collection, body in ((roles, {"kind": kind, "metadata": {"name": role}, "rules": rules}),
                             (bindings, {"kind": f"{kind}Binding", "metadata": {"name": role}, "subjects": [subject],
                                         "roleRef": {"apiGroup": group, "kind": kind, "name": role}})):
        answer = kube.request("POST", collection, json={"apiVersion": f"{group}/v1", **body})
        assert answer.status_code == 201, answer.text
        kube.rbac_objects.append(f"{collection}/{role}")  # type: ignore[attr-defined]


def _wait_visible(kube: KubeBackend, access: ServiceAccountAccess, rules: list[dict[str, Any]],
                  timeout: float = 10) -> None:
    """A real apiserver authorizes from an informer cache: wait until the first rule is in force."""
    if not rules:
        return
    first = rules[0]
    resource, _, sub = first["resources"][0].partition("/")
    deadline = time.monotonic() + timeout
    while not can(kube, access, first["verbs"][0], first["apiGroups"][0], resource, subresource=sub):
        assert time.monotonic() < deadline, f"RBAC for {access.username} not in force after {timeout}s"
        time.sleep(0.05)


def can(kube: KubeBackend, access: ServiceAccountAccess, verb: str, group: str, resource: str, *,
        namespace: str = "", subresource: str = "", name: str = "") -> bool:
    """The live authorizer's answer (SelfSubjectAccessReview, sent with the ServiceAccount's token)."""
    attrs = {"verb": verb, "group": group, "resource": resource, "subresource": subresource,
             "namespace": namespace, "name": name}
    answer = kube.request("POST", SSAR, token=access.token, json={
        "apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
        "spec": {"resourceAttributes": attrs}})
    assert answer.status_code == 201, answer.text
    return bool(answer.json().get("status", {}).get("allowed"))

"""The controller as its ServiceAccount, bound to exactly the generated RBAC rules (core/controller/rbac.py).

Through the running controller (`manager.run` in a thread, leader election on, so the Role for its Lease is
used too), on the fake API (its authorizer) and on a real kube-apiserver (RBAC objects, TokenRequest token). With
every rule it converges; with one verb taken away the spec says Degraded and names that verb and resource, and
the controller keeps running and retrying (no crash loop).
"""

from __future__ import annotations

from typing import Any

import pytest

from regcred.core.controller import rbac
from tests.support.controllerrun import (
    Specs,
    condition,
    controller,
    events_about,
    namespaces,
    pulls,
    spec_doc,
    wait_until,
)
from tests.support.kube import KubeBackend
from tests.support.saaccess import ServiceAccountAccess, service_account_access


def rules_without(missing: tuple[str, str] | None) -> list[dict[str, Any]]:
    """The generated ClusterRole's rules; with `missing` (verb, resource), one row per permission without it."""
    if missing is None:
        return rbac.policy_rules("cluster")
    verb, resource = missing
    assert any(p.resource == resource and verb in p.verbs for p in rbac.permissions()), "not granted anyway"
    return [{"apiGroups": [p.group], "resources": [p.resource],
             "verbs": [v for v in p.verbs if (v, p.resource) != missing]}
            for p in rbac.permissions() if p.scope == "cluster"]


def as_controller(kube: KubeBackend, missing: tuple[str, str] | None = None) -> ServiceAccountAccess:
    return service_account_access(kube, kube.unique_ns("regcred-system"), "regcred-controller",
                                  cluster_rules=rules_without(missing),
                                  namespace_rules=rbac.policy_rules("namespace"))


def test_exactly_the_generated_rules_are_enough(kube: KubeBackend, specs: Specs) -> None:
    access = as_controller(kube)
    targets = namespaces(kube, "rbac", 2)
    name = kube.unique_ns("spec")
    with controller(kube, kubeconfig=access.kubeconfig, leader_elect=True,
                    leader_election_namespace=access.namespace):
        specs.create(spec_doc(targets, name=name))
        wait_until(lambda: all(name in pulls(kube, ns) and kube.get("v1", "Secret", name, ns) for ns in targets),
                   "converged as the ServiceAccount")
        ready = wait_until(lambda: condition(kube, name, "Ready").get("status") == "True" and
                           condition(kube, name, "Ready"), "Ready")
        assert condition(kube, name, "Degraded")["status"] == "False", ready
    if kube.supports_hooks:  # it really ran as the ServiceAccount, and was never refused
        mine = [r for r in kube.request_log if r.user == access.username]
        assert mine and not [r for r in mine if r.status == 403], [(r.verb, r.resource) for r in mine
                                                                   if r.status == 403]


@pytest.mark.parametrize("missing", [("patch", "serviceaccounts"), ("create", "secrets")],
                         ids=lambda m: f"no-{m[0]}-{m[1]}")
def test_a_missing_verb_is_named_in_degraded_and_the_controller_keeps_running(
        kube: KubeBackend, specs: Specs, missing: tuple[str, str]) -> None:
    access = as_controller(kube, missing)
    target = namespaces(kube, "rbac", 1)[0]
    name = kube.unique_ns("spec")
    verb, resource = missing
    with controller(kube, kubeconfig=access.kubeconfig, leader_elect=True,
                    leader_election_namespace=access.namespace) as running:
        specs.create(spec_doc([target], name=name))
        degraded = wait_until(lambda: condition(kube, name, "Degraded").get("reason") == "Forbidden" and
                              condition(kube, name, "Degraded"), "Degraded: Forbidden")
        assert degraded["status"] == "True"
        assert f"cannot {verb} {resource} in namespace {target}" in degraded["message"], degraded
        assert condition(kube, name, "Ready")["status"] == "False"
        assert name not in pulls(kube, target)  # without its Secret, no entry may name it either
        if missing == ("create", "secrets"):
            assert kube.get("v1", "Secret", name, target) is None
        notes = wait_until(lambda: [e["note"] for e in events_about(kube, name) if e["reason"] == "Forbidden"],
                           "a Forbidden Event")
        assert f"cannot {verb} {resource}" in notes[0], notes
        if kube.supports_hooks:  # it does not give up: the refused write is retried (with backoff)
            wait_until(lambda: kube.request_log.count(status=403, namespace=target) >= 3, "retries")
        assert running.thread.is_alive() and not running.codes, "the controller stopped"

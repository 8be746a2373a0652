"""`sa attach/detach/create` against an API server: the fake, and envtest when available.

Every test runs the real `regcred` process against `kube.kubeconfig` (other writers' entries kept, fan-out,
dry runs, RBAC, stuck Pods restarted).
"""


import json
from typing import Any

import pytest

from regcred.core.cluster.serviceaccounts import ADDED_ANNOTATION
from tests.kube.cluster.clihelpers import need_fake, pull_names, writes
from tests.support.cli import assert_clean_error, ok_json, run_regcred
from tests.support.cli import run_regcred_kube as regcred
from tests.support.clusterobjects import make_sa, make_secret, namespace

# -- sa attach / detach ---------------------------------------------------------------------------------------

def test_attach_and_detach_keep_other_writers_entries(kube: Any) -> None:
    ns = namespace(kube, "sa1")
    make_sa(kube, ns, pull=["theirs"])
    make_secret(kube, ns)
    out = ok_json(regcred(kube, "sa", "attach", "pull", "-n", ns, "-o", "json"))
    assert out["results"] == [{"namespace": ns, "name": "default", "status": "attached", "message": "added"}]
    assert pull_names(kube, ns) == ["theirs", "pull"]
    sa = kube.get("v1", "ServiceAccount", "default", ns)
    assert sa["metadata"]["annotations"][ADDED_ANNOTATION] == "pull"
    if kube.supports_hooks:
        kube.request_log.clear()
    again = ok_json(regcred(kube, "sa", "attach", "pull", "-n", ns, "-o", "json"))
    assert again["results"][0]["status"] == "unchanged"
    if kube.supports_hooks:
        assert writes(kube) == []
    gone = ok_json(regcred(kube, "sa", "detach", "pull", "-n", ns, "-o", "json"))
    assert gone["results"][0]["status"] == "detached"
    assert pull_names(kube, ns) == ["theirs"]
    assert ADDED_ANNOTATION not in (kube.get("v1", "ServiceAccount", "default", ns)["metadata"].get("annotations") or {})


def test_detach_keeps_entries_added_after_regcred(kube: Any) -> None:
    ns = namespace(kube, "sa1b")
    make_sa(kube, ns, pull=["theirs", "pull", "later"], annotations={ADDED_ANNOTATION: "pull"})
    assert regcred(kube, "sa", "detach", "pull", "-n", ns).returncode == 0
    assert pull_names(kube, ns) == ["theirs", "later"]


def test_detach_leaves_an_entry_regcred_did_not_add(kube: Any) -> None:
    ns = namespace(kube, "sa2")
    make_sa(kube, ns, pull=["pull", "x"])
    out = ok_json(regcred(kube, "sa", "detach", "pull", "-n", ns, "-o", "json"))
    assert out["results"][0]["status"] == "kept"
    assert pull_names(kube, ns) == ["pull", "x"]
    forced = ok_json(regcred(kube, "sa", "detach", "pull", "-n", ns, "--force", "-o", "json"))
    assert forced["results"][0]["status"] == "detached" and pull_names(kube, ns) == ["x"]


def test_attach_with_a_concurrent_writer_between_read_and_write(kube: Any) -> None:
    need_fake(kube)
    ns = namespace(kube, "sa3")
    make_sa(kube, ns, pull=["a"])
    make_secret(kube, ns)
    fired = []

    def hook(request: Any) -> None:
        if request.method == "PATCH" and request.namespace == ns and not fired:
            fired.append(True)
            sa = kube.get("v1", "ServiceAccount", "default", ns)
            sa["imagePullSecrets"] = [{"name": "a"}, {"name": "late"}]
            kube.replace(sa)

    kube.before_write(hook)
    out = ok_json(regcred(kube, "sa", "attach", "pull", "-n", ns, "-o", "json"))
    assert fired and out["results"][0]["status"] == "attached"
    assert pull_names(kube, ns) == ["a", "late", "pull"]
    patches = kube.request_log.filter(method="PATCH")
    assert len(patches) == 2  # the first was refused (409), the retry after a fresh GET succeeded


def test_attach_fan_out_shares_lists_and_skips_done_ones(kube: Any) -> None:
    need_fake(kube)
    label = kube.unique_ns("many")
    names = [namespace(kube, "many", labels={"regcred-test": label}) for _ in range(6)]
    for ns in names:
        make_secret(kube, ns)
    assert regcred(kube, "sa", "attach", "pull", "-n", names[0]).returncode == 0
    kube.request_log.clear()
    out = ok_json(regcred(kube, "sa", "attach", "pull", "--namespace-selector", f"regcred-test={label}",
                          "-o", "json"))
    status = {r["namespace"]: r["status"] for r in out["results"]}
    assert status == {names[0]: "unchanged", **{ns: "attached" for ns in names[1:]}}
    for ns in names[1:]:  # one request per namespace that changes: the conditional PATCH
        assert [r.method for r in kube.request_log.filter(path=f"/namespaces/{ns}/")] == ["PATCH"]
    assert kube.request_log.filter(path=f"/namespaces/{names[0]}/") == []
    shared = [r for r in kube.request_log.filter() if not any(f"/namespaces/{ns}/" in r.path for ns in names)]
    assert [(r.method, r.resource) for r in shared] == [("GET", "namespaces"), ("GET", "serviceaccounts"),
                                                        ("GET", "secrets")]


def test_attach_missing_secret_fails_that_namespace_only(kube: Any) -> None:
    label = kube.unique_ns("miss")
    has, lacks = (namespace(kube, "miss", labels={"regcred-test": label}) for _ in range(2))
    make_secret(kube, has)
    result = regcred(kube, "sa", "attach", "pull", "--namespace-selector", f"regcred-test={label}", "-o", "json")
    assert result.returncode == 1
    status = {r["namespace"]: (r["status"], r["message"]) for r in json.loads(result.stdout)["results"]}
    assert status[has][0] == "attached"
    assert status[lacks][0] == "failed" and f"secret pull not found in namespace {lacks}" in status[lacks][1]
    assert_clean_error(result, 1, "failed")
    assert pull_names(kube, lacks) == []


def test_attach_named_and_all_service_accounts(kube: Any) -> None:
    ns = namespace(kube, "sa5")
    make_sa(kube, ns, name="builder")
    make_secret(kube, ns)
    named = ok_json(regcred(kube, "sa", "attach", "pull", "-n", ns, "--service-account", "builder", "-o", "json"))
    assert [(r["name"], r["status"]) for r in named["results"]] == [("builder", "attached")]
    assert pull_names(kube, ns) == []
    every = ok_json(regcred(kube, "sa", "attach", "pull", "-n", ns, "--all-service-accounts", "-o", "json"))
    assert {r["name"]: r["status"] for r in every["results"]} == {"builder": "unchanged", "default": "attached"}
    missing = regcred(kube, "sa", "attach", "pull", "-n", ns, "--service-account", "nope")
    assert missing.returncode == 1 and "serviceaccount nope not found" in missing.stdout


def test_sa_create_and_attach_to_existing(kube: Any) -> None:
    ns = namespace(kube, "sa6")
    make_secret(kube, ns)
    out = ok_json(regcred(kube, "sa", "create", "service1", "--pull-secret", "pull", "-n", ns, "-o", "json"))
    assert out["results"][0]["status"] == "created"
    assert pull_names(kube, ns, "service1") == ["pull"]
    make_sa(kube, ns, name="service2", pull=["x"])
    out = ok_json(regcred(kube, "sa", "create", "service2", "--pull-secret", "pull", "-n", ns, "-o", "json"))
    assert out["results"][0]["status"] == "attached"
    assert pull_names(kube, ns, "service2") == ["x", "pull"]


def test_client_dry_run_writes_nothing(kube: Any) -> None:
    ns = namespace(kube, "sa7")
    make_secret(kube, ns)
    out = ok_json(regcred(kube, "sa", "attach", "pull", "-n", ns, "--dry-run=client", "-o", "json"))
    assert out["results"][0]["status"] == "would-attach"
    assert pull_names(kube, ns) == []


def test_rbac_forbidden_is_one_clear_line(kube: Any) -> None:
    ns = namespace(kube, "rbac1")
    make_secret(kube, ns)
    limited = kube.kubeconfig_for([
        {"apiGroups": [""], "resources": ["namespaces", "secrets"], "verbs": ["get", "list"]},
        {"apiGroups": [""], "resources": ["serviceaccounts"], "verbs": ["get", "list"]},
    ])
    result = run_regcred("sa", "attach", "pull", "-n", ns, "--kubeconfig", limited)
    assert result.returncode == 1
    assert "forbidden: cannot patch serviceaccounts" in result.stdout and "(RBAC)" in result.stdout
    assert "Traceback" not in result.stderr
    cluster_wide = run_regcred("sa", "attach", "pull", "-A", "--kubeconfig",
                               kube.kubeconfig_for([{"apiGroups": [""], "resources": ["secrets"], "verbs": ["list"]}]))
    assert_clean_error(cluster_wide, 1, "forbidden: cannot list namespaces", "(RBAC)")


def test_missing_namespace_is_exit_2(kube: Any) -> None:
    assert_clean_error(regcred(kube, "sa", "attach", "pull", "-n", "no-such-ns"), 2, "namespace no-such-ns not found")


def test_attach_restart_stuck_replaces_pods_that_could_not_pull(kube: Any) -> None:
    ns = namespace(kube, "stuck")
    make_secret(kube, ns)

    def pod(name: str, image: str, sa: str = "default") -> dict[str, Any]:
        return {
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": ns, "ownerReferences": [
                {"apiVersion": "batch/v1", "kind": "Job", "name": "job-" + name, "uid": "u-" + name,
                 "controller": True}]},
            "spec": {"serviceAccountName": sa, "containers": [{"name": "c", "image": image}]},
            "status": {"phase": "Pending", "containerStatuses": [
                {"name": "c", "image": image, "ready": False, "restartCount": 0, "imageID": "",
                 "state": {"waiting": {"reason": "ImagePullBackOff", "message": "back-off"}}}]},
        }

    make_sa(kube, ns, name="builder")
    for obj in (pod("covered", "r.io/team/app:1"),
                pod("elsewhere", "quay.io/x/y:1"),  # the secret has no credential for it
                pod("other-sa", "r.io/team/app:1", sa="builder")):  # not a ServiceAccount attached to
        status = obj.pop("status")
        created = kube.create(obj)
        created["status"] = status  # what the kubelet reports (no kubelet here)
        kube.update_status(created)
    out = ok_json(regcred(kube, "sa", "attach", "pull", "-n", ns, "--restart-stuck", "-o", "json"))
    rows = {(r["name"], r["status"]) for r in out["results"]}
    assert ("default", "attached") in rows and ("Job/job-covered", "restarted") in rows
    assert kube.get("v1", "Pod", "covered", ns) is None
    assert kube.get("v1", "Pod", "elsewhere", ns) is not None
    assert kube.get("v1", "Pod", "other-sa", ns) is not None


@pytest.mark.parametrize("selector", ["a in (", "=bad"])
def test_invalid_label_selector_is_input_exit_2(kube: Any, selector: str) -> None:
    """The server answers 400 to a selector it cannot parse: that is the user's input, exit 2, one line."""
    ns = namespace(kube, "sel")
    result = regcred(kube, "sa", "attach", "pull", "--namespace-selector", selector)
    assert_clean_error(result, 2, f"invalid label selector {selector!r}")
    workloads = regcred(kube, "workload", "attach", "pull", "-n", ns, "-l", selector)
    assert_clean_error(workloads, 2, f"invalid label selector {selector!r}")


def test_forbidden_on_one_account_names_it_and_the_others_go_on(kube: Any) -> None:
    ns = namespace(kube, "rbac2")
    make_sa(kube, ns, name="builder")
    make_secret(kube, ns)
    limited = kube.kubeconfig_for([
        {"apiGroups": [""], "resources": ["namespaces", "secrets", "serviceaccounts"], "verbs": ["get", "list"]},
        {"apiGroups": [""], "resources": ["serviceaccounts"], "verbs": ["patch"], "resourceNames": ["default"],
         "namespaces": [ns]},
    ])
    result = run_regcred("sa", "attach", "pull", "-n", ns, "--all-service-accounts", "-o", "json",
                         "--kubeconfig", limited)
    rows = {r["name"]: r for r in json.loads(result.stdout)["results"]}
    assert rows["default"]["status"] == "attached" and pull_names(kube, ns) == ["pull"]
    assert rows["builder"]["status"] == "failed"
    assert rows["builder"]["message"].startswith('forbidden: cannot patch serviceaccounts "builder"')
    assert_clean_error(result, 1, "1 target(s) failed")
    denied = run_regcred("secret", "create", "pull2", "--server", "r.io", "--username", "u", "--password-stdin",
                         "-n", ns, "-o", "json", "--kubeconfig", limited, input="other-pw\n")
    row = json.loads(denied.stdout)["results"][0]
    assert (row["name"], row["status"]) == ("pull2", "failed") and "forbidden: cannot create" in row["message"]
    assert "other-pw" not in denied.stdout + denied.stderr


def test_server_dry_run_of_sa_commands_persists_nothing(kube: Any) -> None:
    """dryRun=All goes through admission and validation on the server, and nothing is stored."""
    ns = namespace(kube, "sadry")
    make_sa(kube, ns, pull=["other"])
    make_secret(kube, ns)
    before = kube.get("v1", "ServiceAccount", "default", ns)["metadata"]["resourceVersion"]
    out = ok_json(regcred(kube, "sa", "attach", "pull", "-n", ns, "--dry-run=server", "-o", "json"))
    assert [r["status"] for r in out["results"]] == ["would-attach"]
    created = ok_json(regcred(kube, "sa", "create", "svc", "--pull-secret", "pull", "-n", ns, "--dry-run=server",
                              "-o", "json"))
    assert [r["status"] for r in created["results"]] == ["would-create"]
    assert kube.get("v1", "ServiceAccount", "svc", ns) is None
    sa = kube.get("v1", "ServiceAccount", "default", ns)
    assert sa["metadata"]["resourceVersion"] == before and pull_names(kube, ns) == ["other"]
    assert ADDED_ANNOTATION not in (sa["metadata"].get("annotations") or {})
    invalid = regcred(kube, "sa", "create", "svc", "--pull-secret", "pull", "-n", ns, "--dry-run=server",
                      "--service-account", "x")
    assert invalid.returncode == 2  # no such option on create: usage error, nothing sent


def test_repeated_service_account_is_one_target(kube: Any) -> None:
    ns = namespace(kube, "sarep")
    make_secret(kube, ns)
    out = ok_json(regcred(kube, "sa", "attach", "pull", "-n", ns, "--service-account", "default",
                          "--service-account", "default", "-o", "json"))
    assert [(r["name"], r["status"]) for r in out["results"]] == [("default", "attached")]
    assert pull_names(kube, ns) == ["pull"]

"""`secret create` and `sa attach/detach/create` against an API server: the fake, and envtest when available.

Every test runs the real `regcred` process against `kube.kubeconfig`, so the real client library, exit codes and
error lines are what is checked.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from regcred.core.cluster.serviceaccounts import ADDED_ANNOTATION
from regcred.core.credentials.pullsecret import dockerconfigjson_payload
from tests.support.cli import assert_clean_error, ok_json, run_regcred
from tests.support.cli import run_regcred_kube as regcred
from tests.support.clusterobjects import make_sa, make_secret, namespace

MANAGED = {"app.kubernetes.io/managed-by": "regcred"}


def pull_names(kube: Any, ns: str, name: str = "default") -> list[str]:
    sa = kube.get("v1", "ServiceAccount", name, ns)
    return [e["name"] for e in sa.get("imagePullSecrets") or []]


def writes(kube: Any) -> list[Any]:
    return [r for r in kube.request_log.filter() if r.method in ("POST", "PUT", "PATCH", "DELETE")]


def need_fake(kube: Any) -> None:
    if not kube.supports_hooks:
        pytest.skip("needs the fake API's request log and hooks")


# -- secret create -------------------------------------------------------------------------------------------

def test_secret_create_is_idempotent_and_labelled(kube: Any) -> None:
    ns = namespace(kube, "sec1")
    args = ("secret", "create", "pull", "--server", "r.io", "--username", "u", "--password-stdin", "-n", ns,
            "-o", "json")
    first = ok_json(regcred(kube, *args, input="pw"))
    assert [r["status"] for r in first["results"]] == ["created"]
    obj = kube.get("v1", "Secret", "pull", ns)
    assert obj["type"] == "kubernetes.io/dockerconfigjson"
    assert obj["metadata"]["labels"] == MANAGED
    assert base64.b64decode(obj["data"][".dockerconfigjson"]) == dockerconfigjson_payload("r.io", "u", "pw")
    if kube.supports_hooks:
        kube.request_log.clear()
    second = ok_json(regcred(kube, *args, input="pw"))
    assert [r["status"] for r in second["results"]] == ["unchanged"]
    assert "pw" not in json.dumps(second)
    if kube.supports_hooks:
        assert writes(kube) == []
    third = ok_json(regcred(kube, *args, input="new"))
    assert [r["status"] for r in third["results"]] == ["updated"]
    obj = kube.get("v1", "Secret", "pull", ns)
    assert base64.b64decode(obj["data"][".dockerconfigjson"]) == dockerconfigjson_payload("r.io", "u", "new")


def test_secret_create_refuses_a_secret_it_does_not_manage(kube: Any) -> None:
    ns = namespace(kube, "sec2")
    make_secret(kube, ns, payload=dockerconfigjson_payload("r.io", "someone", "theirs"))
    args = ("secret", "create", "pull", "--server", "r.io", "--username", "u", "--password-stdin", "-n", ns)
    result = regcred(kube, *args, input="pw")
    assert result.returncode == 1, result.stderr
    assert "not managed by regcred" in result.stdout and "--overwrite" in result.stdout
    assert "Traceback" not in result.stderr
    obj = kube.get("v1", "Secret", "pull", ns)
    assert base64.b64decode(obj["data"][".dockerconfigjson"]) == dockerconfigjson_payload("r.io", "someone", "theirs")
    taken = ok_json(regcred(kube, *args, "--overwrite", "-o", "json", input="pw"))
    assert taken["results"][0]["status"] == "updated"
    assert kube.get("v1", "Secret", "pull", ns)["metadata"]["labels"] == MANAGED


def test_malformed_dockerconfigjson_in_the_cluster_is_reported_not_overwritten(kube: Any) -> None:
    ns = namespace(kube, "sec3")
    make_secret(kube, ns, payload=b'{"auths":[]}')  # the API server accepts it; every pull would fail
    result = regcred(kube, "secret", "create", "pull", "--username", "u", "--password-stdin", "-n", ns, input="pw")
    assert result.returncode == 1
    assert "malformed" in result.stdout and "left untouched" in result.stdout
    assert base64.b64decode(kube.get("v1", "Secret", "pull", ns)["data"][".dockerconfigjson"]) == b'{"auths":[]}'
    attach = regcred(kube, "sa", "attach", "pull", "-n", ns)
    assert attach.returncode == 1 and "not a usable pull secret" in attach.stdout
    assert pull_names(kube, ns) == []


def test_secret_create_server_dry_run_persists_nothing(kube: Any) -> None:
    ns = namespace(kube, "sec4")
    out = ok_json(regcred(kube, "secret", "create", "pull", "--username", "u", "--password-stdin", "-n", ns,
                          "--dry-run=server", "-o", "json", input="pw"))
    assert out["results"][0]["status"] == "would-create"
    assert kube.get("v1", "Secret", "pull", ns) is None


def test_secret_create_fan_out_skips_terminating(kube: Any) -> None:
    label = kube.unique_ns("fan")
    a, b, c = (namespace(kube, "fan", labels={"regcred-test": label}) for _ in range(3))
    kube.terminate_namespace(c)
    out = ok_json(regcred(kube, "secret", "create", "pull", "--username", "u", "--password-stdin",
                          "--namespace-selector", f"regcred-test={label}", "-o", "json", input="pw"))
    status = {r["namespace"]: (r["status"], r["message"]) for r in out["results"]}
    assert status[a][0] == status[b][0] == "created"
    assert status[c] == ("skipped", "namespace is being terminated")
    assert kube.get("v1", "Secret", "pull", a) is not None


def test_secret_create_namespace_terminated_mid_run(kube: Any) -> None:
    need_fake(kube)
    label = kube.unique_ns("mid")
    a, b = (namespace(kube, "mid", labels={"regcred-test": label}) for _ in range(2))

    def hook(event: Any) -> None:
        if event.method == "POST" and event.namespace == b:
            kube.terminate_namespace(b)

    kube.before_write(hook)
    out = ok_json(regcred(kube, "secret", "create", "pull", "--username", "u", "--password-stdin",
                          "--namespace-selector", f"regcred-test={label}", "--workers", "1", "-o", "json",
                          input="pw"))
    status = {r["namespace"]: (r["status"], r["message"]) for r in out["results"]}
    assert status[a][0] == "created"
    assert status[b] == ("skipped", "namespace is being terminated")


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


# -- no cluster needed -----------------------------------------------------------------------------------------

def test_unreachable_api_is_one_line_exit_2(tmp_path: Path, dead_port: int) -> None:
    config = tmp_path / "kubeconfig"
    config.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "c",
        "clusters": [{"name": "c", "cluster": {"server": f"https://127.0.0.1:{dead_port}"}}],
        "users": [{"name": "u", "user": {"token": "t"}}],
        "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
    }))
    result = run_regcred("sa", "attach", "pull", "-n", "x", "--kubeconfig", config)
    assert_clean_error(result, 2, f"cannot reach the Kubernetes API at https://127.0.0.1:{dead_port}")


def test_bad_usage_is_exit_2(tmp_path: Path) -> None:
    assert_clean_error(run_regcred("sa", "attach", "pull", "-n", "a", "-A"), 2, "give only one of -n, -A")
    assert_clean_error(run_regcred("sa", "attach", "Bad_Secret", "-n", "a"), 2, "invalid Secret name")
    assert_clean_error(run_regcred("sa", "attach", "pull", "--service-account", "x", "--all-service-accounts"), 2,
                       "either --service-account or --all-service-accounts")
    assert_clean_error(run_regcred("sa", "create", "s1", "--pull-secret", "p", "-A"), 2, "one namespace")
    missing = tmp_path / "nope"
    assert_clean_error(run_regcred("sa", "attach", "pull", "--kubeconfig", missing), 2, "kubeconfig")


def test_bad_kubeconfig_is_one_line_exit_2(tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    broken.write_text("clusters: [\n")
    assert_clean_error(run_regcred("sa", "attach", "pull", "--kubeconfig", broken), 2, "not valid YAML")
    empty_home = tmp_path / "home"
    empty_home.mkdir()
    result = run_regcred("sa", "attach", "pull", env={"HOME": str(empty_home), "KUBECONFIG": "", "KUBERNETES_SERVICE_HOST": ""})
    assert_clean_error(result, 2, "no kubeconfig found")


def test_wrong_context_and_refused_credentials(kube: Any, tmp_path: Path) -> None:
    assert_clean_error(regcred(kube, "sa", "attach", "pull", "--context", "nope"), 2, "Context 'nope' not found")
    config = Path(kube.kubeconfig).read_text()
    token_line = next(line for line in config.splitlines() if "token:" in line)
    stale = tmp_path / "stale"
    stale.write_text(config.replace(token_line, token_line.split("token:")[0] + "token: not-a-valid-token"))
    result = run_regcred("sa", "attach", "pull", "-n", "default", "--kubeconfig", stale)
    assert_clean_error(result, 2, "unauthorized")
    assert "not-a-valid-token" not in result.stdout + result.stderr


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


def _exec_kubeconfig(kube: Any, tmp_path: Path, script: str) -> Path:
    import yaml

    plugin = tmp_path / "plugin.sh"
    plugin.write_text("#!/bin/sh\n" + script)
    plugin.chmod(0o755)
    config = yaml.safe_load(Path(kube.kubeconfig).read_text())
    config["users"][0]["user"] = {"exec": {"apiVersion": "client.authentication.k8s.io/v1beta1",
                                           "command": str(plugin), "interactiveMode": "Never"}}
    path = tmp_path / "exec-kubeconfig"
    path.write_text(yaml.safe_dump(config))
    return path


def test_exec_credential_plugin_works_and_its_failures_are_one_line(kube: Any, tmp_path: Path) -> None:
    ns = namespace(kube, "exec")
    make_secret(kube, ns)
    good = _exec_kubeconfig(kube, tmp_path, "echo '" + json.dumps(
        {"apiVersion": "client.authentication.k8s.io/v1beta1", "kind": "ExecCredential",
         "status": {"token": kube.token}}) + "'\n")
    out = ok_json(run_regcred("sa", "attach", "pull", "-n", ns, "-o", "json", "--kubeconfig", good))
    assert out["results"][0]["status"] == "attached"
    failing = _exec_kubeconfig(kube, tmp_path, "echo 'token expired, run login' >&2\nexit 3\n")
    assert_clean_error(run_regcred("sa", "attach", "pull", "-n", ns, "--kubeconfig", failing), 2,
                       "exec plugin", "returned 3: token expired, run login")
    leaky = _exec_kubeconfig(kube, tmp_path, "echo 'not-json-s3cr3t-token'\n")
    result = run_regcred("sa", "attach", "pull", "-n", ns, "--kubeconfig", leaky)
    assert_clean_error(result, 2, "exec plugin", "not an ExecCredential")
    assert "s3cr3t" not in result.stdout + result.stderr
    missing = tmp_path / "exec-missing"
    missing.write_text(failing.read_text().replace(str(tmp_path / "plugin.sh"), "/no/such/plugin"))
    assert_clean_error(run_regcred("sa", "attach", "pull", "-n", ns, "--kubeconfig", missing), 2,
                       "executable /no/such/plugin not found")


def test_stale_read_is_retried_on_any_server(kube: Any) -> None:
    """A concurrent writer between regcred's read and write, on the real apiserver too: the conditional
    merge patch gets 409, regcred reads again, and the other writer's entry survives attach and detach."""
    from regcred.shells.kube import ClusterConfig, connect
    from regcred.usecases.serviceaccounts import update_one

    ns = namespace(kube, "stale")
    make_sa(kube, ns, pull=["a"])
    with connect(ClusterConfig(kubeconfig=str(kube.kubeconfig))) as api:
        stale = api.get("ServiceAccount", "default", ns)
        make_sa(kube, ns, pull=["a", "late"])  # the other writer, after our read
        row = update_one(api, stale, "pull", detach=False, force=False)
        assert (row.status, pull_names(kube, ns)) == ("attached", ["a", "late", "pull"])
        assert api.requests.by_method == {"GET": 2, "PATCH": 2}  # 409, fresh read, conditional retry
        stale = api.get("ServiceAccount", "default", ns)
        sa = kube.get("v1", "ServiceAccount", "default", ns)
        sa["imagePullSecrets"].append({"name": "later"})
        kube.replace(sa)
        row = update_one(api, stale, "pull", detach=True, force=False)
        assert (row.status, pull_names(kube, ns)) == ("detached", ["a", "late", "later"])
    assert ADDED_ANNOTATION not in (kube.get("v1", "ServiceAccount", "default", ns)["metadata"].get("annotations")
                                    or {})

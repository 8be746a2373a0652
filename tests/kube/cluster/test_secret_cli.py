"""`secret create` and the client's connection errors against an API server: the fake, and envtest when available.

Every test runs the real `regcred` process against `kube.kubeconfig`, so the real client library, exit codes and
error lines are what is checked.
"""


import base64
import json
from pathlib import Path
from typing import Any

from regcred.core.cluster.serviceaccounts import ADDED_ANNOTATION
from regcred.core.credentials.pullsecret import dockerconfigjson_payload
from tests.kube.cluster.clihelpers import MANAGED, need_fake, pull_names, writes
from tests.support.cli import assert_clean_error, ok_json, run_regcred
from tests.support.cli import run_regcred_kube as regcred
from tests.support.clusterobjects import make_sa, make_secret, namespace

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

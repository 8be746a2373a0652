"""plan/apply against an API server through the real CLI: the fake, and envtest when KUBEBUILDER_ASSETS is set.

Namespace names are unique per test (the envtest apiserver is shared by the session) and every spec includes
exactly the namespaces of its test, so runs never touch each other's objects.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.support.cli import run_regcred_kube

PASSWORD = "pw-not-printed-1"


def write_spec(tmp_path: Path, include: list[str], servers: tuple[str, ...] = ("r.example.com",),
               exclude: list[str] | None = None, name: str = "harbor", extra: str = "") -> Path:
    registries = "\n".join(f"    - {{server: {s}, username: u, passwordFrom: {{env: REG_PW}}}}" for s in servers)
    path = tmp_path / f"{name}.yaml"
    path.write_text(
        f"apiVersion: regcred.dev/v1alpha1\nkind: RegistryCredential\nmetadata: {{name: {name}}}\nspec:\n"
        f"  registries:\n{registries}\n"
        f"  namespaces: {{include: {json.dumps(include)}, exclude: {json.dumps(exclude or [])}}}\n{extra}")
    return path


def regcred(kube: Any, *args: Any, secrets: tuple[str, ...] = ()) -> Any:
    """The CLI on `kube`; REG_PW, the API token and every one of `secrets` (as is or base64) in no output."""
    return run_regcred_kube(kube, *args, env={"REG_PW": PASSWORD}, secrets=(PASSWORD, *secrets))


def namespaces(kube: Any, count: int) -> list[str]:
    names = [kube.unique_ns("sp") for _ in range(count)]
    for name in names:
        kube.create_namespace(name)
    return names


def pulls(kube: Any, ns: str, sa: str = "default") -> list[str]:
    obj = kube.get("v1", "ServiceAccount", sa, ns) or {}
    return [e["name"] for e in obj.get("imagePullSecrets") or []]


def versions(kube: Any, ns: str) -> tuple[str, str]:
    return (kube.get("v1", "ServiceAccount", "default", ns)["metadata"]["resourceVersion"],
            kube.get("v1", "Secret", "harbor", ns)["metadata"]["resourceVersion"])


def test_plan_exit_codes_apply_and_idempotence(kube: Any, tmp_path: Path) -> None:
    a, b = namespaces(kube, 2)
    spec = write_spec(tmp_path, [a, b])
    planned = regcred(kube, "plan", "-f", spec, "-o", "json")
    assert planned.returncode == 1, planned.stderr
    rows = {(c["namespace"], c["kind"], c["action"]) for c in json.loads(planned.stdout)["changes"]}
    assert rows == {(a, "Secret", "create"), (a, "ServiceAccount", "add"),
                    (b, "Secret", "create"), (b, "ServiceAccount", "add")}
    applied = regcred(kube, "apply", "-f", spec, "-o", "json")
    assert applied.returncode == 0, applied.stderr
    assert json.loads(applied.stdout)["summary"] == {"attached": 2, "created": 2}
    assert pulls(kube, a) == ["harbor"]
    before = versions(kube, a), versions(kube, b)
    clean = regcred(kube, "plan", "-f", spec)
    assert clean.returncode == 0 and "No changes" in clean.stdout
    if kube.supports_hooks:
        kube.request_log.clear()
    assert regcred(kube, "apply", "-f", spec).returncode == 0
    if kube.supports_hooks:  # the request log of the second apply (before this test reads anything)
        records = list(kube.request_log.records)
        assert [r for r in records if r.method != "GET"] == []
        assert {r.verb for r in records if r.resource} == {"list"}  # no per-object GET
    assert (versions(kube, a), versions(kube, b)) == before  # the second apply wrote nothing


def test_namespaces_appearing_and_disappearing_between_plan_and_apply(kube: Any, tmp_path: Path) -> None:
    a, b = namespaces(kube, 2)
    c = kube.unique_ns("sp")
    spec = write_spec(tmp_path, [a, b, c])
    planned = json.loads(regcred(kube, "plan", "-f", spec, "-o", "json").stdout)
    assert {ch["namespace"] for ch in planned["changes"]} == {a, b}
    kube.terminate_namespace(b)  # disappears (Terminating: creates are refused)
    kube.create_namespace(c)  # appears
    applied = regcred(kube, "apply", "-f", spec, "-o", "json")
    assert applied.returncode == 0, applied.stderr
    results = json.loads(applied.stdout)["results"]
    assert {r["namespace"] for r in results if r["status"] == "skipped"} == {b}
    assert pulls(kube, a) == ["harbor"] and pulls(kube, c) == ["harbor"]
    assert kube.get("v1", "Secret", "harbor", b) is None
    assert regcred(kube, "plan", "-f", spec).returncode == 0


def test_dropping_a_registry_and_excluding_a_namespace(kube: Any, tmp_path: Path) -> None:
    a, b = namespaces(kube, 2)
    kube.create({"apiVersion": "v1", "kind": "ServiceAccount",
                 "metadata": {"name": "ci", "namespace": b}, "imagePullSecrets": [{"name": "harbor"}]})
    assert regcred(kube, "apply", "-f", write_spec(tmp_path, [a, b], ("r.example.com", "ghcr.io")),
                   ).returncode == 0
    one = write_spec(tmp_path, [a, b], ("r.example.com",), extra="  serviceAccounts: [default, ci]\n")
    planned = json.loads(regcred(kube, "plan", "-f", one, "-o", "json").stdout)["changes"]
    assert [c for c in planned if c["kind"] == "Secret"] == [
        {"kind": "Secret", "action": "update", "namespace": ns, "name": "harbor", "credential": "harbor",
         "registries": {"added": [], "removed": ["ghcr.io"], "updated": []}} for ns in sorted((a, b))]  # by name
    assert not [c for c in planned if c["kind"] == "ServiceAccount"]  # ci already lists it (not ours)
    assert regcred(kube, "apply", "-f", one).returncode == 0
    # someone adds their own entry; then b is excluded: regcred takes back only what it added
    sa = kube.get("v1", "ServiceAccount", "default", b)
    sa["imagePullSecrets"] = [*sa["imagePullSecrets"], {"name": "theirs"}]
    kube.replace(sa)
    excluded = write_spec(tmp_path, [a, b], ("r.example.com",), exclude=[b],
                          extra="  serviceAccounts: [default, ci]\n")
    applied = regcred(kube, "apply", "-f", excluded, "-o", "json")
    assert applied.returncode == 0, applied.stderr
    assert kube.get("v1", "Secret", "harbor", b) is None
    assert pulls(kube, b) == ["theirs"] and pulls(kube, b, "ci") == ["harbor"]
    assert pulls(kube, a) == ["harbor"] and kube.get("v1", "Secret", "harbor", a) is not None
    assert regcred(kube, "plan", "-f", excluded).returncode == 0


def test_an_unmanaged_secret_is_a_conflict(kube: Any, tmp_path: Path) -> None:
    (a,) = namespaces(kube, 1)
    kube.create({"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                 "metadata": {"name": "harbor", "namespace": a}, "stringData": {"x": "y"}})
    result = regcred(kube, "apply", "-f", write_spec(tmp_path, [a]))
    assert result.returncode == 1
    assert "regcred: error: 1 target(s) failed" in result.stderr
    assert pulls(kube, a) == []


def test_missing_secret_key_ref(kube: Any, tmp_path: Path) -> None:
    (a,) = namespaces(kube, 1)
    path = tmp_path / "ref.yaml"
    path.write_text("apiVersion: regcred.dev/v1alpha1\nkind: RegistryCredential\nmetadata: {name: q}\nspec:\n"
                    "  registries:\n    - server: q.io\n      username: u\n      passwordFrom:\n"
                    f"        secretKeyRef: {{namespace: {a}, name: nope, key: token}}\n")
    token = "q-t0ken-Vx71-not-printed"
    result = regcred(kube, "plan", "-f", path, secrets=(token,))
    assert result.returncode == 2
    assert f"spec.registries[0].passwordFrom.secretKeyRef: Secret {a}/nope not found" in result.stderr
    kube.create({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "nope", "namespace": a},
                 "stringData": {"token": token}})
    planned = regcred(kube, "plan", "-f", path, "-o", "json", secrets=(token,))  # resolved, never printed
    assert planned.returncode == 1, planned.stderr


def test_two_specs_conflicting(kube: Any, tmp_path: Path) -> None:
    (a,) = namespaces(kube, 1)
    first = write_spec(tmp_path, [a])
    second = write_spec(tmp_path, [a], ("o.io",), name="other", extra="  secretName: harbor\n")
    result = regcred(kube, "plan", "-f", first, "-f", second)
    assert result.returncode == 2
    assert "both write Secret 'harbor' with different registries" in result.stderr
    assert kube.get("v1", "Secret", "harbor", a) is None


def test_a_concurrent_writer_between_read_and_write_is_kept(fake_kube: Any, tmp_path: Path) -> None:
    (a,) = namespaces(fake_kube, 1)
    seen = []

    def sneak_in(event: Any) -> None:
        if event.resource.startswith("serviceaccounts") and event.verb == "patch" and not seen:
            seen.append(event)
            fake_kube.before_write(None)
            sa = fake_kube.get("v1", "ServiceAccount", "default", a)
            sa["imagePullSecrets"] = [{"name": "theirs"}]
            fake_kube.replace(sa)

    fake_kube.before_write(sneak_in)
    result = regcred(fake_kube, "apply", "-f", write_spec(tmp_path, [a]))
    assert result.returncode == 0, result.stderr
    assert seen and pulls(fake_kube, a) == ["theirs", "harbor"]
    assert fake_kube.request_log.count(method="PATCH", status=409) == 1


def test_a_named_service_account_that_does_not_exist_is_reported(kube: Any, tmp_path: Path) -> None:
    (a,) = namespaces(kube, 1)
    spec = write_spec(tmp_path, [a], extra="  serviceAccounts: [default, builder, \"ci-*\"]\n")
    planned = regcred(kube, "plan", "-f", spec, "-o", "json")
    assert planned.returncode == 1, planned.stderr
    doc = json.loads(planned.stdout)
    assert doc["skipped"] == [{"namespace": a, "kind": "ServiceAccount", "name": "builder", "waiting": False,
                               "reason": f"ServiceAccount builder does not exist in namespace {a}: nothing "
                                         "attached (create it, or take it out of spec.serviceAccounts)"}]
    applied = regcred(kube, "apply", "-f", spec, "-o", "json")
    assert applied.returncode == 0, applied.stderr
    rows = {(r["name"], r["status"]) for r in json.loads(applied.stdout)["results"]}
    assert rows == {("Secret/harbor", "created"), ("ServiceAccount/default", "attached"),
                    ("ServiceAccount/builder", "skipped")}
    table = regcred(kube, "plan", "-f", spec)
    assert table.returncode == 0, table.stdout  # nothing regcred can do: in sync, but never silent
    assert f"skipped: {a}: ServiceAccount builder does not exist" in table.stdout
    kube.create({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "builder", "namespace": a}})
    kube.create({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "ci-x", "namespace": a}})
    assert regcred(kube, "apply", "-f", spec).returncode == 0
    assert pulls(kube, a, "builder") == ["harbor"] and pulls(kube, a, "ci-x") == ["harbor"]
    assert regcred(kube, "plan", "-f", spec).returncode == 0


def test_default_service_account_not_created_yet_is_waiting(kube: Any, tmp_path: Path) -> None:
    a = kube.unique_ns("sp")
    kube.create_namespace(a, default_sa=False)  # the window before kube-controller-manager creates it
    assert kube.get("v1", "ServiceAccount", "default", a) is None
    spec = write_spec(tmp_path, [a])
    planned = regcred(kube, "plan", "-f", spec, "-o", "json")
    assert planned.returncode == 1
    (skip,) = json.loads(planned.stdout)["skipped"]
    assert (skip["name"], skip["waiting"]) == ("default", True)
    assert "does not exist in namespace" in skip["reason"] and "yet" in skip["reason"]
    assert regcred(kube, "apply", "-f", spec).returncode == 0  # the Secret is created; default waits
    still = regcred(kube, "plan", "-f", spec)
    assert still.returncode == 1 and "waiting" in still.stdout  # a drift check keeps failing until it is done
    kube.ensure_default_sa(a)  # what kube-controller-manager does
    assert regcred(kube, "apply", "-f", spec).returncode == 0
    assert pulls(kube, a) == ["harbor"]
    assert regcred(kube, "plan", "-f", spec).returncode == 0


def test_a_literal_namespace_that_does_not_exist_is_reported(kube: Any, tmp_path: Path) -> None:
    (a,) = namespaces(kube, 1)
    later, gone = kube.unique_ns("sp"), kube.unique_ns("sp")
    spec = write_spec(tmp_path, [a, later, gone], exclude=[gone])
    assert regcred(kube, "apply", "-f", spec).returncode == 0
    planned = regcred(kube, "plan", "-f", spec, "-o", "json")
    assert planned.returncode == 0, planned.stdout  # nothing regcred can do: in sync, but never silent
    assert json.loads(planned.stdout)["skipped"] == [
        {"namespace": later, "reason": f"namespace {later} does not exist (spec.namespaces.include of harbor): "
                                       "nothing to do there until it is created"}]  # an excluded one is not
    kube.create_namespace(later)
    assert regcred(kube, "apply", "-f", spec).returncode == 0
    assert pulls(kube, later) == ["harbor"]
    assert "skipped" not in regcred(kube, "plan", "-f", spec).stdout


def test_node_level_with_host_root_plans_applies_and_prunes_runtimes(kube: Any, tmp_path: Path) -> None:
    """`--host-root`: config.json and containerd's config through the real CLI, a registry dropped, then in step."""
    import tomllib

    (a,) = namespaces(kube, 1)
    host = tmp_path / "node"
    (host / "var/lib/kubelet").mkdir(parents=True)
    (host / "etc/containerd").mkdir(parents=True)
    (host / "etc/containerd/config.toml").write_text("# site\nversion = 2\n")
    nodes = "  nodes: {enabled: true, runtimes: [containerd]}\n"
    both = write_spec(tmp_path, [a], ("r.example.com", "q.example.com"), extra=nodes)
    planned = regcred(kube, "plan", "-f", both, "--host-root", host, "-o", "json")
    assert planned.returncode == 1, planned.stderr
    node_rows = {c["name"]: c for c in json.loads(planned.stdout)["changes"] if c["kind"] == "Node"}
    assert set(node_rows) == {"/var/lib/kubelet/config.json", "/etc/containerd/config.toml"}
    assert node_rows["/etc/containerd/config.toml"]["registries"]["added"] == ["q.example.com", "r.example.com"]
    assert not (host / "var/lib/kubelet/config.json").exists()  # plan wrote nothing
    applied = regcred(kube, "apply", "-f", both, "--host-root", host)
    assert applied.returncode == 0, applied.stderr
    assert "containerd: +q.example.com +r.example.com; restart containerd on the node to load it" in applied.stdout

    def containerd_hosts() -> set[str]:
        doc = tomllib.loads((host / "etc/containerd/config.toml").read_text())
        return set(doc["plugins"]["io.containerd.grpc.v1.cri"]["registry"]["configs"])

    assert containerd_hosts() == {"q.example.com", "r.example.com"}
    one = write_spec(tmp_path, [a], ("r.example.com",), extra=nodes)
    table = regcred(kube, "plan", "-f", one, "--host-root", host)
    assert table.returncode == 1 and "-q.example.com" in table.stdout, table.stdout
    assert regcred(kube, "apply", "-f", one, "--host-root", host).returncode == 0
    assert containerd_hosts() == {"r.example.com"}
    assert set(json.loads((host / "var/lib/kubelet/config.json").read_text())["auths"]) == {"r.example.com"}
    clean = regcred(kube, "plan", "-f", one, "--host-root", host)
    assert clean.returncode == 0 and "No changes" in clean.stdout, clean.stdout


def test_every_target_kind_through_the_real_api(kube: Any, tmp_path: Path) -> None:
    """secretKeyRef and fromSecret read from the cluster, a label selector, SA globs, workloads with matchRegistries,
    then a renamed secretName: everything moves to the new Secret and the old one goes."""
    import base64

    src, a, b = namespaces(kube, 3)
    kube.create_namespace(c := kube.unique_ns("sp"), labels={"pull": "no"})
    for ns in (a, b):
        kube.patch("v1", "Namespace", ns, {"metadata": {"labels": {"pull": "yes"}}})
    token = base64.b64encode(b"ghcr-token-1").decode()
    kube.create({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "ghcr", "namespace": src},
                 "data": {"token": token}})
    legacy = {"auths": {"legacy.example.com": {"username": "l", "password": "legacy-pw",
                                               "auth": base64.b64encode(b"l:legacy-pw").decode()}}}
    kube.create({"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/dockerconfigjson",
                 "metadata": {"name": "legacy", "namespace": src},
                 "data": {".dockerconfigjson": base64.b64encode(json.dumps(legacy).encode()).decode()}})
    for name in ("builder-1", "other"):
        kube.create({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name, "namespace": a}})
    template = {"metadata": {"labels": {"app": "x"}}, "spec": {"containers": [{"name": "c", "image": "IMAGE"}]}}

    def deployment(name: str, image: str) -> dict[str, Any]:
        tpl = json.loads(json.dumps(template).replace("IMAGE", image))
        return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": a},
                "spec": {"selector": {"matchLabels": {"app": "x"}}, "template": tpl}}

    kube.create(deployment("ours", "ghcr.io/team/app:1"))
    kube.create(deployment("public", "nginx:1.25"))
    tpl = json.loads(json.dumps(template).replace("IMAGE", "legacy.example.com/cron:1"))
    tpl["spec"]["restartPolicy"] = "Never"
    kube.create({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "nightly", "namespace": a},
                 "spec": {"schedule": "0 0 * * *", "jobTemplate": {"spec": {"template": tpl}}}})

    def spec_text(secret_name: str) -> str:
        return (f"apiVersion: regcred.dev/v1alpha1\nkind: RegistryCredential\nmetadata: {{name: harbor}}\nspec:\n"
                f"  registries:\n"
                f"    - server: ghcr.io\n      username: bot\n"
                f"      passwordFrom: {{secretKeyRef: {{namespace: {src}, name: ghcr, key: token}}}}\n"
                f"    - fromSecret: {{namespace: {src}, name: legacy}}\n"
                f"  secretName: {secret_name}\n"
                f"  namespaces: {{include: [{a}, {b}, {c}], selector: {{matchLabels: {{pull: 'yes'}}}}}}\n"
                f"  serviceAccounts: [default, 'builder-*']\n"
                f"  workloads: {{enabled: true}}\n")

    path = tmp_path / "spec.yaml"
    path.write_text(spec_text("pull"))
    read = ("ghcr-token-1", "legacy-pw")  # from the cluster: checked, as is and base64, on every run's output
    planned = regcred(kube, "plan", "-f", path, "-o", "json", secrets=read)
    assert planned.returncode == 1, planned.stderr
    assert {c["namespace"] for c in json.loads(planned.stdout)["changes"]} == {a, b}  # c is not selected
    applied = regcred(kube, "apply", "-f", path, "-o", "json", secrets=read)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    secret = kube.get("v1", "Secret", "pull", b)
    config = json.loads(base64.b64decode(secret["data"][".dockerconfigjson"]))
    assert set(config["auths"]) == {"ghcr.io", "legacy.example.com"}
    assert config["auths"]["ghcr.io"]["password"] == "ghcr-token-1"
    assert pulls(kube, a) == ["pull"] and pulls(kube, a, "builder-1") == ["pull"] and pulls(kube, a, "other") == []
    assert kube.get("v1", "Secret", "pull", c) is None

    def template_pulls(kind: str, name: str) -> list[str]:
        obj = kube.get("batch/v1" if kind == "CronJob" else "apps/v1", kind, name, a)
        spec = obj["spec"]["jobTemplate"]["spec"]["template"]["spec"] if kind == "CronJob" else \
            obj["spec"]["template"]["spec"]
        return [e["name"] for e in spec.get("imagePullSecrets") or []]

    assert template_pulls("Deployment", "ours") == ["pull"] and template_pulls("CronJob", "nightly") == ["pull"]
    assert template_pulls("Deployment", "public") == []  # no image from these registries
    assert regcred(kube, "plan", "-f", path, secrets=read).returncode == 0  # in step
    path.write_text(spec_text("pull-v2"))  # renamed: everything moves to the new Secret
    assert regcred(kube, "apply", "-f", path, secrets=read).returncode == 0
    assert kube.get("v1", "Secret", "pull", a) is None and kube.get("v1", "Secret", "pull-v2", a) is not None
    assert pulls(kube, a) == ["pull-v2"] and pulls(kube, a, "builder-1") == ["pull-v2"]
    assert template_pulls("Deployment", "ours") == ["pull-v2"] and template_pulls("CronJob", "nightly") == ["pull-v2"]
    clean = regcred(kube, "plan", "-f", path, secrets=read)
    assert clean.returncode == 0 and "No changes" in clean.stdout, clean.stdout

"""`regcred node provider install` on fake nodes: each of the kubelet's flag sources, merging, conflicts, dry run,
idempotence, hostile config files (issue 14, node level)."""

from __future__ import annotations

import json

import pytest

from tests.support.node import FakeNode

CONFIG = "/etc/kubernetes/credential-provider-config.yaml"
BIN_DIR = "/usr/libexec/kubernetes/kubelet-plugins/credential-provider/exec"
ECR = "ecr-credential-provider"
ECR_IMAGE = "*.dkr.ecr.*.amazonaws.com"
KUBEADM_DROPIN = "/etc/systemd/system/kubelet.service.d/10-kubeadm.conf"
KUBEADM_UNIT = (
    "[Service]\nEnvironment=\"KUBELET_KUBECONFIG_ARGS=--kubeconfig=/etc/kubernetes/kubelet.conf\"\n"
    "EnvironmentFile=-/var/lib/kubelet/kubeadm-flags.env\nEnvironmentFile=-{extra}\nExecStart=\n"
    "ExecStart=/usr/bin/kubelet $KUBELET_KUBECONFIG_ARGS $KUBELET_KUBEADM_ARGS $KUBELET_EXTRA_ARGS\n"
)
KUBEADM_FLAGS = 'KUBELET_KUBEADM_ARGS="--container-runtime-endpoint=unix:///run/containerd/containerd.sock"\n'
OTHER_PROVIDER = {"name": "gcp-auth", "matchImages": ["*.gcr.io"], "defaultCacheDuration": "1h",
                  "apiVersion": "credentialprovider.kubelet.k8s.io/v1"}


def plugin(node: FakeNode, name: str = ECR, bin_dir: str = BIN_DIR) -> None:
    node.write(f"{bin_dir}/{name}", "#!/bin/sh\n", mode=0o755)


def install(regcred, node, *args, name=ECR, images=(ECR_IMAGE,)):
    matches = [a for image in images for a in ("--match-image", image)]
    code, out, err = regcred("node", "provider", "install", "--name", name, *matches, *args,
                             "--host-root", str(node.root), "-o", "json")
    return code, (json.loads(out) if code == 0 else None), err


def kubelet_sees(regcred, node, *images):
    """What `node doctor` (the kubelet's own flag discovery) says the kubelet starts with."""
    code, out, err = regcred("node", "doctor", "--host-root", str(node.root), *images, "-o", "json")
    assert "Traceback" not in err
    return code, json.loads(out)


def snapshot(node: FakeNode) -> dict[str, bytes]:
    return {str(p.relative_to(node.root)): p.read_bytes() for p in sorted(node.root.rglob("*")) if p.is_file()}


def kubeadm_node(node: FakeNode, extra: str = "/etc/default/kubelet") -> None:
    node.write("/lib/systemd/system/kubelet.service", "[Service]\nExecStart=/usr/bin/kubelet\n", mode=0o644)
    node.write(KUBEADM_DROPIN, KUBEADM_UNIT.format(extra=extra), mode=0o644)
    node.write("/var/lib/kubelet/kubeadm-flags.env", KUBEADM_FLAGS, mode=0o644)


def assert_flags_reach_the_kubelet(regcred, node, config=CONFIG, bin_dir=BIN_DIR):
    code, report = kubelet_sees(regcred, node, "123456789012.dkr.ecr.eu-west-1.amazonaws.com/app:1")
    section = report["credential_providers"]
    assert (section["config"], section["bin_dir"]) == (config, bin_dir), section
    assert code == 0, report["problems"]
    assert report["images"][0]["providers"][0]["name"] == ECR
    assert report["images"][0]["uses"] == f"provider {ECR}"


# --- each flag source -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("extra", ["/etc/default/kubelet", "/etc/sysconfig/kubelet"])
def test_kubeadm_node_gets_the_flags_in_kubelet_extra_args(regcred, fake_node, extra):
    kubeadm_node(fake_node, extra)
    plugin(fake_node)
    code, result, err = install(regcred, fake_node, "--env", "AWS_PROFILE=prod")
    assert code == 0, err
    assert result["flags"] == {"path": extra, "variable": "KUBELET_EXTRA_ARGS", "changed": True,
                               "daemon_reload": False}
    assert result["restart_needed"] == ["kubelet"]
    assert fake_node.read("/var/lib/kubelet/kubeadm-flags.env") == KUBEADM_FLAGS  # kubeadm's file left alone
    assert_flags_reach_the_kubelet(regcred, fake_node)
    config = fake_node.read(CONFIG)
    assert "kind: CredentialProviderConfig" in config and "AWS_PROFILE" in config


def test_a_flag_already_in_kubeadm_flags_env_is_completed_there(regcred, fake_node):
    kubeadm_node(fake_node)
    fake_node.write("/var/lib/kubelet/kubeadm-flags.env",
                    KUBEADM_FLAGS.rstrip('"\n') + ' --image-credential-provider-config=/etc/kubelet/providers.yaml"\n')
    fake_node.write("/etc/default/kubelet", 'KUBELET_EXTRA_ARGS="--v=2"\n', mode=0o644)
    plugin(fake_node)
    code, result, err = install(regcred, fake_node)
    assert code == 0, err
    assert result["flags"]["path"] == "/var/lib/kubelet/kubeadm-flags.env"
    assert result["config"] == "/etc/kubelet/providers.yaml"  # the kubelet's own value is kept
    assert fake_node.read("/etc/default/kubelet") == 'KUBELET_EXTRA_ARGS="--v=2"\n'
    assert_flags_reach_the_kubelet(regcred, fake_node, config="/etc/kubelet/providers.yaml")


def test_only_kubeadm_args_expanded_puts_the_flags_in_kubeadm_flags_env(regcred, fake_node):
    fake_node.write("/etc/systemd/system/kubelet.service",
                    "[Service]\nEnvironmentFile=/var/lib/kubelet/kubeadm-flags.env\n"
                    "ExecStart=/usr/bin/kubelet $KUBELET_KUBEADM_ARGS\n", mode=0o644)
    fake_node.write("/var/lib/kubelet/kubeadm-flags.env", KUBEADM_FLAGS, mode=0o644)
    plugin(fake_node)
    code, result, err = install(regcred, fake_node)
    assert code == 0, err
    assert result["flags"]["variable"] == "KUBELET_KUBEADM_ARGS"
    assert "--container-runtime-endpoint=unix:///run/containerd/containerd.sock" in fake_node.read(
        "/var/lib/kubelet/kubeadm-flags.env")
    assert_flags_reach_the_kubelet(regcred, fake_node)


def test_a_unit_without_flag_variables_gets_a_dropin(regcred, fake_node):
    fake_node.write("/etc/systemd/system/kubelet.service",
                    "[Service]\nExecStart=/usr/local/bin/kubelet --kubeconfig=/etc/kubernetes/kubelet.conf \\\n"
                    "    --v=2\n", mode=0o644)
    plugin(fake_node)
    code, result, err = install(regcred, fake_node)
    assert code == 0, err
    assert result["flags"]["variable"] is None and result["flags"]["daemon_reload"] is True
    dropin = fake_node.read(result["flags"]["path"])
    assert "ExecStart=\nExecStart=/usr/local/bin/kubelet --kubeconfig=/etc/kubernetes/kubelet.conf" in dropin
    assert_flags_reach_the_kubelet(regcred, fake_node)
    assert install(regcred, fake_node)[1]["changed"] is False  # the drop-in's own ExecStart is read back


def test_the_file_whose_value_wins_gets_the_flags(regcred, fake_node):
    """Both environment files set KUBELET_EXTRA_ARGS: the later one (systemd's order) wins, so it is edited."""
    kubeadm_node(fake_node)
    fake_node.write(KUBEADM_DROPIN, KUBEADM_UNIT.format(extra="/etc/default/kubelet") +
                    "EnvironmentFile=-/etc/sysconfig/kubelet\n", mode=0o644)
    fake_node.write("/etc/default/kubelet", 'KUBELET_EXTRA_ARGS="--v=1"\n')
    fake_node.write("/etc/sysconfig/kubelet", 'KUBELET_EXTRA_ARGS="--v=4"\n')
    plugin(fake_node)
    code, result, err = install(regcred, fake_node)
    assert code == 0 and result["flags"]["path"] == "/etc/sysconfig/kubelet", err
    assert fake_node.read("/etc/default/kubelet") == 'KUBELET_EXTRA_ARGS="--v=1"\n'
    assert_flags_reach_the_kubelet(regcred, fake_node)


def test_without_a_unit_the_usual_flag_file_is_used(regcred, fake_node):
    fake_node.write("/etc/sysconfig/kubelet", 'KUBELET_EXTRA_ARGS="--v=2"\n', mode=0o644)
    plugin(fake_node)
    code, result, err = install(regcred, fake_node)
    assert code == 0, err
    assert result["flags"]["path"] == "/etc/sysconfig/kubelet"
    assert_flags_reach_the_kubelet(regcred, fake_node)


def test_no_unit_and_no_flag_file_is_one_line(regcred, fake_node):
    plugin(fake_node)
    code, _, err = install(regcred, fake_node)
    assert code == 2 and err.count("\n") == 1 and "cannot set the kubelet's flags" in err
    assert not fake_node.path(CONFIG).exists()


# --- merging, idempotence, dry run, ownership -------------------------------------------------------------------


def test_second_run_writes_nothing_and_dry_run_writes_nothing(regcred, fake_node):
    kubeadm_node(fake_node)
    plugin(fake_node)
    before = snapshot(fake_node)
    code, result, _ = install(regcred, fake_node, "--dry-run")
    assert code == 0 and result["changed"] and result["dry_run"]
    assert snapshot(fake_node) == before
    assert install(regcred, fake_node)[0] == 0
    after = snapshot(fake_node)
    code, result, _ = install(regcred, fake_node)
    assert code == 0 and result["changed"] is False and result["restart_needed"] == []
    assert snapshot(fake_node) == after


def test_other_providers_and_json_layout_are_kept(regcred, fake_node):
    kubeadm_node(fake_node)
    fake_node.write(CONFIG, json.dumps({"apiVersion": "kubelet.config.k8s.io/v1", "kind": "CredentialProviderConfig",
                                        "providers": [OTHER_PROVIDER]}), mode=0o644)
    plugin(fake_node)
    plugin(fake_node, "gcp-auth")
    code, result, err = install(regcred, fake_node)
    assert code == 0 and result["action"] == "added", err
    doc = fake_node.json(CONFIG)
    assert [p["name"] for p in doc["providers"]] == ["gcp-auth", ECR] and doc["providers"][0] == OTHER_PROVIDER


def test_yaml_comments_survive(regcred, fake_node):
    kubeadm_node(fake_node)
    fake_node.write(CONFIG, "# keep me\napiVersion: kubelet.config.k8s.io/v1\nkind: CredentialProviderConfig\n"
                            "providers:\n- name: gcp-auth  # the GKE one\n  matchImages: ['*.gcr.io']\n"
                            "  defaultCacheDuration: 1h\n  apiVersion: credentialprovider.kubelet.k8s.io/v1\n")
    plugin(fake_node)
    plugin(fake_node, "gcp-auth")
    assert install(regcred, fake_node)[0] == 0
    text = fake_node.read(CONFIG)
    assert "# keep me" in text and "# the GKE one" in text and ECR in text


def test_someone_elses_provider_of_that_name_is_a_conflict(regcred, fake_node):
    kubeadm_node(fake_node)
    theirs = {**OTHER_PROVIDER, "name": ECR}
    fake_node.write(CONFIG, json.dumps({"apiVersion": "kubelet.config.k8s.io/v1", "kind": "CredentialProviderConfig",
                                        "providers": [theirs]}))
    plugin(fake_node)
    before = snapshot(fake_node)
    code, _, err = install(regcred, fake_node)
    assert code == 2 and "regcred did not write" in err and snapshot(fake_node) == before
    code, result, _ = install(regcred, fake_node, "--overwrite")
    assert code == 0 and result["action"] == "replaced"
    # now regcred's own: a change needs no --overwrite
    code, result, err = install(regcred, fake_node, "--default-cache-duration", "30m")
    assert code == 0 and result["action"] == "replaced", err
    assert fake_node.json(CONFIG)["providers"][0]["defaultCacheDuration"] == "30m"


def test_a_config_directory_gets_regcreds_own_file(regcred, fake_node):
    kubeadm_node(fake_node)
    fake_node.write("/etc/default/kubelet", 'KUBELET_EXTRA_ARGS="--image-credential-provider-config=/etc/kubelet/cp.d '
                                            f'--image-credential-provider-bin-dir={BIN_DIR}"\n')
    fake_node.write("/etc/kubelet/cp.d/10-gcp.yaml", json.dumps({
        "apiVersion": "kubelet.config.k8s.io/v1", "kind": "CredentialProviderConfig", "providers": [OTHER_PROVIDER]}))
    plugin(fake_node)
    plugin(fake_node, "gcp-auth")
    code, result, err = install(regcred, fake_node)
    assert code == 0 and result["config"] == "/etc/kubelet/cp.d/regcred.yaml" and not result["flags"]["changed"], err
    code, _, err = install(regcred, fake_node, name="gcp-auth", images=("*.gcr.io",))
    assert code == 2 and "already defined in another file" in err


def test_flag_values_the_kubelet_already_has_are_not_changed(regcred, fake_node):
    kubeadm_node(fake_node)
    plugin(fake_node)
    assert install(regcred, fake_node)[0] == 0
    code, _, err = install(regcred, fake_node, "--config", "/etc/other.yaml")
    assert code == 2 and f"already runs with --image-credential-provider-config={CONFIG}" in err


# --- hostile input: one line, exit 2, nothing written ------------------------------------------------------------

HOSTILE = {
    "not yaml": "providers: [\n",
    "a list": "- a\n- b\n",
    "wrong kind": "apiVersion: kubelet.config.k8s.io/v1\nkind: KubeletConfiguration\n",
    "no providers": "apiVersion: kubelet.config.k8s.io/v1\nkind: CredentialProviderConfig\nproviders: []\n",
    "unknown field": json.dumps({"apiVersion": "kubelet.config.k8s.io/v1", "kind": "CredentialProviderConfig",
                                 "providers": [{**OTHER_PROVIDER, "cacheKeyType": "Image"}]}),
    "duplicate names": json.dumps({"apiVersion": "kubelet.config.k8s.io/v1", "kind": "CredentialProviderConfig",
                                   "providers": [OTHER_PROVIDER, OTHER_PROVIDER]}),
    "negative duration": json.dumps({"apiVersion": "kubelet.config.k8s.io/v1", "kind": "CredentialProviderConfig",
                                     "providers": [{**OTHER_PROVIDER, "defaultCacheDuration": "-1h"}]}),
    "duplicate yaml field": "apiVersion: kubelet.config.k8s.io/v1\nkind: CredentialProviderConfig\nproviders:\n"
                            "- name: a\n  name: b\n  matchImages: ['*.gcr.io']\n  defaultCacheDuration: 1h\n"
                            "  apiVersion: credentialprovider.kubelet.k8s.io/v1\n",
    "duplicate json field": '{"kind": "CredentialProviderConfig", "kind": "CredentialProviderConfig", '
                            '"apiVersion": "kubelet.config.k8s.io/v1", "providers": []}',
    "deep json": "{" + '"a":[' * 5000 + "]" * 5000 + "}",
    "binary": "\x00\x01\x02",
    "alias bomb": "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n" for p, c in zip("abcdefgh", "bcdefghi", strict=True)),
}


@pytest.mark.parametrize("content", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_config_is_one_line_and_nothing_is_written(regcred, fake_node, content):
    kubeadm_node(fake_node)
    fake_node.write(CONFIG, content)
    plugin(fake_node)
    before = snapshot(fake_node)
    code, _, err = install(regcred, fake_node)
    assert code == 2 and err.count("\n") == 1 and err.startswith("regcred: error: "), err
    assert snapshot(fake_node) == before


@pytest.mark.parametrize(("args", "message"), [
    (("--match-image", "https://reg.example.com"), "has a scheme"),
    (("--match-image", "reg.example.com:port"), "not a valid"),
    (("--match-image", "a[.example.com"), "malformed glob"),
    (("--match-image", "[a.example.com"), "not a valid"),
    (("--default-cache-duration", "12 hours"), "not a duration"),
    (("--default-cache-duration", "-5m"), "must be 0 or more"),
    (("--env", "NOVALUE"), "expected NAME=VALUE"),
    (("--bin-dir", "relative/dir"), "absolute path"),
])
def test_bad_options_are_one_line(regcred, fake_node, args, message):
    kubeadm_node(fake_node)
    plugin(fake_node)
    code, _, err = regcred("node", "provider", "install", "--name", ECR, "--match-image", ECR_IMAGE, *args,
                           "--host-root", str(fake_node.root))
    assert code == 2 and message in err and err.count("\n") == 1, err
    assert not fake_node.path(CONFIG).exists()


@pytest.mark.parametrize("name", ["a/b", "a b", "..", "."])
def test_names_the_kubelet_refuses(regcred, fake_node, name):
    kubeadm_node(fake_node)
    code, _, err = install(regcred, fake_node, name=name)
    assert code == 2 and err.count("\n") == 1, err


def test_missing_plugin_executable_is_refused(regcred, fake_node):
    kubeadm_node(fake_node)
    code, _, err = install(regcred, fake_node)
    assert code == 2 and "no such plugin executable" in err
    fake_node.write(f"{BIN_DIR}/{ECR}", "#!/bin/sh\n", mode=0o644)  # not executable: exec.LookPath refuses it too
    code, _, err = install(regcred, fake_node)
    assert code == 2 and "no such plugin executable" in err
    assert not fake_node.path(CONFIG).exists()

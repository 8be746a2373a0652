"""`regcred node doctor` on credential-provider plugins, and `regcred node provider remove` (issue 14, node level)."""

from __future__ import annotations

import json

import pytest

from tests.cli.node.test_node_provider import (
    BIN_DIR,
    CONFIG,
    ECR,
    ECR_IMAGE,
    OTHER_PROVIDER,
    install,
    kubeadm_node,
    kubelet_sees,
    plugin,
    snapshot,
)

ECR_APP = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/app:1"
NODE_FILE = {"auths": {"123456789012.dkr.ecr.eu-west-1.amazonaws.com": {"username": "AWS", "password": "tok"}}}


def installed_node(regcred, node):
    kubeadm_node(node)
    plugin(node)
    code, _, err = install(regcred, node)
    assert code == 0, err


def test_doctor_lists_providers_and_which_images_they_serve(regcred, fake_node):
    installed_node(regcred, fake_node)
    code, report = kubelet_sees(regcred, fake_node, ECR_APP, "nginx")
    assert code == 0, report["problems"]
    section = report["credential_providers"]
    assert section["config_source"] == section["bin_dir_source"] == "/etc/default/kubelet"
    assert section["providers"] == [{
        "name": ECR, "match_images": [ECR_IMAGE], "config": CONFIG, "default_cache_duration": "12h",
        "api_version": "credentialprovider.kubelet.k8s.io/v1", "executable": f"{BIN_DIR}/{ECR}", "present": True}]
    ecr, nginx = report["images"]
    assert ecr["providers"] == [{"name": ECR, "matched": ECR_IMAGE, "config": CONFIG}] and ecr["uses"] == f"provider {ECR}"
    assert nginx["providers"] == [] and nginx["uses"] == "anonymous pull"


def test_the_node_file_comes_before_the_providers(regcred, fake_node):
    installed_node(regcred, fake_node)
    fake_node.write("/var/lib/kubelet/config.json", NODE_FILE)
    code, report = kubelet_sees(regcred, fake_node, ECR_APP)
    image = report["images"][0]
    assert code == 0 and image["uses"] == "node file"
    assert [c["key"] for c in image["credentials"]] == ["123456789012.dkr.ecr.eu-west-1.amazonaws.com"]
    assert image["providers"][0]["name"] == ECR  # still asked: its credentials are tried after the node file's
    code, out, _ = regcred("node", "doctor", "--host-root", str(fake_node.root), ECR_APP)
    assert f"providers asked: {ECR} ({ECR_IMAGE}); uses node file first (after any matching pod Secret)" in out
    assert "tok" not in out


def test_providers_in_config_order(regcred, fake_node):
    installed_node(regcred, fake_node)
    plugin(fake_node, "catch-all")
    assert install(regcred, fake_node, name="catch-all", images=("*.*.*.*.amazonaws.com", "*.gcr.io"))[0] == 0
    _, report = kubelet_sees(regcred, fake_node, ECR_APP)
    assert [p["name"] for p in report["images"][0]["providers"]] == [ECR, "catch-all"]


@pytest.mark.parametrize(("breakage", "problem"), [
    (lambda node: node.path(f"{BIN_DIR}/{ECR}").unlink(), "is missing or not executable"),
    (lambda node: node.path(f"{BIN_DIR}/{ECR}").chmod(0o644), "is missing or not executable"),
    (lambda node: (node.write("/etc/default/kubelet", 'KUBELET_EXTRA_ARGS="--image-credential-provider-config='
                                                      f'/etc/cp.d --image-credential-provider-bin-dir={BIN_DIR}"\n'),
                   node.path("/etc/cp.d").mkdir()), "is a directory without"),
    (lambda node: node.write(CONFIG, "providers: [\n"), "is not valid YAML"),
    (lambda node: node.path(CONFIG).unlink(), "does not exist"),
    (lambda node: node.write("/etc/default/kubelet", 'KUBELET_EXTRA_ARGS="--image-credential-provider-bin-dir=/x"\n'),
     "but no --image-credential-provider-config"),
])
def test_doctor_names_what_stops_the_kubelet(regcred, fake_node, breakage, problem):
    installed_node(regcred, fake_node)
    breakage(fake_node)
    code, report = kubelet_sees(regcred, fake_node, ECR_APP)
    assert code == 1 and any(problem in p for p in report["problems"]), report["problems"]


def test_no_providers_is_a_note(regcred, fake_node):
    kubeadm_node(fake_node)
    code, report = kubelet_sees(regcred, fake_node, "nginx")
    assert code == 0 and report["credential_providers"]["providers"] == []
    assert "no credential-provider plugins" in report["credential_providers"]["notes"][0]


# --- remove ----------------------------------------------------------------------------------------------------


def remove(regcred, node, name, *args):
    code, out, err = regcred("node", "provider", "remove", name, "--host-root", str(node.root), *args, "-o", "json")
    return code, (json.loads(out) if out.strip() else None), err


def test_removing_one_of_two_keeps_the_other_and_the_flags(regcred, fake_node):
    installed_node(regcred, fake_node)
    plugin(fake_node, "gcp-auth")
    assert install(regcred, fake_node, name="gcp-auth", images=("*.gcr.io",))[0] == 0
    code, result, err = remove(regcred, fake_node, ECR)
    assert code == 0 and result["removed"] and not result["config_removed"] and result["flags"] == [], err
    assert "gcp-auth" in fake_node.read(CONFIG) and ECR not in fake_node.read(CONFIG)
    assert json.loads(fake_node.read(CONFIG + ".regcred-owned"))["entries"].keys() == {"gcp-auth"}


def test_removing_the_last_takes_the_file_and_flags_away(regcred, fake_node):
    kubeadm_node(fake_node)
    fake_node.write("/etc/default/kubelet", 'KUBELET_EXTRA_ARGS="--v=2"\n', mode=0o644)
    before = snapshot(fake_node)
    plugin(fake_node)
    before[str(fake_node.path(f"{BIN_DIR}/{ECR}").relative_to(fake_node.root))] = b"#!/bin/sh\n"
    assert install(regcred, fake_node)[0] == 0
    code, result, err = remove(regcred, fake_node, ECR, "--dry-run")
    assert code == 0 and result["config_removed"] and fake_node.path(CONFIG).exists(), err
    code, result, err = remove(regcred, fake_node, ECR)
    assert code == 0 and result["flags"] == ["/etc/default/kubelet"], err
    assert snapshot(fake_node) == before  # back to the node as it was (the plugin binary stays)
    code, _, err = remove(regcred, fake_node, ECR)
    assert code == 1 and "no provider" in err
    assert remove(regcred, fake_node, ECR, "--ignore-not-found")[0] == 0


def test_removing_the_last_from_regcreds_dropin(regcred, fake_node):
    unit = "[Service]\nExecStart=/usr/bin/kubelet --v=2\n"
    fake_node.write("/etc/systemd/system/kubelet.service", unit, mode=0o644)
    plugin(fake_node)
    code, result, _ = install(regcred, fake_node)
    assert code == 0 and result["flags"]["daemon_reload"]
    code, result, err = remove(regcred, fake_node, ECR)
    assert code == 0 and result["daemon_reload"], err
    assert not fake_node.path(result["flags"][0]).exists()
    assert kubelet_sees(regcred, fake_node)[1]["credential_providers"]["config"] is None


def test_flags_in_someone_elses_unit_are_not_edited(regcred, fake_node):
    fake_node.write("/etc/systemd/system/kubelet.service",
                    f"[Service]\nExecStart=/usr/bin/kubelet --image-credential-provider-config={CONFIG} "
                    f"--image-credential-provider-bin-dir={BIN_DIR}\n", mode=0o644)
    fake_node.write(CONFIG, json.dumps({"apiVersion": "kubelet.config.k8s.io/v1", "kind": "CredentialProviderConfig",
                                        "providers": [OTHER_PROVIDER]}))
    before = snapshot(fake_node)
    code, _, err = remove(regcred, fake_node, "gcp-auth")
    assert code == 2 and "regcred does not edit" in err and err.count("\n") == 1
    assert snapshot(fake_node) == before

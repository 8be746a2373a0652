"""Second review: symlinked credential files, multi-file installs that are all or nothing, `node remove` edges."""

from __future__ import annotations

import json
import os

from tests.support.cli import assert_no_secret
from tests.support.node import KUBELET, OTHER, PASSWORD, install

CONTAINERD = "/etc/containerd/config.toml"
CONTAINERD_TEXT = '# site\nversion = 2\n[plugins."io.containerd.grpc.v1.cri"]\n  sandbox_image = "reg.example.com/p:3"\n'



# --- symlinks ---------------------------------------------------------------------------------------------------


def test_auth_add_follows_a_symlinked_file_and_keeps_the_link(regcred, tmp_path):
    real = tmp_path / "store" / "auth.json"
    real.parent.mkdir()
    real.write_text(json.dumps({"auths": {"other.example.com": OTHER}}))
    link = tmp_path / "config.json"
    link.symlink_to("store/auth.json")
    code, _, _ = regcred("auth", "add", "reg.example.com", "-u", "alice", "--password-env", "NODE_PW", "--file", str(link))
    assert code == 0 and link.is_symlink() and os.readlink(link) == "store/auth.json"
    auths = json.loads(real.read_text())["auths"]
    assert set(auths) == {"other.example.com", "reg.example.com"}
    assert sorted(p.name for p in real.parent.iterdir()) == ["auth.json"]  # written in the target's directory
    code, _, _ = regcred("auth", "remove", "reg.example.com", "--file", str(link))
    assert code == 0 and link.is_symlink() and set(json.loads(real.read_text())["auths"]) == {"other.example.com"}


def test_node_install_resolves_an_absolute_link_inside_the_host_root(regcred, fake_node):
    target = fake_node.write("/etc/kubelet-creds/auth.json", {"auths": {"other.example.com": OTHER}})
    fake_node.path(KUBELET).parent.mkdir(parents=True)
    fake_node.path(KUBELET).symlink_to("/etc/kubelet-creds/auth.json")  # a path on the node, not on this machine
    code, result, _ = install(regcred, fake_node, "reg.example.com", "-u", "alice", "--runtime", "none",
                              "--keep-backup")
    assert code == 0 and result["path"] == KUBELET and result["backup"] == "/etc/kubelet-creds/auth.json.regcred-bak"
    assert fake_node.path(KUBELET).is_symlink()
    assert set(json.loads(target.read_text())["auths"]) == {"other.example.com", "reg.example.com"}
    backup = fake_node.read("/etc/kubelet-creds/auth.json.regcred-bak")
    assert json.loads(backup) == {"auths": {"other.example.com": OTHER}}
    code, out, _ = regcred("node", "doctor", "--host-root", str(fake_node.root), "-o", "json")
    assert json.loads(out)["used"] == KUBELET and "reg.example.com" in json.loads(out)["candidates"][0]["registries"]


def test_a_symlinked_kubelet_directory_is_followed_inside_the_host_root(regcred, fake_node):
    fake_node.path("/data/kubelet").mkdir(parents=True)
    fake_node.path("/var/lib").mkdir(parents=True)
    fake_node.path("/var/lib/kubelet").symlink_to("/data/kubelet")
    code, _, _ = install(regcred, fake_node, "reg.example.com", "-u", "alice", "--runtime", "none")
    assert code == 0 and fake_node.path("/var/lib/kubelet").is_symlink()
    assert "reg.example.com" in fake_node.json("/data/kubelet/config.json")["auths"]


def test_a_link_that_leads_outside_the_host_root_is_refused(regcred, fake_node, tmp_path):
    outside = tmp_path / "outside.json"
    outside.write_text('{"auths": {}}')
    fake_node.path(KUBELET).parent.mkdir(parents=True)
    fake_node.path(KUBELET).symlink_to("../../../../../../../../../../.." + str(outside))
    code, _, err = install(regcred, fake_node, "reg.example.com", "-u", "alice", "--runtime", "none")
    assert code == 2 and len(err.strip().splitlines()) == 1 and "outside --host-root" in err
    assert outside.read_text() == '{"auths": {}}' and fake_node.path(KUBELET).is_symlink()
    code, out, _ = regcred("node", "doctor", "--host-root", str(fake_node.root), "-o", "json")
    first = json.loads(out)["candidates"][0]
    assert first["status"] == "unreadable" and "outside --host-root" in first["problems"][0]


# --- all or nothing ----------------------------------------------------------------------------------------------


def _snapshot(node):
    return {str(p.relative_to(node.root)): p.read_bytes() for p in sorted(node.root.rglob("*")) if p.is_file()}


def test_runtime_write_failing_leaves_config_json_untouched(regcred, fake_node, fail_replace):
    fake_node.write(KUBELET, {"auths": {"other.example.com": OTHER}})
    fake_node.write(CONTAINERD, CONTAINERD_TEXT)
    before = _snapshot(fake_node)
    fail_replace("config.toml")
    code, _, err = install(regcred, fake_node, "reg.example.com", "-u", "alice", "--runtime", "containerd")
    assert code == 1 and len(err.strip().splitlines()) == 1
    assert "No space left on device" in err and "nothing was changed" in err
    assert _snapshot(fake_node) == before


def test_config_json_failing_restores_the_runtime_config_already_written(regcred, fake_node, fail_replace):
    fake_node.write(KUBELET, {"auths": {"other.example.com": OTHER}})
    fake_node.write(CONTAINERD, CONTAINERD_TEXT, mode=0o644)
    fake_node.write(CONTAINERD + ".bak", "# an older backup\n")
    before = _snapshot(fake_node)
    fail_replace("config.json")
    code, _, err = install(regcred, fake_node, "reg.example.com", "-u", "alice", "--runtime", "containerd")
    assert code == 1 and len(err.strip().splitlines()) == 1
    assert (f"nothing was changed ({CONTAINERD}.regcred-owned, {CONTAINERD}, {KUBELET}.regcred-owned written, "
            "then restored)") in err
    assert _snapshot(fake_node) == before
    assert oct(fake_node.path(CONTAINERD).stat().st_mode & 0o777) == "0o644"  # mode restored too


def test_ownership_record_failing_restores_everything(regcred, fake_node, fail_replace):
    fake_node.write(CONTAINERD, CONTAINERD_TEXT)
    before = _snapshot(fake_node)
    fail_replace("config.json.regcred-owned")
    code, _, err = install(regcred, fake_node, "reg.example.com", "-u", "alice", "--runtime", "containerd")
    assert code == 1 and "nothing was changed" in err and KUBELET in err and CONTAINERD in err
    assert _snapshot(fake_node) == before and not fake_node.path(KUBELET).exists()


def test_home_location_failing_config_json_restores_kubeadm_flags(regcred, fake_node, fail_replace):
    fake_node.write("/etc/systemd/system/kubelet.service.d/10-kubeadm.conf",
                    "[Service]\nEnvironmentFile=-/var/lib/kubelet/kubeadm-flags.env\n")
    fake_node.write("/var/lib/kubelet/kubeadm-flags.env", 'KUBELET_KUBEADM_ARGS="--v=2"\n', mode=0o644)
    before = _snapshot(fake_node)
    fail_replace("config.json")
    code, _, err = install(regcred, fake_node, "reg.example.com", "-u", "alice", "--location", "home",
                           "--runtime", "none")
    assert code == 1 and "kubeadm-flags.env, /root/.docker/config.json.regcred-owned written, then restored" in err
    assert _snapshot(fake_node) == before


def test_remove_is_all_or_nothing_too(regcred, fake_node, fail_replace):
    code, _, err = install(regcred, fake_node, "reg.example.com", "-u", "alice", "--runtime", "containerd")
    assert code == 0, err
    before = _snapshot(fake_node)
    fail_replace("config.json")
    code, _, err = regcred("node", "remove", "reg.example.com", "--host-root", str(fake_node.root))
    assert code == 1 and "nothing was changed" in err and _snapshot(fake_node) == before


def test_a_backup_name_taken_by_a_directory_is_a_clean_failure(regcred, fake_node):
    fake_node.write(KUBELET, {"auths": {"other.example.com": OTHER}})
    fake_node.path(KUBELET + ".regcred-bak").mkdir()
    code, _, err = install(regcred, fake_node, "reg.example.com", "-u", "alice", "--runtime", "none", "--keep-backup")
    assert code == 1 and len(err.strip().splitlines()) == 1 and "is a directory" in err.lower()
    assert fake_node.json(KUBELET) == {"auths": {"other.example.com": OTHER}}
    assert not any(fake_node.path(KUBELET + ".regcred-bak").iterdir())
    # without --keep-backup a directory of that name is not regcred's backup: left alone, the write goes on
    code, _, err = install(regcred, fake_node, "reg.example.com", "-u", "alice", "--runtime", "none")
    assert code == 0, err
    assert fake_node.path(KUBELET + ".regcred-bak").is_dir()


# --- warnings in JSON, node remove -------------------------------------------------------------------------------


def test_home_shadowing_warning_is_in_the_json_too(regcred, fake_node):
    fake_node.write(KUBELET, '{"credsStore": "desktop"}')
    code, result, err = install(regcred, fake_node, "reg.example.com", "-u", "alice", "--location", "home",
                                "--runtime", "none")
    assert code == 0 and len(result["warnings"]) == 1 and result["warnings"][0].startswith(f"{KUBELET} parses")
    assert f"warning: {result['warnings'][0]}" in err


def test_node_remove_dry_run_json_and_bad_keys(regcred, fake_node):
    code, _, err = install(regcred, fake_node, "reg.example.com", "-u", "alice", "--runtime", "containerd")
    assert code == 0, err
    before = _snapshot(fake_node)
    code, out, _ = regcred("node", "remove", "reg.example.com", "--host-root", str(fake_node.root), "--dry-run",
                           "-o", "json")
    result = json.loads(out)
    assert code == 0 and _snapshot(fake_node) == before
    assert result == {"path": KUBELET, "removed": ["reg.example.com"], "backup": None,
                      "runtime": {"name": "containerd", "config": CONTAINERD, "hosts": ["reg.example.com"],
                                  "changed": True, "notes": []},
                      "restart_needed": ["containerd"], "dry_run": True}
    code, _, err = regcred("node", "remove", "bad host", "--host-root", str(fake_node.root))
    assert code == 2 and "invalid registry key 'bad host'" in err and _snapshot(fake_node) == before
    code, _, err = regcred("node", "remove", "nothere.example.com", "--host-root", str(fake_node.root))
    assert code == 1 and f"no entry for 'nothere.example.com' in {KUBELET} or {CONTAINERD}" in err
    assert_no_secret(out, [PASSWORD])  # the fixture checks the plain password; nor its base64/`auth` forms

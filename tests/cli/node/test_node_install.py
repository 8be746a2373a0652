"""`regcred node install` and `node remove` against a fake node root."""

from __future__ import annotations

import json
import os
import stat

import pytest

from tests.support.node import KUBELET, OTHER, PASSWORD, install


def test_install_into_an_empty_node(regcred, fake_node):
    code, result, _ = install(regcred, fake_node, "reg.example.com:5000", "-u", "alice", "--runtime", "none")
    assert code == 0
    assert result == {
        "path": KUBELET, "added": ["reg.example.com:5000"], "replaced": [], "kept": [], "removed": [], "skipped": [],
        "backup": None, "changed": True, "home": None,
        "runtime": {"name": None, "config": None, "hosts": [], "added": [], "replaced": [], "removed": [], "skipped": [],
                    "changed": False, "notes": []},
        "restart_needed": [], "dry_run": False, "root_dir": "/var/lib/kubelet", "warnings": [],
    }
    path = fake_node.path(KUBELET)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    entry = fake_node.json(KUBELET)["auths"]["reg.example.com:5000"]
    assert entry["username"] == "alice" and entry["password"] == PASSWORD and entry["auth"]
    assert stat.S_IMODE(fake_node.path(KUBELET + ".regcred-owned").stat().st_mode) == 0o600


def test_install_keeps_other_entries_unknown_keys_and_keeps_a_backup_when_asked(regcred, fake_node):
    before = {"auths": {"other.example.com": OTHER}, "HttpHeaders": {"X-Meta": "1"}, "credsStore": "x", "zz": [1]}
    fake_node.write(KUBELET, before, mode=0o644)
    code, result, _ = install(regcred, fake_node, "reg.example.com", "-u", "alice", "--runtime", "none",
                              "--keep-backup")
    assert code == 0 and result["kept"] == ["other.example.com"] and result["backup"] == KUBELET + ".regcred-bak"
    after = fake_node.json(KUBELET)
    assert after["auths"]["other.example.com"] == OTHER
    assert {k: after[k] for k in ("HttpHeaders", "credsStore", "zz")} == {k: before[k] for k in ("HttpHeaders", "credsStore", "zz")}
    assert json.loads(fake_node.read(KUBELET + ".regcred-bak")) == before
    assert stat.S_IMODE(fake_node.path(KUBELET + ".regcred-bak").stat().st_mode) == 0o600
    assert stat.S_IMODE(fake_node.path(KUBELET).stat().st_mode) == 0o600
    # running it again changes nothing and keeps the same backup
    code, again, _ = install(regcred, fake_node, "reg.example.com", "-u", "alice", "--runtime", "none")
    assert again["changed"] is False and sorted(again["kept"]) == ["other.example.com", "reg.example.com"]


@pytest.mark.parametrize("content", ["{broken", '{"auths": []}', '{"auths": {"r": {"auth": "!!"}}}'])
def test_unparseable_file_is_refused_untouched(regcred, fake_node, content):
    path = fake_node.write(KUBELET, content)
    mtime = path.stat().st_mtime_ns
    code, _, err = install(regcred, fake_node, "reg.example.com", "-u", "alice", "--runtime", "none")
    assert code == 2 and len(err.strip().splitlines()) == 1 and "config.json" in err
    assert path.read_text() == content and path.stat().st_mtime_ns == mtime
    assert not fake_node.path(KUBELET + ".bak").exists()


def test_conflicting_entry_needs_overwrite(regcred, fake_node):
    fake_node.write(KUBELET, {"auths": {"reg.example.com": OTHER}})
    code, _, err = install(regcred, fake_node, "reg.example.com", "-u", "alice", "--runtime", "none")
    assert code == 2 and "already has other credentials" in err and "--overwrite" in err
    assert fake_node.json(KUBELET)["auths"]["reg.example.com"] == OTHER
    code, result, _ = install(regcred, fake_node, "reg.example.com", "-u", "alice", "--runtime", "none", "--overwrite")
    assert code == 0 and result["replaced"] == ["reg.example.com"]
    assert fake_node.json(KUBELET)["auths"]["reg.example.com"]["username"] == "alice"


def test_dry_run_writes_nothing(regcred, fake_node):
    code, result, _ = install(regcred, fake_node, "reg.example.com", "-u", "alice", "--dry-run")
    assert code == 0 and result["dry_run"] is True and result["added"] == ["reg.example.com"]
    assert not any(fake_node.root.rglob("*config.json*"))


def test_table_output_never_shows_the_password(regcred, fake_node):
    code, out, _ = regcred("node", "install", "reg.example.com", "-u", "alice", "--password-env", "NODE_PW",
                           "--host-root", str(fake_node.root), "--runtime", "none")
    assert code == 0 and "added     reg.example.com" in out and "within 5 minutes" in out


def test_kubeadm_custom_root_dir(regcred, fake_node):
    fake_node.write("/usr/lib/systemd/system/kubelet.service.d/10-kubeadm.conf",
                    "[Service]\nEnvironmentFile=-/var/lib/kubelet/kubeadm-flags.env\n"
                    "ExecStart=\nExecStart=/usr/bin/kubelet $KUBELET_KUBEADM_ARGS\n")
    fake_node.write("/var/lib/kubelet/kubeadm-flags.env", 'KUBELET_KUBEADM_ARGS="--root-dir=/data/kubelet"\n')
    code, result, _ = install(regcred, fake_node, "reg.example.com", "-u", "alice", "--runtime", "none")
    assert code == 0 and result["path"] == "/data/kubelet/config.json" and result["root_dir"] == "/data/kubelet"
    assert fake_node.path("/data/kubelet/config.json").is_file()
    code, result, _ = install(regcred, fake_node, "r2.example.com", "-u", "a", "--runtime", "none", "--root-dir", "/x")
    assert result["path"] == "/x/config.json"


def test_location_home_sets_home_in_kubeadm_flags_env_once(regcred, fake_node):
    fake_node.write("/etc/systemd/system/kubelet.service.d/10-kubeadm.conf",
                    "[Service]\nEnvironmentFile=-/var/lib/kubelet/kubeadm-flags.env\n")
    flags = 'KUBELET_KUBEADM_ARGS="--v=2"\n'
    fake_node.write("/var/lib/kubelet/kubeadm-flags.env", flags, mode=0o644)
    code, result, _ = install(regcred, fake_node, "reg.example.com", "-u", "alice", "--location", "home",
                              "--runtime", "none")
    assert code == 0 and result["path"] == "/root/.docker/config.json" and result["restart_needed"] == ["kubelet"]
    assert result["home"] == {"path": "/var/lib/kubelet/kubeadm-flags.env", "set": "HOME=/root", "changed": True,
                              "daemon_reload": False}
    assert fake_node.read("/var/lib/kubelet/kubeadm-flags.env") == flags + "HOME=/root\n"
    assert fake_node.path("/root/.docker/config.json").is_file()
    code, again, _ = install(regcred, fake_node, "reg.example.com", "-u", "alice", "--location", "home",
                             "--runtime", "none")
    assert again["home"] is None and again["restart_needed"] == []  # HOME is set now
    assert fake_node.read("/var/lib/kubelet/kubeadm-flags.env").count("HOME=") == 1


def test_location_home_without_kubeadm_writes_a_dropin(regcred, fake_node):
    code, result, _ = install(regcred, fake_node, "reg.example.com", "-u", "alice", "--location", "home",
                              "--runtime", "none")
    assert code == 0 and result["home"]["daemon_reload"] is True
    assert "Environment=HOME=/root" in fake_node.read("/etc/systemd/system/kubelet.service.d/90-regcred-home.conf")


def test_location_home_ignores_env_files_the_unit_does_not_read(regcred, fake_node):
    # The unit names no EnvironmentFile=: systemd never reads kubeadm-flags.env, so HOME must go in a drop-in.
    fake_node.write("/etc/systemd/system/kubelet.service", "[Service]\nExecStart=/usr/bin/kubelet\n", mode=0o644)
    fake_node.write("/var/lib/kubelet/kubeadm-flags.env", 'KUBELET_KUBEADM_ARGS="--v=2"\n', mode=0o644)
    code, result, _ = install(regcred, fake_node, "reg.example.com", "-u", "alice", "--location", "home",
                              "--runtime", "none")
    assert code == 0 and result["home"]["path"] == "/etc/systemd/system/kubelet.service.d/90-regcred-home.conf"
    assert "HOME" not in fake_node.read("/var/lib/kubelet/kubeadm-flags.env")


def test_location_home_with_user_in_the_unit_needs_no_home_change(regcred, fake_node):
    fake_node.write("/etc/systemd/system/kubelet.service", "[Service]\nUser=root\nExecStart=/usr/bin/kubelet\n",
                    mode=0o644)
    code, result, _ = install(regcred, fake_node, "reg.example.com", "-u", "alice", "--location", "home",
                              "--runtime", "none")
    assert code == 0 and result["home"] is None and result["restart_needed"] == []
    assert result["path"] == "/root/.docker/config.json"


def test_location_home_warns_when_an_earlier_file_shadows_it(regcred, fake_node):
    fake_node.write(KUBELET, '{"credsStore": "desktop"}')  # parses: the kubelet stops here
    code, result, err = install(regcred, fake_node, "reg.example.com", "-u", "alice", "--location", "home",
                                "--runtime", "none")
    assert code == 0 and result["path"] == "/root/.docker/config.json"
    assert f"warning: {KUBELET} parses and comes first" in err
    fake_node.write(KUBELET, "{not json")  # an invalid file is skipped by the kubelet: no shadowing
    code, _, err = install(regcred, fake_node, "reg.example.com", "-u", "alice", "--location", "home",
                           "--runtime", "none")
    assert code == 0 and "warning" not in err


def test_runtime_config_that_cannot_be_edited_refuses_before_any_write(regcred, fake_node):
    fake_node.write("/etc/containerd/config.toml", 'version = 2\n[plugins."io.containerd.grpc.v1.cri".registry]\n'
                    '  configs = { "o.io" = { auth = { username = "x", password = "y" } } }\n')
    code, _, err = install(regcred, fake_node, "reg.example.com", "-u", "alice", "--runtime", "containerd")
    assert code == 2 and err.count("\n") == 1 and "config.toml" in err
    assert not fake_node.path(KUBELET).exists()


def test_restart_kubelet_on_a_foreign_host_root_is_one_clear_line(regcred, fake_node):
    code, _, err = regcred("node", "install", "reg.example.com", "-u", "alice", "--password-env", "NODE_PW",
                           "--host-root", str(fake_node.root), "--runtime", "none", "--restart-kubelet")
    assert code == 1 and "systemd is not reachable" in err
    assert fake_node.path(KUBELET).is_file()  # the file was written first


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores directory permissions")
def test_cannot_write_is_one_line(regcred, fake_node):
    fake_node.path("/var/lib/kubelet").mkdir(parents=True)
    fake_node.path("/var/lib/kubelet").chmod(0o500)
    code, _, err = install(regcred, fake_node, "reg.example.com", "-u", "alice", "--runtime", "none")
    assert code in (1, 2) and len(err.strip().splitlines()) == 1


def test_cannot_write_into_a_file_as_directory(regcred, fake_node):
    fake_node.write("/var/lib/kubelet", "not a directory")
    code, _, err = install(regcred, fake_node, "reg.example.com", "-u", "alice", "--runtime", "none")
    assert code in (1, 2) and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_bad_server_and_missing_arguments(regcred, fake_node):
    code, _, err = install(regcred, fake_node, "bad host", "-u", "alice")
    assert code == 2 and "invalid registry key" in err
    code, _, err = regcred("node", "install", "--host-root", str(fake_node.root))
    assert code == 2 and "--from-file" in err


# --- runtimes ------------------------------------------------------------------------------------------------

CONTAINERD = '# site config\nversion = 2\n[plugins."io.containerd.grpc.v1.cri"]\n  sandbox_image = "reg.example.com/pause:3.9"\n'


def test_auto_gives_containerd_the_sandbox_registry_only(regcred, fake_node):
    fake_node.write("/etc/containerd/config.toml", CONTAINERD, mode=0o644)
    code, result, _ = install(regcred, fake_node, "other.example.com", "-u", "alice")
    assert code == 0 and result["runtime"]["changed"] is False and "not on these registries" in result["runtime"]["notes"][0]
    assert fake_node.read("/etc/containerd/config.toml") == CONTAINERD
    code, result, _ = install(regcred, fake_node, "reg.example.com", "-u", "alice")
    rt = result["runtime"]
    assert (rt["name"], rt["config"], rt["hosts"], rt["changed"]) == (
        "containerd", "/etc/containerd/config.toml", ["reg.example.com"], True)
    assert result["restart_needed"] == ["containerd"] and "deprecated" in rt["notes"][0]
    text = fake_node.read("/etc/containerd/config.toml")
    assert text.startswith("# site config") and 'registry.configs."reg.example.com".auth]' in text
    assert stat.S_IMODE(fake_node.path("/etc/containerd/config.toml").stat().st_mode) == 0o600
    code, out, _ = regcred("node", "doctor", "--host-root", str(fake_node.root), "-o", "json")
    assert json.loads(out)["runtime"]["registry_has_credentials"] is True and code == 0


def test_remove_undoes_install_of_the_only_containerd_host(regcred, fake_node):
    fake_node.write("/etc/containerd/config.toml", CONTAINERD)
    assert install(regcred, fake_node, "reg.example.com", "-u", "alice")[0] == 0
    code, out, err = regcred("node", "remove", "reg.example.com", "--host-root", str(fake_node.root), "-o", "json")
    assert code == 0, err
    result = json.loads(out)
    assert result["removed"] == ["reg.example.com"] and result["runtime"]["changed"] is True
    import tomllib

    data = tomllib.loads(fake_node.read("/etc/containerd/config.toml"))
    assert data["plugins"]["io.containerd.grpc.v1.cri"] == {"sandbox_image": "reg.example.com/pause:3.9"}


def test_remove_refused_by_the_runtime_leaves_config_json_untouched(regcred, fake_node):
    fake_node.write(KUBELET, {"auths": {"reg.example.com": OTHER}})
    before = fake_node.read(KUBELET)
    fake_node.write("/etc/containerd/config.toml", "version = 2\n[plugins\n")
    code, out, err = regcred("node", "remove", "reg.example.com", "--host-root", str(fake_node.root),
                             "--runtime", "containerd")
    assert code == 2 and out == "" and err.startswith("regcred: error: /etc/containerd/config.toml")
    assert fake_node.read(KUBELET) == before and not fake_node.path(KUBELET + ".bak").exists()


def test_doctor_names_missing_runtime_credentials_for_the_sandbox_image(regcred, fake_node):
    fake_node.write("/etc/containerd/config.toml", CONTAINERD)
    install(regcred, fake_node, "reg.example.com", "-u", "alice", "--runtime", "none")
    code, out, _ = regcred("node", "doctor", "--host-root", str(fake_node.root), "-o", "json")
    report = json.loads(out)
    assert code == 1 and report["runtime"]["sandbox_registry"] == "reg.example.com"
    assert any("pulled by containerd, not the kubelet" in p for p in report["problems"])


def test_crio_dropin_points_at_the_kubelet_file(regcred, fake_node):
    fake_node.write("/etc/crio/crio.conf", '[crio.image]\npause_image = "reg.example.com/pause:3.10"\n')
    code, result, _ = install(regcred, fake_node, "reg.example.com", "-u", "alice", "--runtime", "crio")
    assert code == 0 and result["restart_needed"] == ["crio"]
    assert 'global_auth_file = "/var/lib/kubelet/config.json"' in fake_node.read("/etc/crio/crio.conf.d/90-regcred-auth.conf")
    code, out, _ = regcred("node", "doctor", "--host-root", str(fake_node.root), "-o", "json")
    assert code == 0 and json.loads(out)["runtime"]["registry_has_credentials"] is True
    _, again, _ = install(regcred, fake_node, "reg.example.com", "-u", "alice", "--runtime", "crio")
    assert again["runtime"]["changed"] is False


def test_crio_with_a_foreign_auth_file_is_left_alone(regcred, fake_node):
    fake_node.write("/etc/crio/crio.conf.d/10-site.conf", '[crio.image]\nglobal_auth_file = "/etc/site-auth.json"\n')
    code, result, _ = install(regcred, fake_node, "reg.example.com", "-u", "alice", "--runtime", "crio")
    assert code == 0 and result["runtime"]["changed"] is False and "/etc/site-auth.json" in result["runtime"]["notes"][0]
    assert not fake_node.path("/etc/crio/crio.conf.d/90-regcred-auth.conf").exists()


def test_k3s_registries_yaml_and_remove_everywhere(regcred, fake_node):
    fake_node.write("/etc/rancher/k3s/registries.yaml", "mirrors:\n  docker.io:\n    endpoint: [\"https://m:5000\"]\n")
    code, result, _ = install(regcred, fake_node, "reg.example.com", "-u", "alice", "--runtime", "k3s")
    assert code == 0 and result["restart_needed"] == ["k3s"]
    import yaml

    doc = yaml.safe_load(fake_node.read("/etc/rancher/k3s/registries.yaml"))
    assert doc["configs"]["reg.example.com"]["auth"]["username"] == "alice" and doc["mirrors"]
    code, out, _ = regcred("node", "remove", "reg.example.com", "--host-root", str(fake_node.root), "-o", "json")
    removed = json.loads(out)
    assert code == 0 and removed["removed"] == ["reg.example.com"] and removed["runtime"]["changed"] is True
    assert "reg.example.com" not in fake_node.json(KUBELET)["auths"]
    assert "configs" not in yaml.safe_load(fake_node.read("/etc/rancher/k3s/registries.yaml")) or not yaml.safe_load(
        fake_node.read("/etc/rancher/k3s/registries.yaml"))["configs"]
    assert not fake_node.path(KUBELET + ".regcred-owned").exists()


def test_remove_keeps_other_entries_and_reports_not_found(regcred, fake_node):
    fake_node.write(KUBELET, {"auths": {"other.example.com": OTHER, "reg.example.com": OTHER}})
    code, _, _ = regcred("node", "remove", "reg.example.com", "--host-root", str(fake_node.root), "--runtime", "none")
    assert code == 0 and fake_node.json(KUBELET)["auths"] == {"other.example.com": OTHER}
    code, _, err = regcred("node", "remove", "reg.example.com", "--host-root", str(fake_node.root), "--runtime", "none")
    assert code == 1 and f"no entry for 'reg.example.com' in {KUBELET}" in err
    code, _, _ = regcred("node", "remove", "reg.example.com", "--host-root", str(fake_node.root), "--runtime", "none",
                         "--ignore-not-found")
    assert code == 0


def test_a_bad_server_is_refused_before_any_password_is_asked_for(regcred, fake_node):
    """No password option and no terminal: the bad key is the error, not the missing password."""
    code, _, err = regcred("node", "install", "bad key", "-u", "alice", "--host-root", str(fake_node.root))
    assert code == 2 and "invalid registry key 'bad key'" in err and "password" not in err
    code, _, err = regcred("node", "install", "r.example.com", "--host-root", str(fake_node.root))
    assert code == 2 and "--username is required" in err

"""`--prune` in a runtime's config: only the auth regcred wrote, and only while nobody changed it since."""

from __future__ import annotations

import json
import tomllib

import pytest
import yaml

from regcred.core.node.ownership import entry_fingerprint
from tests.support.fixtures import containerd_dump
from tests.support.node import PASSWORD, install

CONTAINERD = "/etc/containerd/config.toml"
K3S = "/etc/rancher/k3s/registries.yaml"
SITE = '# site config\nversion = 2\n[plugins."io.containerd.grpc.v1.cri".registry.configs."site.example.com".auth]\n' \
       '  username = "site"\n  password = "site-pass"\n'
OURS = {"username": "alice", "password": PASSWORD}


def _from_file(fake_node, *servers: str):
    """A pull-secret file listing `servers` (what the DaemonSet mounts), on the test's side of the host root."""
    path = fake_node.root.parent / "pull.json"
    path.write_text(json.dumps({"auths": {s: {"username": "alice", "password": PASSWORD} for s in servers}}))
    return str(path)


def _configs(fake_node) -> dict:
    return tomllib.loads(fake_node.read(CONTAINERD))["plugins"]["io.containerd.grpc.v1.cri"]["registry"]["configs"]


def _sync(regcred, fake_node, runtime: str, *servers: str):
    code, result, err = install(regcred, fake_node, "--from-file", _from_file(fake_node, *servers), "--runtime",
                                runtime, "--prune", "--keep-existing")
    assert code == 0, err
    return result


def test_prune_removes_a_dropped_host_from_containerd_and_keeps_the_rest(regcred, fake_node, tmp_path):
    fake_node.write(CONTAINERD, SITE, mode=0o644)
    first = _sync(regcred, fake_node, "containerd", "a.example.com", "b.example.com")
    assert first["runtime"]["added"] == ["a.example.com", "b.example.com"] and first["runtime"]["removed"] == []
    assert json.loads(fake_node.read(CONTAINERD + ".regcred-owned"))["entries"] == {
        "a.example.com": entry_fingerprint(OURS), "b.example.com": entry_fingerprint(OURS)}
    second = _sync(regcred, fake_node, "containerd", "a.example.com")
    assert second["runtime"]["removed"] == ["b.example.com"] and second["runtime"]["added"] == []
    assert second["removed"] == ["b.example.com"] and second["restart_needed"] == ["containerd"]
    configs = _configs(fake_node)
    assert set(configs) == {"site.example.com", "a.example.com"}  # the site's own auth stays
    assert configs["site.example.com"]["auth"] == {"username": "site", "password": "site-pass"}
    assert fake_node.read(CONTAINERD).startswith("# site config")
    assert list(json.loads(fake_node.read(CONTAINERD + ".regcred-owned"))["entries"]) == ["a.example.com"]
    dump = containerd_dump(tmp_path, fake_node.read(CONTAINERD))
    assert 'configs."a.example.com".auth]' in dump and "b.example.com" not in dump
    assert 'configs."site.example.com".auth]' in dump
    third = _sync(regcred, fake_node, "containerd", "a.example.com")
    assert third["runtime"]["changed"] is False and third["restart_needed"] == []  # in step: nothing to do


def test_prune_leaves_auth_edited_after_regcred_and_auth_it_never_wrote(regcred, fake_node):
    fake_node.write(CONTAINERD, SITE, mode=0o644)
    first = _sync(regcred, fake_node, "containerd", "a.example.com", "b.example.com", "site.example.com")
    assert first["runtime"]["skipped"] == ["site.example.com"]  # the site's own auth is not replaced
    head, tail = fake_node.read(CONTAINERD).split('"a.example.com"', 1)
    fake_node.write(CONTAINERD, head + '"a.example.com"' + tail.replace('"alice"', '"bob"', 1))  # edited by hand
    result = _sync(regcred, fake_node, "containerd")
    configs = _configs(fake_node)
    assert result["runtime"]["removed"] == ["b.example.com"]
    assert configs["a.example.com"]["auth"]["username"] == "bob"  # edited since: no longer regcred's
    assert configs["site.example.com"]["auth"] == {"username": "site", "password": "site-pass"}
    assert not fake_node.path(CONTAINERD + ".regcred-owned").exists()  # nothing recorded any more


def test_other_auth_for_the_same_host_is_a_conflict_like_in_config_json(regcred, fake_node):
    fake_node.write(CONTAINERD, SITE, mode=0o644)
    before = fake_node.read(CONTAINERD)
    code, _, err = install(regcred, fake_node, "site.example.com", "-u", "alice", "--runtime", "containerd")
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "'site.example.com' already has other auth that regcred did not write; nothing written" in err
    assert "--overwrite" in err and fake_node.read(CONTAINERD) == before
    assert not fake_node.path("/var/lib/kubelet/config.json").exists()  # refused before any write
    code, result, _ = install(regcred, fake_node, "site.example.com", "-u", "alice", "--runtime", "containerd",
                              "--overwrite")
    assert code == 0 and result["runtime"]["replaced"] == ["site.example.com"]
    assert _configs(fake_node)["site.example.com"]["auth"] == OURS
    assert _sync(regcred, fake_node, "containerd")["runtime"]["removed"] == ["site.example.com"]  # now regcred's


def test_identical_auth_already_there_is_not_claimed(regcred, fake_node):
    site = SITE.replace('"site"', '"alice"').replace('"site-pass"', json.dumps(PASSWORD))
    fake_node.write(CONTAINERD, site, mode=0o644)
    result = _sync(regcred, fake_node, "containerd", "site.example.com")
    assert result["runtime"]["changed"] is False and not fake_node.path(CONTAINERD + ".regcred-owned").exists()
    assert _sync(regcred, fake_node, "containerd")["runtime"]["removed"] == []
    assert _configs(fake_node)["site.example.com"]["auth"] == OURS


def test_without_prune_a_dropped_host_stays(regcred, fake_node):
    _sync(regcred, fake_node, "containerd", "a.example.com", "b.example.com")
    code, result, _ = install(regcred, fake_node, "--from-file", _from_file(fake_node, "a.example.com"),
                              "--runtime", "containerd")
    assert code == 0 and result["runtime"]["removed"] == []
    assert set(_configs(fake_node)) == {"a.example.com", "b.example.com"}


def test_prune_in_k3s_registries_yaml_keeps_mirrors_and_comments(regcred, fake_node):
    fake_node.write(K3S, "# k3s\nmirrors:\n  docker.io:\n    endpoint: [\"https://m:5000\"]\n")
    _sync(regcred, fake_node, "k3s", "a.example.com", "b.example.com")
    result = _sync(regcred, fake_node, "k3s", "a.example.com")
    assert result["runtime"]["removed"] == ["b.example.com"] and result["restart_needed"] == ["k3s"]
    text = fake_node.read(K3S)
    assert text.startswith("# k3s") and list(yaml.safe_load(text)["configs"]) == ["a.example.com"]
    assert yaml.safe_load(text)["mirrors"]


def test_auto_prunes_only_hosts_no_entry_names(regcred, fake_node):
    """With --runtime auto only the sandbox registry is given; the other entries' hosts are still wanted."""
    fake_node.write(CONTAINERD, 'version = 2\n[plugins."io.containerd.grpc.v1.cri"]\n'
                    '  sandbox_image = "a.example.com/pause:3.9"\n')
    _sync(regcred, fake_node, "containerd", "a.example.com", "b.example.com")
    result = _sync(regcred, fake_node, "auto", "a.example.com", "b.example.com")
    assert result["runtime"]["removed"] == [] and set(_configs(fake_node)) == {"a.example.com", "b.example.com"}
    result = _sync(regcred, fake_node, "auto", "a.example.com")
    assert result["runtime"]["removed"] == ["b.example.com"]


def test_node_remove_forgets_the_host_in_the_record(regcred, fake_node):
    _sync(regcred, fake_node, "containerd", "a.example.com", "b.example.com")
    code, _, err = regcred("node", "remove", "b.example.com", "--host-root", str(fake_node.root),
                           "--runtime", "containerd")
    assert code == 0, err
    assert list(json.loads(fake_node.read(CONTAINERD + ".regcred-owned"))["entries"]) == ["a.example.com"]
    regcred("node", "remove", "a.example.com", "--host-root", str(fake_node.root), "--runtime", "containerd")
    assert not fake_node.path(CONTAINERD + ".regcred-owned").exists()


def test_dry_run_prune_writes_nothing(regcred, fake_node):
    _sync(regcred, fake_node, "containerd", "a.example.com", "b.example.com")
    before = {p: fake_node.read(p) for p in (CONTAINERD, CONTAINERD + ".regcred-owned")}
    code, result, _ = install(regcred, fake_node, "--from-file", _from_file(fake_node, "a.example.com"),
                              "--runtime", "containerd", "--prune", "--dry-run")
    assert code == 0 and result["runtime"]["removed"] == ["b.example.com"]
    assert {p: fake_node.read(p) for p in before} == before


@pytest.mark.parametrize("record", ["not json", '{"entries": []}', ""])
def test_a_damaged_record_claims_nothing(regcred, fake_node, record):
    _sync(regcred, fake_node, "containerd", "a.example.com", "b.example.com")
    fake_node.write(CONTAINERD + ".regcred-owned", record)
    result = _sync(regcred, fake_node, "containerd", "a.example.com")
    assert result["runtime"]["removed"] == [] and "b.example.com" in _configs(fake_node)


def test_crio_dropin_goes_when_no_registry_is_left(regcred, fake_node):
    fake_node.write("/etc/crio/crio.conf", '[crio.image]\npause_image = "a.example.com/pause:3.10"\n')
    _sync(regcred, fake_node, "crio", "a.example.com")
    assert fake_node.path("/etc/crio/crio.conf.d/90-regcred-auth.conf").is_file()
    assert _sync(regcred, fake_node, "crio", "a.example.com")["runtime"]["changed"] is False  # in step
    result = _sync(regcred, fake_node, "crio")
    assert result["runtime"]["removed"] == ["global_auth_file"] and result["restart_needed"] == ["crio"]
    assert not fake_node.path("/etc/crio/crio.conf.d/90-regcred-auth.conf").exists()
    assert fake_node.read("/etc/crio/crio.conf").startswith("[crio.image]")


def test_auto_keeps_the_crio_dropin_while_any_registry_is_left(regcred, fake_node):
    """With --runtime auto a registry that does not serve the pause image gives CRI-O nothing, but is still wanted."""
    fake_node.write("/etc/crio/crio.conf", '[crio.image]\npause_image = "a.example.com/pause:3.10"\n')
    _sync(regcred, fake_node, "auto", "a.example.com")
    result = _sync(regcred, fake_node, "auto", "b.example.com")
    assert result["runtime"]["removed"] == [] and fake_node.path("/etc/crio/crio.conf.d/90-regcred-auth.conf").exists()


def test_table_output_names_what_happened_to_each_host(regcred, fake_node):
    fake_node.write(CONTAINERD, SITE, mode=0o644)
    _sync(regcred, fake_node, "containerd", "a.example.com", "b.example.com", "site.example.com")
    code, out, _ = regcred("node", "install", "--from-file", _from_file(fake_node, "a.example.com"), "--host-root",
                           str(fake_node.root), "--runtime", "containerd", "--prune", "--dry-run")
    assert code == 0
    assert f"runtime containerd: {CONTAINERD} already up to date for a.example.com" in out
    assert f"runtime containerd: would remove regcred's b.example.com from {CONTAINERD}" in out
    code, out, _ = regcred("node", "install", "--from-file", _from_file(fake_node, "a.example.com", "site.example.com"),
                           "--host-root", str(fake_node.root), "--runtime", "containerd", "--keep-existing")
    assert "runtime containerd: skipped site.example.com (has other auth, left as is)" in out


def test_node_remove_leaves_the_runtime_config_and_its_backup_private(regcred, fake_node):
    """The rewritten config still holds other hosts' passwords: 0600 even if someone loosened the mode meanwhile."""
    import stat

    _sync(regcred, fake_node, "containerd", "a.example.com", "b.example.com")
    fake_node.path(CONTAINERD).chmod(0o644)
    code, _, err = regcred("node", "remove", "b.example.com", "--host-root", str(fake_node.root),
                           "--runtime", "containerd", "--keep-backup")
    assert code == 0, err
    assert stat.S_IMODE(fake_node.path(CONTAINERD).stat().st_mode) == 0o600
    assert stat.S_IMODE(fake_node.path(CONTAINERD + ".regcred-bak").stat().st_mode) == 0o600

"""A run killed at any rename leaves the node usable: the next rotation needs no --overwrite, config.json and the
runtime's config end with the same credential, and the killed run's temporaries are cleaned up (issue 11, items
11 and 12). Backups (items 14, 15) are here too: they are what a crash or a removal could leave behind."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest

from regcred.shells.staletemps import STALE_AFTER
from tests.support.node import KUBELET, OTHER, install

CONTAINERD = "/etc/containerd/config.toml"
REGISTRY = "reg.example.com"
SANDBOX = f'version = 2\n[plugins."io.containerd.grpc.v1.cri"]\n  sandbox_image = "{REGISTRY}/pause:3.9"\n'
KILLED = 137  # 128 + SIGKILL, what a shell reports for kill -9

# `python -c` that runs regcred and dies like `kill -9` (os._exit: no cleanup, no finally) on rename number CRASH_AT.
CRASH_AT_RENAME = """
import os, sys
real, count = os.replace, [0]
def replace(src, dst, *args, **kwargs):
    count[0] += 1
    if count[0] == int(os.environ["CRASH_AT"]):
        os._exit(137)
    return real(src, dst, *args, **kwargs)
os.replace = replace
from regcred.cli.main import main
sys.argv[0] = "regcred"
main()
"""


def _node_install(root: Path, password: str, *prefix: str, crash_at: int | None = None,
                  registry: str = REGISTRY) -> subprocess.CompletedProcess:
    """`regcred node install` in its own process (optionally under `prefix`, e.g. strace) on the fake node."""
    env = {**os.environ, "PW": password, "CRASH_AT": str(crash_at or 0)}
    args = ["node", "install", registry, "-u", "alice", "--password-env", "PW", "--host-root", str(root),
            "--runtime", "containerd", "-o", "json"]
    command = [*prefix, sys.executable, "-c", CRASH_AT_RENAME, *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=60, check=False)


def _passwords(node) -> tuple[str, str]:
    """The password config.json and containerd's config hold for REGISTRY."""
    kubelet = node.json(KUBELET)["auths"][REGISTRY]["password"]
    configs = tomllib.loads(node.read(CONTAINERD))["plugins"]["io.containerd.grpc.v1.cri"]["registry"]["configs"]
    return kubelet, configs[REGISTRY]["auth"]["password"]


def _temporaries(node) -> list[Path]:
    return [p for p in node.root.rglob(".*.tmp")]


def _age(paths: list[Path]) -> None:
    then = time.time() - STALE_AFTER - 5
    for path in paths:
        os.utime(path, (then, then))


def _rotate_after_a_crash(node, crash: list[str], crash_at: int | None) -> subprocess.CompletedProcess:
    """pw-1 installed cleanly, pw-2 killed at rename `crash_at`, then pw-3 must go through as a plain rotation."""
    done = _node_install(node.root, "pw-1")
    assert done.returncode == 0, done.stderr
    return _node_install(node.root, "pw-2", *crash, crash_at=crash_at)


def _assert_next_rotation_succeeds(node, step: int) -> None:
    leftovers = _temporaries(node)
    _age(leftovers)  # a killed run's temporaries are removed once they are old (a live write holds one for ms)
    done = _node_install(node.root, "pw-3")
    assert done.returncode == 0, (step, done.stderr)  # no "already has other credentials", no --overwrite
    assert _passwords(node) == ("pw-3", "pw-3"), step
    assert _temporaries(node) == [], step  # the full credentials of the killed run are gone too
    for name in (KUBELET, CONTAINERD):
        assert json.loads(node.read(name + ".regcred-owned")).get("pending") is None, step  # settled again


def test_a_kill_at_every_rename_never_blocks_the_next_rotation(fake_node, tmp_path):
    steps = 0
    for step in range(1, 20):
        node = type(fake_node)(tmp_path / f"node-{step}")
        node.write(CONTAINERD, SANDBOX)
        killed = _rotate_after_a_crash(node, [], step)
        if killed.returncode == 0:
            break  # the run has fewer renames than `step`: every one has been tried
        assert killed.returncode == KILLED, killed.stderr
        steps = step
        _assert_next_rotation_succeeds(node, step)
    # both crash-safe pairs: the runtime's record, config and record again; then config.json's three
    assert steps >= 6


def test_a_removal_after_a_crash_keeps_the_interrupted_entry_regcreds(regcred, fake_node, tmp_path):
    """`node remove` of another registry settles the record without dropping what the killed run was writing."""
    for step in range(1, 7):
        node = type(fake_node)(tmp_path / f"node-{step}")
        node.write(CONTAINERD, SANDBOX)
        assert _node_install(node.root, "other", registry="other.example.com").returncode == 0
        assert _rotate_after_a_crash(node, [], step).returncode == KILLED
        code, _, err = regcred("node", "remove", "other.example.com", "--host-root", str(node.root),
                               "--runtime", "containerd")
        assert code == 0, (step, err)
        _assert_next_rotation_succeeds(node, step)


def test_a_real_sigkill_at_each_rename_under_strace(fake_node, tmp_path):
    """The same with a real SIGKILL, delivered by strace's fault injection as the rename syscall starts."""
    if shutil.which("strace") is None:
        pytest.skip("strace not installed (Debian: strace); the os._exit variant above covers the same steps")
    probe = subprocess.run(["strace", "-qq", "-o", "/dev/null", "true"], capture_output=True, check=False)
    if probe.returncode != 0:
        pytest.skip("strace cannot trace here (ptrace not permitted)")
    for step in (1, 3, 5, 6):  # the pre-record, between the runtime pair and config.json, config.json, the record
        node = type(fake_node)(tmp_path / f"node-{step}")
        node.write(CONTAINERD, SANDBOX)
        strace = ["strace", "-f", "-qq", "-o", "/dev/null", "-e", "trace=rename,renameat,renameat2",
                  "-e", f"inject=rename,renameat,renameat2:signal=KILL:when={step}"]
        killed = _rotate_after_a_crash(node, strace, None)
        assert killed.returncode in (KILLED, -9), (step, killed.returncode, killed.stderr)
        _assert_next_rotation_succeeds(node, step)


def test_young_temporaries_and_other_names_are_left_alone(regcred, fake_node):
    fake_node.write(KUBELET, {"auths": {"other.example.com": OTHER}})
    directory = fake_node.path(KUBELET).parent
    young = directory / ".config.json.abcd1234.tmp"  # maybe another writer's, right now
    old_foreign = [directory / ".config.json.tmp", directory / ".other.json.abcd1234.tmp", directory / "config.json.tmp"]
    old_ours = directory / ".config.json.zz_99xyz.tmp"
    for path in [young, *old_foreign, old_ours]:
        path.write_text("{}")
    _age([*old_foreign, old_ours])
    code, _, err = install(regcred, fake_node, REGISTRY, "-u", "alice", "--runtime", "none")
    assert code == 0, err
    assert young.exists() and all(p.exists() for p in old_foreign) and not old_ours.exists()


# --- backups: removal removes, nothing outlives the next write, the user's .bak is theirs -----------------------


def test_rotation_and_removal_leave_no_old_credential_behind(regcred, fake_node):
    fake_node.write(CONTAINERD, SANDBOX)
    for password in ("old-pass", "new-pass"):
        code, _, err = regcred("node", "install", REGISTRY, "-u", "alice", "--password-env", "PW",
                               "--host-root", str(fake_node.root), env={"PW": password})
        assert code == 0, err
    code, _, err = regcred("node", "remove", REGISTRY, "--host-root", str(fake_node.root))
    assert code == 0, err
    everything = b"".join(p.read_bytes() for p in fake_node.root.rglob("*") if p.is_file())
    assert b"old-pass" not in everything and b"new-pass" not in everything
    assert fake_node.json(KUBELET) == {"auths": {}} and sorted(p.name for p in fake_node.root.rglob("*") if
                                                             p.is_file()) == ["config.json", "config.toml"]


def test_a_kept_backup_goes_with_the_next_write_unless_asked_again(regcred, fake_node):
    fake_node.write(KUBELET, {"auths": {"other.example.com": OTHER}})
    code, result, _ = install(regcred, fake_node, REGISTRY, "-u", "alice", "--runtime", "none", "--keep-backup")
    assert code == 0 and result["backup"] == KUBELET + ".regcred-bak"
    code, _, err = regcred("node", "remove", REGISTRY, "--host-root", str(fake_node.root))
    assert code == 0, err
    assert not fake_node.path(KUBELET + ".regcred-bak").exists()
    code, out, err = regcred("node", "remove", "other.example.com", "--host-root", str(fake_node.root),
                             "--keep-backup", "-o", "json")
    assert code == 0 and json.loads(out)["backup"] == KUBELET + ".regcred-bak"
    assert fake_node.json(KUBELET + ".regcred-bak") == {"auths": {"other.example.com": OTHER}}  # asked for


def test_a_backup_regcred_did_not_make_is_never_touched(regcred, fake_node):
    mine = b'{"auths": {"mine.example.com": {"auth": "bWU6cHc="}}}  my own backup\n'
    fake_node.write(KUBELET, {"auths": {}})
    fake_node.write(KUBELET + ".bak", mine, mode=0o640)
    fake_node.write(CONTAINERD, SANDBOX)
    fake_node.write(CONTAINERD + ".bak", b"# the admin's copy\n", mode=0o644)
    for extra in ([], ["--keep-backup"]):
        code, _, err = regcred("node", "install", REGISTRY, "-u", "alice", "--password-env", "NODE_PW",
                               "--host-root", str(fake_node.root), *extra)
        assert code == 0, err
        code, _, err = regcred("node", "remove", REGISTRY, "--host-root", str(fake_node.root), *extra)
        assert code == 0, err
    assert fake_node.path(KUBELET + ".bak").read_bytes() == mine
    assert fake_node.path(CONTAINERD + ".bak").read_bytes() == b"# the admin's copy\n"
    assert oct(fake_node.path(KUBELET + ".bak").stat().st_mode & 0o777) == "0o640"

"""`node provider install` killed at any rename (kill -9 as os._exit, test_crash_safety's harness): the next run
goes through without --overwrite and leaves the config, its ownership record and the kubelet's flags consistent; a
failed write restores what was already written."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.cli.node.test_crash_safety import CRASH_AT_RENAME, KILLED
from tests.cli.node.test_node_provider import (
    CONFIG,
    ECR,
    ECR_IMAGE,
    install,
    kubeadm_node,
    kubelet_sees,
    plugin,
    snapshot,
)


def _install(root: Path, duration: str, crash_at: int | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "CRASH_AT": str(crash_at or 0)}
    args = ["node", "provider", "install", "--name", ECR, "--match-image", ECR_IMAGE, "--default-cache-duration",
            duration, "--host-root", str(root), "-o", "json"]
    return subprocess.run([sys.executable, "-c", CRASH_AT_RENAME, *args], env=env, capture_output=True, text=True,
                          timeout=60, check=False)


def _settled(regcred, node, duration: str) -> None:
    text = node.read(CONFIG)
    assert f"defaultCacheDuration: {duration}" in text and text.count(ECR) == 1, text
    record = json.loads(node.read(CONFIG + ".regcred-owned"))
    assert record.get("pending") is None and set(record["entries"]) == {ECR}
    code, report = kubelet_sees(regcred, node, "1.dkr.ecr.x.amazonaws.com/a")
    assert code == 0 and report["images"][0]["providers"][0]["name"] == ECR, report["problems"]


def test_a_kill_at_every_rename_of_a_first_install_and_of_an_update(regcred, fake_node, tmp_path):
    tried = {"first": 0, "update": 0}
    for phase in tried:
        for step in range(1, 10):
            node = type(fake_node)(tmp_path / f"{phase}-{step}")
            kubeadm_node(node)
            plugin(node)
            if phase == "update":
                assert _install(node.root, "12h").returncode == 0
            killed = _install(node.root, "30m", crash_at=step)
            if killed.returncode == 0:
                break  # fewer renames than `step`: each one has been tried
            assert killed.returncode == KILLED, killed.stderr
            tried[phase] = step
            again = _install(node.root, "1h")
            assert again.returncode == 0, (phase, step, again.stderr)  # no "regcred did not write it"
            _settled(regcred, node, "1h")
    # first install: the record's pending step, the config, the record, the kubelet's flag file; an update: three
    assert tried == {"first": 4, "update": 3}


def test_the_flag_file_failing_restores_the_config_and_its_record(regcred, fake_node, fail_replace):
    kubeadm_node(fake_node)
    fake_node.write("/etc/default/kubelet", 'KUBELET_EXTRA_ARGS="--v=2"\n', mode=0o644)
    plugin(fake_node)
    before = snapshot(fake_node)
    fail_replace("kubelet")  # /etc/default/kubelet, written last
    code, _, err = install(regcred, fake_node)
    assert code == 1 and err.count("\n") == 1 and "No space left on device" in err, err
    assert (f"nothing was changed ({CONFIG}.regcred-owned, {CONFIG} written, then restored)") in err
    assert snapshot(fake_node) == before


def test_remove_is_all_or_nothing(regcred, fake_node, fail_replace):
    kubeadm_node(fake_node)
    plugin(fake_node)
    assert install(regcred, fake_node)[0] == 0
    before = snapshot(fake_node)
    fail_replace("kubelet")
    code, _, err = regcred("node", "provider", "remove", ECR, "--host-root", str(fake_node.root))
    assert code == 1 and "nothing was changed" in err and snapshot(fake_node) == before

"""Real components: skopeo pulls with the config.json regcred writes; a write killed half-way tears nothing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.cli import assert_clean_error, run_regcred
from tests.support.fixtures import HTPASSWD_USERS, IMAGE_REPO, IMAGE_TAG
from tests.support.node import KUBELET


@pytest.mark.real
def test_skopeo_pulls_with_the_installed_node_file(fake_node, registry_htpasswd, skopeo_inspect):
    fake_node.write(KUBELET, {"auths": {"other.example.com": {"auth": "dTpw"}}})
    done = run_regcred("node", "install", registry_htpasswd.host, "-u", "alice", "--password-stdin",
                       "--host-root", fake_node.root, "--runtime", "none", input=HTPASSWD_USERS["alice"] + "\n")
    assert done.returncode == 0, done.stderr
    assert HTPASSWD_USERS["alice"] not in done.stdout + done.stderr
    ref = f"{registry_htpasswd.host}/{IMAGE_REPO}:{IMAGE_TAG}"
    ok = skopeo_inspect(ref, fake_node.path(KUBELET))
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["Name"].endswith(IMAGE_REPO)
    # the same file with a wrong password is refused by the registry: the credential really is what counts
    wrong = run_regcred("node", "install", registry_htpasswd.host, "-u", "alice", "--password-env", "PW", "--overwrite",
                        "--host-root", fake_node.root, "--runtime", "none", env={"PW": "wrong"})
    assert wrong.returncode == 0
    denied = skopeo_inspect(ref, fake_node.path(KUBELET))
    assert denied.returncode != 0 and "unauthorized" in denied.stderr.lower()


def test_subprocess_errors_are_one_line_with_exit_codes(fake_node):
    fake_node.write(KUBELET, "{not json")
    done = run_regcred("node", "install", "reg.example.com", "-u", "a", "--password-env", "PW",
                       "--host-root", fake_node.root, env={"PW": "pw"})
    assert_clean_error(done, 2, "config.json", "not valid JSON")
    assert fake_node.read(KUBELET) == "{not json"
    doctor = run_regcred("node", "doctor", "--host-root", fake_node.root)
    assert_clean_error(doctor, 1, "node doctor found 1 problem")
    assert "invalid" in doctor.stdout


CHILD = """
import sys
from pathlib import Path
from regcred.shells.files import atomic_write
size = int(sys.argv[2])
atomic_write(Path(sys.argv[1]), b'{"auths": {}, "pad": "' + b"a" * size + b'"}\\n')
"""


@pytest.mark.parametrize("size", [200 * 1024 * 1024])
def test_write_killed_half_way_leaves_the_old_file(fake_node, size):
    old = json.dumps({"auths": {"reg.example.com": {"auth": "dTpw"}}})
    target = fake_node.write(KUBELET, old)
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(target), str(size)],
                             env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[3] / "src")})
    deadline = time.monotonic() + 30
    killed_mid_write = False
    while time.monotonic() < deadline and child.poll() is None:
        temps = [p for p in target.parent.iterdir() if p.name.endswith(".tmp")]
        if temps and temps[0].stat().st_size > 0:
            child.send_signal(signal.SIGKILL)
            killed_mid_write = True
            break
        time.sleep(0.001)
    child.wait(timeout=30)
    if not killed_mid_write:
        pytest.skip("the write finished before it could be interrupted on this machine")
    content = target.read_text()
    assert content == old  # killed while the temp file was being written, before the rename: the old file, whole
    # the left-over temp file is not a name the kubelet searches, and doctor still uses the old file
    leftovers = [p.name for p in target.parent.iterdir() if p.name != "config.json"]
    assert all(name.startswith(".config.json.") and name.endswith(".tmp") for name in leftovers)
    done = run_regcred("node", "doctor", "--host-root", fake_node.root, "-o", "json")
    assert json.loads(done.stdout)["used"] == KUBELET
    for name in leftovers:
        (target.parent / name).unlink()

"""`auth add/remove` change one entry and nothing else: other entries' bytes, the file's owner bits (issue 11)."""

from __future__ import annotations

import json
import stat

from tests.support.node import OTHER

# a key that is not valid UTF-8 (\xff): the kubelet reads it as U+FFFD; regcred must write it back as it was
ODD_KEY = b'"odd-\xff.example.com"'


def _file_with_an_odd_key(tmp_path, mode=0o600):
    path = tmp_path / "config.json"
    path.write_bytes(b'{"auths": {' + ODD_KEY + b": " + json.dumps(OTHER).encode() + b"}}")
    path.chmod(mode)
    return path


def test_add_and_remove_keep_another_entrys_invalid_utf8_key_byte_for_byte(regcred, tmp_path):
    path = _file_with_an_odd_key(tmp_path)
    code, _, err = regcred("auth", "add", "reg.example.com", "-u", "alice", "--password-env", "NODE_PW",
                           "--file", str(path))
    assert code == 0, err
    data = path.read_bytes()
    assert ODD_KEY in data and "\ufffd".encode() not in data
    code, _, err = regcred("auth", "remove", "reg.example.com", "--file", str(path))
    assert code == 0, err
    assert ODD_KEY in path.read_bytes() and b"reg.example.com" not in path.read_bytes()


def test_add_keeps_a_read_only_file_read_only_and_drops_group_and_other_bits(regcred, tmp_path):
    for before, after in ((0o400, 0o400), (0o600, 0o600), (0o644, 0o600), (0o640, 0o600)):
        path = tmp_path / f"c{before:o}.json"
        path.write_text(json.dumps({"auths": {"other.example.com": OTHER}}))
        path.chmod(before)
        code, _, err = regcred("auth", "add", "reg.example.com", "-u", "alice", "--password-env", "NODE_PW",
                               "--file", str(path))
        assert code == 0, err
        assert stat.S_IMODE(path.stat().st_mode) == after, (oct(before), oct(path.stat().st_mode))
    new = tmp_path / "new.json"
    code, _, _ = regcred("auth", "add", "reg.example.com", "-u", "alice", "--password-env", "NODE_PW", "--file", str(new))
    assert code == 0 and stat.S_IMODE(new.stat().st_mode) == 0o600


def test_node_install_and_remove_keep_the_bytes_too_and_report_the_key_as_the_kubelet_reads_it(fake_node):
    import subprocess
    import sys

    from tests.support.node import KUBELET

    fake_node.write(KUBELET, b'{"auths": {' + ODD_KEY + b": " + json.dumps(OTHER).encode() + b"}}")
    for command in (["install", "reg.example.com", "-u", "alice", "--password-env", "PW"], ["remove", "reg.example.com"]):
        done = subprocess.run([sys.executable, "-m", "regcred", "node", *command, "--host-root", str(fake_node.root),
                               "--runtime", "none", "-o", "json"], capture_output=True, env={"PW": "pw", "PATH": "/bin"},
                              check=False)
        assert done.returncode == 0, done.stderr
        assert ODD_KEY in fake_node.path(KUBELET).read_bytes()
        done.stdout.decode("utf-8")  # the JSON output stays valid UTF-8
    assert json.loads(done.stdout)["removed"] == ["reg.example.com"]
    code = subprocess.run([sys.executable, "-m", "regcred", "node", "install", "reg.example.com", "-u", "alice",
                           "--password-env", "PW", "--host-root", str(fake_node.root), "--runtime", "none", "-o", "json"],
                          capture_output=True, env={"PW": "pw", "PATH": "/bin"}, check=False)
    assert "odd-\ufffd.example.com" in json.loads(code.stdout)["kept"]


def test_auth_add_removes_the_old_temporaries_of_its_file_only(regcred, tmp_path):
    import os
    import time

    from regcred.shells.staletemps import STALE_AFTER

    path = tmp_path / "config.json"
    path.write_text("{}")
    stale, other = tmp_path / ".config.json.k1ll3d_9.tmp", tmp_path / ".other.json.k1ll3d_9.tmp"
    for leftover in (stale, other):
        leftover.write_text('{"auths": {"old": {"auth": "YTpi"}}}')
        then = time.time() - STALE_AFTER - 1
        os.utime(leftover, (then, then))
    code, _, err = regcred("auth", "add", "reg.example.com", "-u", "alice", "--password-env", "NODE_PW",
                           "--file", str(path))
    assert code == 0, err
    assert not stale.exists() and other.exists()

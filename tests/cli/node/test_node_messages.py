"""Bad node input is one clear line, and node messages name files one way (issue 11, "Smaller")."""

from __future__ import annotations

import errno
import os

import pytest

from regcred.shells import files as files_module
from tests.support.node import KUBELET, install


@pytest.mark.parametrize("root_dir", ["var/lib/kubelet", "../kubelet", "./x"])
def test_a_relative_root_dir_is_named_as_such(regcred, fake_node, root_dir):
    for command in (["node", "install", "reg.example.com", "-u", "a", "--password-env", "NODE_PW"],
                    ["node", "doctor"], ["node", "remove", "reg.example.com"]):
        code, _, err = regcred(*command, "--host-root", str(fake_node.root), "--root-dir", root_dir)
        assert code == 2 and err.strip().splitlines() == [
            f"regcred: error: --root-dir {root_dir!r}: not an absolute path (give the kubelet's --root-dir as the "
            "node sees it, e.g. /var/lib/kubelet)"], err
    assert not any(fake_node.root.iterdir())


@pytest.mark.parametrize("server", ["r.io:99999", "r.io:0", "r.io:" + "9" * 5000, "[::1]:70000"])
def test_a_port_out_of_range_is_bad_input_not_a_dns_failure(regcred, fake_node, tmp_path, server):
    shown = repr(server)
    for command in (["node", "install", server, "-u", "a", "--password-env", "NODE_PW", "--host-root",
                     str(fake_node.root)],
                    ["auth", "add", server, "-u", "a", "--password-env", "NODE_PW", "--file", str(tmp_path / "c.json")],
                    ["verify", server, "-u", "a", "--password-env", "NODE_PW"]):
        code, _, err = regcred(*command)
        assert code == 2 and len(err.strip().splitlines()) == 1, err
        assert f"invalid registry key {shown}: port" in err and "out of range (1-65535)" in err and "DNS" not in err
    assert not any(fake_node.root.iterdir()) and not (tmp_path / "c.json").exists()


def test_node_error_lines_name_node_paths_and_the_host_root_once(regcred, fake_node, monkeypatch):
    fake_node.write(KUBELET, "{broken")
    code, _, err = install(regcred, fake_node, "reg.example.com", "-u", "alice", "--runtime", "none")
    root = str(fake_node.root)
    assert code == 2 and err.startswith(f"regcred: error: {KUBELET}: ") and err.count(root) == 1
    assert err.rstrip().endswith(f"(on the node under --host-root {root})")

    fake_node.write(KUBELET, '{"auths": {}}')
    real = os.replace

    def full_disk(src, dst, *args, **kwargs):
        if os.path.basename(dst) == "config.json":
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(src, dst, *args, **kwargs)

    monkeypatch.setattr(files_module.os, "replace", full_disk)
    code, _, err = install(regcred, fake_node, "reg.example.com", "-u", "alice", "--runtime", "none")
    # before: the host-side path first, then node paths in the same line
    assert code == 1 and err.startswith(f"regcred: error: {KUBELET}: cannot write") and err.count(root) == 1, err


def test_on_the_node_itself_messages_are_unchanged():
    from pathlib import Path

    from regcred.shells.host import HostRoot

    assert HostRoot(Path("/")).in_node_terms("/var/lib/kubelet/config.json: bad") == "/var/lib/kubelet/config.json: bad"

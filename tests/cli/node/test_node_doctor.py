"""`regcred node doctor` on fake nodes: each search path, shadowing, HOME unset, invalid files, permissions."""

from __future__ import annotations

import json

import pytest

GOOD = {"auths": {"reg.example.com": {"username": "u", "password": "p", "auth": "dTpw"}}}


def doctor(regcred, node, *args):
    code, out, err = regcred("node", "doctor", "--host-root", str(node.root), *args, "-o", "json")
    return code, json.loads(out), err


def by_path(report):
    return {c["path"]: c for c in report["candidates"]}


@pytest.mark.parametrize(("path", "args"), [
    ("/var/lib/kubelet/config.json", []),
    ("/srv/config.json", ["--kubelet-cwd", "/srv"]),
    ("/home/k/.docker/config.json", ["--kubelet-home", "/home/k"]),
    ("/.docker/config.json", []),
    ("/var/lib/kubelet/.dockercfg", []),
    ("/srv/.dockercfg", ["--kubelet-cwd", "/srv"]),
    ("/home/k/.dockercfg", ["--kubelet-home", "/home/k"]),
    ("/.dockercfg", []),
])
def test_each_search_path_is_found(regcred, fake_node, path, args):
    fake_node.write(path, GOOD if path.endswith("config.json") else GOOD["auths"])
    code, report, _ = doctor(regcred, fake_node, *args, "reg.example.com/team/app:v1")
    assert code == 0, report["problems"]
    assert report["used"] == path and by_path(report)[path]["status"] == "used"
    assert report["images"][0]["credentials"] == [{"key": "reg.example.com", "username": "u", "source": path}]


def test_empty_file_shadowing_the_real_one_exits_1(regcred, fake_node):
    fake_node.write("/var/lib/kubelet/config.json", "{}")
    fake_node.write("/.docker/config.json", GOOD)
    code, report, err = doctor(regcred, fake_node, "reg.example.com/app")
    assert code == 1 and "node doctor found 1 problem" in err
    assert by_path(report)["/.docker/config.json"]["status"] == "shadowed"
    assert report["images"][0]["credentials"] == []
    assert "never reads /.docker/config.json" in report["problems"][0]


def test_home_unset_under_systemd(regcred, fake_node):
    fake_node.write("/root/.docker/config.json", GOOD)
    code, report, _ = doctor(regcred, fake_node)
    assert code == 1 and report["home"] is None and report["used"] is None
    assert "HOME is unset" in report["problems"][0]
    fake_node.write("/etc/systemd/system/kubelet.service", "[Service]\nEnvironment=HOME=/root\nExecStart=/usr/bin/kubelet\n")
    code, report, _ = doctor(regcred, fake_node)
    assert code == 0 and report["home"] == "/root" and report["used"] == "/root/.docker/config.json"


def test_invalid_and_world_readable_files(regcred, fake_node):
    fake_node.write("/var/lib/kubelet/config.json", '{"auths": {"reg.example.com": {"auth": "Zm9vOmJhcg== "}}}')
    fake_node.write("/.docker/config.json", GOOD, mode=0o644)
    code, report, _ = doctor(regcred, fake_node)
    assert code == 1
    cands = by_path(report)
    assert cands["/var/lib/kubelet/config.json"]["status"] == "invalid"
    assert cands["/.docker/config.json"]["status"] == "used" and cands["/.docker/config.json"]["mode"] == "0644"
    assert len(report["problems"]) == 2 and any("chmod 600" in p for p in report["problems"])


def test_custom_root_dir_from_default_kubelet(regcred, fake_node):
    fake_node.write("/etc/default/kubelet", "KUBELET_EXTRA_ARGS=--root-dir=/data/kubelet\n")
    fake_node.write("/data/kubelet/config.json", GOOD)
    code, report, _ = doctor(regcred, fake_node)
    assert code == 0 and report["root_dir"] == "/data/kubelet" and report["used"] == "/data/kubelet/config.json"
    assert report["root_dir_source"] == "/etc/default/kubelet"


def test_json_shape_and_table(regcred, fake_node):
    fake_node.write("/var/lib/kubelet/config.json", GOOD)
    code, report, _ = doctor(regcred, fake_node)
    assert code == 0, report["problems"]
    assert set(report) >= {"root_dir", "candidates", "used", "images", "runtime", "problems"}
    assert set(report["candidates"][0]) >= {"path", "status", "registries", "problems"}
    code, out, _ = regcred("node", "doctor", "--host-root", str(fake_node.root), "nginx")
    assert code == 0 and "used: /var/lib/kubelet/config.json" in out and "image nginx: none" in out


def test_bad_image_and_host_root_are_usage_errors(regcred, fake_node):
    code, _, err = regcred("node", "doctor", "--host-root", str(fake_node.root), "Bad/Image")
    assert code == 2 and "invalid image reference" in err
    code, _, err = regcred("node", "doctor", "--host-root", str(fake_node.root / "nope"))
    assert code == 2 and "not a directory" in err

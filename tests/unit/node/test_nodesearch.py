"""The kubelet's search order, shadowing, invalid files, permissions, and install planning (pure core)."""

from __future__ import annotations

import json

import pytest

from regcred.core.node import search as ns

GOOD = json.dumps({"auths": {"reg.example.com": {"auth": "dTpw"}}}).encode()  # u:p


def states(**files: bytes | tuple[bytes, int]) -> dict[str, ns.FileState]:
    out = {}
    for path, value in files.items():
        content, mode = value if isinstance(value, tuple) else (value, 0o100600)
        out[path] = ns.FileState(path, exists=True, content=content, mode=mode)
    return out


def test_search_order_with_home_set():
    paths = [c.path for c in ns.candidate_paths("/var/lib/kubelet", "/", "/root")]
    assert paths == [
        "/var/lib/kubelet/config.json", "/config.json", "/root/.docker/config.json", "/.docker/config.json",
        "/var/lib/kubelet/.dockercfg", "/.dockercfg", "/root/.dockercfg",
    ]


def test_home_unset_resolves_in_the_working_directory():
    cands = ns.candidate_paths("/var/lib/kubelet", "/srv", None)
    assert [c.path for c in cands] == [
        "/var/lib/kubelet/config.json", "/srv/config.json", "/srv/.docker/config.json", "/.docker/config.json",
        "/var/lib/kubelet/.dockercfg", "/srv/.dockercfg", "/.dockercfg",
    ]
    under_root = ns.candidate_paths("/var/lib/kubelet", "/", None)
    assert [c.searched_as for c in under_root if c.path == "/.docker/config.json"] == [("home", "root")]


def test_relative_root_dir_and_home_resolve_in_the_working_directory():
    # The kubelet makes every candidate absolute with filepath.Abs, i.e. against its working directory.
    paths = [c.path for c in ns.candidate_paths("kubelet-data", "/srv", "users/k")]
    assert paths[:3] == ["/srv/kubelet-data/config.json", "/srv/config.json", "/srv/users/k/.docker/config.json"]
    assert "/srv/users/k/.dockercfg" in paths


def walk(files, home=None, cwd="/", expected_home="/root"):
    cands = ns.candidate_paths("/var/lib/kubelet", cwd, home)
    return ns.evaluate(cands, files, home=home, expected_home=expected_home)


def status(report):
    return {c.path: c.status for c in report.candidates if c.status != ns.MISSING}


def test_first_valid_file_wins_and_later_ones_are_shadowed():
    r = walk(states(**{"/var/lib/kubelet/config.json": GOOD, "/root/.docker/config.json": GOOD}), home="/root")
    assert status(r) == {"/var/lib/kubelet/config.json": "used", "/root/.docker/config.json": "shadowed"}
    assert r.problems == []


@pytest.mark.parametrize("content", [b"{}", b'{"credsStore": "desktop"}', b'{"auths": {}}', b"null"])
def test_empty_or_authsless_file_that_hides_the_real_one_is_a_problem(content):
    r = walk(states(**{"/var/lib/kubelet/config.json": content, "/.docker/config.json": GOOD}))
    assert status(r) == {"/var/lib/kubelet/config.json": "used", "/.docker/config.json": "shadowed"}
    assert any("never reads /.docker/config.json" in p for p in r.problems), r.problems


def test_empty_file_alone_is_only_a_note():
    r = walk(states(**{"/var/lib/kubelet/config.json": b'{"auths": {}}'}))
    assert r.problems == [] and "no registry credentials" in r.notes[0]


def test_invalid_file_is_skipped_and_named():
    bad = json.dumps({"auths": {"reg.example.com": {"auth": "not base64!"}}}).encode()
    r = walk(states(**{"/var/lib/kubelet/config.json": bad, "/.docker/config.json": GOOD}))
    assert status(r) == {"/var/lib/kubelet/config.json": "invalid", "/.docker/config.json": "used"}
    assert len(r.problems) == 1 and "reg.example.com" in r.problems[0] and "'auth'" in r.problems[0]
    assert "dTpw" not in r.problems[0]


def test_legacy_dockercfg_is_read_only_when_no_config_json_parses():
    legacy = json.dumps({"legacy.example.com": {"auth": "dTpw"}}).encode()
    r = walk(states(**{"/var/lib/kubelet/.dockercfg": legacy, "/config.json": b"{broken"}))
    assert r.used is not None and r.used.path == "/var/lib/kubelet/.dockercfg"
    r2 = walk(states(**{"/var/lib/kubelet/.dockercfg": legacy, "/config.json": GOOD}))
    assert status(r2) == {"/config.json": "used", "/var/lib/kubelet/.dockercfg": "shadowed"}


def test_unreadable_candidate():
    files = {"/var/lib/kubelet/config.json": ns.FileState("/var/lib/kubelet/config.json", exists=True,
                                                          error="is a directory")}
    r = walk(files)
    assert status(r) == {"/var/lib/kubelet/config.json": "unreadable"} and "is a directory" in r.problems[0]


@pytest.mark.parametrize(("mode", "who"), [(0o100644, "group and others"), (0o100640, "group"), (0o100604, "others")])
def test_group_or_world_readable_credential_file(mode, who):
    r = walk(states(**{"/var/lib/kubelet/config.json": (GOOD, mode)}))
    assert r.problems == [f"/var/lib/kubelet/config.json: readable by {who} (mode {mode & 0o777:04o}): run chmod 600 on it"]


def test_entries_the_kubelet_ignores_are_named():
    doc = {"credsStore": "desktop", "credHelpers": {"gcr.io": "gcloud"},
           "auths": {"acr.example.com": {"identitytoken": "tok"}, "ok.example.com": {"auth": "dTpw"}}}
    r = walk(states(**{"/var/lib/kubelet/config.json": json.dumps(doc).encode()}))
    text = "\n".join(r.problems)
    assert "'credsStore' is ignored" in text and "'credHelpers' is ignored" in text
    assert "'identitytoken' is ignored" in text and "acr.example.com' has no username" in text
    assert "tok" not in text.replace("token", "")


def test_home_unset_hides_the_users_docker_config():
    r = walk(states(**{"/root/.docker/config.json": GOOD}), home=None)
    assert r.used is None
    assert any("HOME is unset" in p and "/root/.docker/config.json" in p for p in r.problems)
    assert not walk(states(**{"/root/.docker/config.json": GOOD}), home="/root").problems


def test_credentials_for_images_in_order_without_passwords():
    r = walk(states(**{"/var/lib/kubelet/config.json": GOOD}))
    out = ns.credentials_for_images(r.used, ["reg.example.com/team/app:v1", "nginx"])
    assert out[0]["credentials"] == [{"key": "reg.example.com", "username": "u",
                                      "source": "/var/lib/kubelet/config.json"}]
    assert out[1]["repository"] == "docker.io/library/nginx" and out[1]["credentials"] == []


# --- planning an install -------------------------------------------------------------------------------------

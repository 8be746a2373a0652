"""A file written by `regcred auth add` authenticates the real skopeo against the real registry."""

import json
from pathlib import Path

from tests.support.cli import run_regcred
from tests.support.fixtures import HTPASSWD_USERS, IMAGE_REPO, IMAGE_TAG


def write(path: Path, host: str, user: str, password: str) -> None:
    result = run_regcred("auth", "add", host, "--username", user, "--password-stdin", "--file", path, input=password)
    assert result.returncode == 0, result.stderr


def test_written_file_authenticates_skopeo(tmp_path: Path, registry_htpasswd, skopeo_inspect) -> None:
    path = tmp_path / "config.json"
    write(path, registry_htpasswd.host, "alice", HTPASSWD_USERS["alice"])
    result = skopeo_inspect(f"{registry_htpasswd.host}/{IMAGE_REPO}:{IMAGE_TAG}", path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["Name"].endswith(IMAGE_REPO)


def test_wrong_password_fails_in_skopeo(tmp_path: Path, registry_htpasswd, skopeo_inspect) -> None:
    path = tmp_path / "config.json"
    write(path, registry_htpasswd.host, "alice", "wrong-password")
    result = skopeo_inspect(f"{registry_htpasswd.host}/{IMAGE_REPO}:{IMAGE_TAG}", path)
    assert result.returncode != 0
    assert "unauthorized" in result.stderr.lower() or "authentication required" in result.stderr.lower()


def test_other_entries_survive_and_still_work(tmp_path: Path, registry_htpasswd, skopeo_inspect) -> None:
    path = tmp_path / "config.json"
    write(path, registry_htpasswd.host, "bob", HTPASSWD_USERS["bob"])
    write(path, "unrelated.example.com", "x", "y")
    result = skopeo_inspect(f"{registry_htpasswd.host}/{IMAGE_REPO}:{IMAGE_TAG}", path)
    assert result.returncode == 0, result.stderr


def test_match_names_the_credential_skopeo_used(tmp_path: Path, registry_htpasswd) -> None:
    path = tmp_path / "config.json"
    write(path, registry_htpasswd.host, "alice", HTPASSWD_USERS["alice"])
    out = run_regcred("match", f"{registry_htpasswd.host}/{IMAGE_REPO}:{IMAGE_TAG}", "--file", path, "-o", "json")
    assert json.loads(out.stdout)["credentials"][0]["username"] == "alice"

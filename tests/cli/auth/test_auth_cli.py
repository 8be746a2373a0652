"""`regcred auth add|list|remove` through the real entry point."""

import json
import stat
from pathlib import Path

import pytest

from tests.support.cli import assert_clean_error, run_regcred

SECRET = "hunter2:with\"quote"


def add(path: Path, server: str = "reg.example.com:5000", user: str = "alice", password: str = SECRET, *extra: str):
    return run_regcred("auth", "add", server, "--username", user, "--password-stdin", "--file", path, *extra,
                       input=password + "\n")


def test_add_creates_a_0600_file_with_kubectl_field_order(tmp_path: Path) -> None:
    path = tmp_path / "docker" / "config.json"
    result = add(path, "reg.example.com:5000", "alice", SECRET, "--email", "a@example.com")
    assert result.returncode == 0, result.stderr
    assert SECRET not in result.stdout + result.stderr
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    entry = json.loads(path.read_text())["auths"]["reg.example.com:5000"]
    assert list(entry) == ["username", "password", "email", "auth"]
    assert entry["password"] == SECRET  # one trailing newline dropped, nothing else


def test_add_keeps_other_entries_and_unknown_keys(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    original = {"auths": {"other.io": {"auth": "b3RoZXI6cHc=", "identitytoken": "t"}}, "credsStore": "desktop",
                "experimental": "enabled"}
    path.write_text(json.dumps(original))
    assert add(path).returncode == 0
    doc = json.loads(path.read_text())
    assert doc["auths"]["other.io"] == original["auths"]["other.io"]
    assert doc["credsStore"] == "desktop" and doc["experimental"] == "enabled"
    assert list(doc["auths"]) == ["other.io", "reg.example.com:5000"]


def test_add_replaces_and_notes_equivalent_spellings(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"auths": {"https://reg.example.com:5000/v2/": {}}}))
    first = add(path, password="one")
    second = add(path, password="two")
    assert "added" in first.stdout and "replaced" in second.stdout
    assert "treats as the same registry" in second.stderr
    assert json.loads(path.read_text())["auths"]["reg.example.com:5000"]["password"] == "two"


def test_password_sources(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    env_result = run_regcred("auth", "add", "r.io", "-u", "u", "--password-env", "RC_PW", "--file", path,
                             env={"RC_PW": "from-env"})
    assert env_result.returncode == 0
    literal = run_regcred("auth", "add", "s.io", "-u", "u", "--password", "literal", "--file", path)
    assert literal.returncode == 0 and "warning: --password" in literal.stderr and "literal" not in literal.stderr
    doc = json.loads(path.read_text())["auths"]
    assert doc["r.io"]["password"] == "from-env" and doc["s.io"]["password"] == "literal"


def test_list_json_never_shows_passwords(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    add(path)
    path_doc = json.loads(path.read_text())
    path_doc["auths"]["empty.io"] = {}
    path.write_text(json.dumps(path_doc))
    result = run_regcred("auth", "list", "--file", path, "-o", "json")
    assert result.returncode == 0
    assert json.loads(result.stdout) == [
        {"key": "reg.example.com:5000", "username": "alice", "email": None, "has_password": True},
        {"key": "empty.io", "username": "", "email": None, "has_password": False},
    ]
    table = run_regcred("auth", "list", "--file", path)
    assert "reg.example.com:5000" in table.stdout
    assert SECRET not in result.stdout + table.stdout


def test_remove(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    add(path)
    add(path, server="keep.io")
    assert run_regcred("auth", "remove", "reg.example.com:5000", "--file", path).returncode == 0
    assert list(json.loads(path.read_text())["auths"]) == ["keep.io"]
    missing = run_regcred("auth", "remove", "nope.io", "--file", path)
    assert_clean_error(missing, 1, "nope.io")
    assert run_regcred("auth", "remove", "nope.io", "--file", path, "--ignore-not-found").returncode == 0


BAD_FILES = {
    "malformed": ('{"auths": {', "not valid JSON"),
    "wrong-type": ('{"auths": {"r.io": {"username": 7}}}', "'username' must be a string"),
    "bad-auth": ('{"auths": {"r.io": {"auth": "bm9jb2xvbg=="}}}', "cannot be decoded"),
    "auths-array": ('{"auths": []}', "'auths' must be a JSON object"),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_unparseable_file_is_refused_and_untouched(tmp_path: Path, case: str) -> None:
    content, reason = BAD_FILES[case]
    path = tmp_path / "config.json"
    path.write_text(content)
    before = path.stat().st_mtime_ns
    result = add(path)
    line = assert_clean_error(result, 2, str(path), reason)
    assert SECRET not in line
    assert path.read_text() == content and path.stat().st_mtime_ns == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.json"]  # no temp file left behind


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["auth", "add", "bad host", "-u", "u", "--password-stdin"], "invalid registry key"),
        (["auth", "add", "r.io:abc", "-u", "u", "--password-stdin"], "invalid registry key"),
        (["auth", "add", "r.io", "-u", "u", "--password-env", "NOPE_UNSET"], "NOPE_UNSET is not set"),
        (["auth", "add", "r.io", "-u", "u", "--password-stdin", "--password-env", "X"], "only one of"),
        (["auth", "add", "r.io", "-u", "u"], "no password given"),
    ],
)
def test_bad_arguments(tmp_path: Path, args: list[str], needle: str) -> None:
    result = run_regcred(*args, "--file", tmp_path / "config.json", input="pw\n")
    assert_clean_error(result, 2, needle)
    assert not (tmp_path / "config.json").exists()


def test_empty_password_is_refused(tmp_path: Path) -> None:
    result = run_regcred("auth", "add", "r.io", "-u", "u", "--password-stdin", "--file", tmp_path / "c.json", input="\n")
    assert_clean_error(result, 2, "password is empty")


def test_directory_and_missing_files(tmp_path: Path) -> None:
    assert_clean_error(run_regcred("auth", "list", "--file", tmp_path), 2, "is a directory")
    assert_clean_error(run_regcred("auth", "list", "--file", tmp_path / "none.json"), 2, "no such credential file")
    assert_clean_error(add(tmp_path), 2, "is a directory")


def test_unwritable_location_is_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    result = add(blocker / "config.json")
    assert_clean_error(result, 1, "not-a-dir")
    assert blocker.read_text() == "x"


def test_legacy_dockercfg_file(tmp_path: Path) -> None:
    path = tmp_path / ".dockercfg"
    path.write_text(json.dumps({"https://index.docker.io/v1/": {"auth": "Zm9vOmJhcg==", "email": "e@x"}}))
    assert add(path, server="r.io").returncode == 0
    doc = json.loads(path.read_text())
    assert set(doc) == {"https://index.docker.io/v1/", "r.io"}


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["nope"], "No such command 'nope'"),
        (["auth", "add"], "Missing argument 'SERVER'"),
        (["match", "nginx", "-o", "yaml"], "'yaml' is not one of"),
        (["auth", "list", "--bogus"], "No such option"),
    ],
)
def test_usage_errors_are_one_line_too(args: list[str], needle: str) -> None:
    line = assert_clean_error(run_regcred(*args), 2, needle)
    assert "--help" in line and "Usage:" not in line


BAD_INPUT_PW = "Zq9-bad-input-s3cret"  # distinctive: a hit in the output can only be this password


@pytest.mark.parametrize(
    ("server", "args", "input", "needle"),
    [
        ("bad host", ["-u", "u", "--password-stdin"], BAD_INPUT_PW + "\n", "invalid registry key 'bad host'"),
        ("r.io", ["-u", "", "--password-stdin"], BAD_INPUT_PW + "\n", "registry 'r.io': the username is empty"),
        ("r.io", ["-u", "u", "--password-stdin"], "\n", "registry 'r.io': the password is empty"),
        ("r.io", ["-u", "u", "--password-env", "NOPE_UNSET"], "", "registry 'r.io': environment variable NOPE_UNSET"),
    ],
)
def test_bad_input_names_the_file_and_the_registry_key(tmp_path: Path, server, args, input, needle) -> None:
    path = tmp_path / "config.json"
    path.write_text('{"auths": {}}')
    result = run_regcred("auth", "add", server, *args, "--file", path, input=input)
    assert_clean_error(result, 2, f"{path}: ", needle)
    assert BAD_INPUT_PW not in result.stdout + result.stderr and path.read_text() == '{"auths": {}}'


def test_remove_of_an_invalid_key_is_bad_input_unless_it_is_in_the_file(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text('{"auths": {"bad host": {"auth": "dTpw"}}}')
    assert_clean_error(run_regcred("auth", "remove", "other host", "--file", path), 2, str(path),
                       "invalid registry key 'other host'")
    assert_clean_error(run_regcred("auth", "remove", "ok.example.com", "--file", path), 1, "no entry")
    assert run_regcred("auth", "remove", "bad host", "--file", path).returncode == 0  # a hand-made bad key can go
    assert json.loads(path.read_text()) == {"auths": {}}

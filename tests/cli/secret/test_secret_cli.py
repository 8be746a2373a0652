"""`regcred secret create --dry-run=client`: the Secret kubectl would print."""

import base64
import json
from pathlib import Path

import yaml

from tests.support.cli import assert_clean_error, run_regcred


def create(*args: str | Path, password: str = "pw") -> dict:
    result = run_regcred("secret", "create", *args, "--password-stdin", "--dry-run=client", input=password + "\n")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def payload(manifest: dict) -> bytes:
    return base64.b64decode(manifest["data"][".dockerconfigjson"])


def test_docker_hub_default_and_exact_payload() -> None:
    manifest = create("pull", "--username", "bob")
    assert manifest["type"] == "kubernetes.io/dockerconfigjson"
    assert manifest["metadata"] == {"name": "pull", "creationTimestamp": None}
    assert payload(manifest) == (
        b'{"auths":{"https://index.docker.io/v1/":{"username":"bob","password":"pw","auth":"Ym9iOnB3"}}}'
    )


def test_go_escaping_and_unicode() -> None:
    manifest = create("pull", "--server", "r.io:5000", "--username", "u", "-n", "team", "--email", "e@x",
                      password='p<a>&"s:ü')
    assert manifest["metadata"]["namespace"] == "team"
    raw = payload(manifest).decode()
    assert '"password":"p\\u003ca\\u003e\\u0026\\"s:ü"' in raw
    assert list(json.loads(raw)["auths"]["r.io:5000"]) == ["username", "password", "email", "auth"]


def test_from_file_is_copied_verbatim(tmp_path: Path) -> None:
    source = tmp_path / "config.json"
    source.write_text('{\n\t"auths": {"r.io": {"auth": "YTpi"}},\n\t"credsStore": "x"\n}\n')
    result = run_regcred("secret", "create", "pull", "--from-file", source, "--dry-run=client")
    assert payload(json.loads(result.stdout)) == source.read_bytes()


def test_yaml_output() -> None:
    result = run_regcred("secret", "create", "pull", "--username", "u", "--password-stdin", "--dry-run=client",
                         "-o", "yaml", input="pw")
    doc = yaml.safe_load(result.stdout)
    assert doc["kind"] == "Secret" and list(doc) == ["apiVersion", "data", "kind", "metadata", "type"]


def test_bad_input(tmp_path: Path) -> None:
    assert_clean_error(run_regcred("secret", "create", "Bad_Name", "--username", "u", "--password-stdin", "--dry-run=client",
                                   input="pw"), 2, "invalid Secret name 'Bad_Name'")
    assert_clean_error(run_regcred("secret", "create", "ok", "--username", "u", "--password-stdin", "--dry-run=client",
                                   input="\n"), 2, "password is empty")
    assert_clean_error(run_regcred("secret", "create", "ok", "--username", "u", "-n", "Team", "--password-stdin",
                                   "--dry-run=client", input="pw"), 2, "invalid namespace name")
    legacy = tmp_path / "legacy.json"
    legacy.write_text('{"r.io": {"auth": "YTpi"}}')
    assert_clean_error(run_regcred("secret", "create", "ok", "--from-file", legacy, "--dry-run=client"), 2, "no 'auths'")
    broken = tmp_path / "broken.json"
    broken.write_text('{"auths": {"r.io": {"auth": "x y"}}}')
    assert_clean_error(run_regcred("secret", "create", "ok", "--from-file", broken, "--dry-run=client"), 2, "'r.io'")


def test_a_bad_server_is_refused_before_any_password_is_asked_for() -> None:
    result = run_regcred("secret", "create", "pull", "--server", "bad key", "--username", "u", "--dry-run=client")
    assert_clean_error(result, 2, "invalid registry key 'bad key'")
    assert "password" not in result.stderr

"""`regcred verify` against Debian's real docker-registry: htpasswd, token auth, TLS, a dead port.

Each run is the real entry point in a subprocess (exit codes, no traceback) and no run may print a password.
"""

from __future__ import annotations

import base64
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from regcred.localregistry.registry import RegistryServer
from tests.support.cli import run_regcred
from tests.support.fixtures import HTPASSWD_USERS, TOKEN_PASSWORDS
from tests.support.tokenserver import TokenServer

pytestmark = pytest.mark.real

SECRETS = [*HTPASSWD_USERS.values(), *TOKEN_PASSWORDS.values(), "wrong-password-123"]
SECRETS += [base64.b64encode(f"{u}:{p}".encode()).decode() for u, p in
            [*HTPASSWD_USERS.items(), *TOKEN_PASSWORDS.items()]]


def verify(*args: str | Path, password: str | None = None) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    argv: list[str | Path] = ["verify", *args, "-o", "json"]
    if password is not None:
        argv.append("--password-stdin")
    result = run_regcred(*argv, input=password)
    assert "Traceback" not in result.stderr
    for secret in SECRETS:
        assert secret not in result.stdout and secret not in result.stderr
    data = json.loads(result.stdout) if result.stdout.strip() else {}
    return result, data


def only(data: dict[str, Any]) -> dict[str, Any]:
    [row] = data["results"]
    return row


@pytest.fixture
def token_log(token_server: TokenServer) -> Iterator[TokenServer]:
    token_server.clear_requests()
    yield token_server
    token_server.mode = "normal"


# --- htpasswd (Basic) ------------------------------------------------------------------------------------


def test_htpasswd_good_credentials_authorise_the_pull(registry_htpasswd: RegistryServer) -> None:
    result, data = verify(registry_htpasswd.host, "-u", "alice", "--repository", "team/app:v1", "--insecure-http",
                          password=HTPASSWD_USERS["alice"])
    row = only(data)
    assert result.returncode == 0, result.stderr
    assert row["ok"] and row["login"] and row["scheme"] == "basic" and row["reachable"]
    assert row["pull"] == {"team/app:v1": True}
    assert row["push_granted"] is None  # Basic auth: not determinable without --probe-upload
    assert row["tls"] is None and row["error"] is None


def test_htpasswd_wrong_password_is_a_401(registry_htpasswd: RegistryServer) -> None:
    result, data = verify(registry_htpasswd.host, "-u", "alice", "--repository", "team/app:v1", "--insecure-http",
                          password="wrong-password-123")
    row = only(data)
    assert result.returncode == 1
    assert not row["ok"] and not row["login"] and row["pull"] == {"team/app:v1": False}
    assert "401 unauthorized" in row["error"]
    assert "failed verification" in result.stderr


def test_htpasswd_upload_probe_flags_push_rights_without_pushing(registry_htpasswd: RegistryServer) -> None:
    result, data = verify(registry_htpasswd.host, "-u", "bob", "--repository", "team/app:v1", "--insecure-http",
                          "--probe-upload", password=HTPASSWD_USERS["bob"])
    row = only(data)
    assert result.returncode == 1
    assert row["push_granted"] is True and row["over_privileged"] is True
    assert "over-privileged" in row["error"] and "cancel" not in row["error"]


def test_unknown_repository_and_tag_are_404_reasons(registry_htpasswd: RegistryServer) -> None:
    result, data = verify(registry_htpasswd.host, "-u", "alice", "--insecure-http", "--repository", "team/app:v1",
                          "--repository", "team/nope:v1", "--repository", "team/app:v9",
                          password=HTPASSWD_USERS["alice"])
    row = only(data)
    assert result.returncode == 1
    assert row["login"] is True
    assert row["pull"] == {"team/app:v1": True, "team/nope:v1": False, "team/app:v9": False}
    assert row["error"].count("404 not found: repository or tag unknown") == 2


# --- token (Bearer) --------------------------------------------------------------------------------------


def test_token_read_only_account_is_ok_and_push_denied(registry_token: RegistryServer, token_log: TokenServer) -> None:
    result, data = verify(registry_token.host, "-u", "reader", "--repository", "team/app:v1", "--insecure-http",
                          password=TOKEN_PASSWORDS["reader"])
    row = only(data)
    assert result.returncode == 0, result.stdout
    assert row["ok"] and row["scheme"] == "bearer" and row["pull"] == {"team/app:v1": True}
    assert row["push_granted"] is False and row["over_privileged"] is False
    assert row["expires_in"] == 300 and row["expires_at"].endswith("Z")
    scopes = [s for r in token_log.requests for s in r.scopes]
    assert "repository:team/app:pull" in scopes and "repository:team/app:pull,push" in scopes
    assert all(r.method == "GET" and r.has_authorization and r.username == "reader" for r in token_log.requests)


def test_token_push_capable_account_is_over_privileged(registry_token: RegistryServer, token_log: TokenServer) -> None:
    result, data = verify(registry_token.host, "-u", "writer", "--repository", "team/app:v1", "--insecure-http",
                          password=TOKEN_PASSWORDS["writer"])
    row = only(data)
    assert result.returncode == 1
    assert row["login"] and row["pull"] == {"team/app:v1": True}
    assert row["push_granted"] is True and row["over_privileged"] is True and not row["ok"]


def test_token_wrong_password(registry_token: RegistryServer, token_log: TokenServer) -> None:
    result, data = verify(registry_token.host, "-u", "reader", "--repository", "team/app:v1", "--insecure-http",
                          password="wrong-password-123")
    row = only(data)
    assert result.returncode == 1 and not row["login"]
    assert "token request: 401 unauthorized" in row["error"]


def test_token_post_form_fallback(registry_token: RegistryServer, token_log: TokenServer) -> None:
    token_log.mode = "post_only"
    result, _data = verify(registry_token.host, "-u", "reader", "--repository", "team/app:v1", "--insecure-http",
                          password=TOKEN_PASSWORDS["reader"])
    assert result.returncode == 0, result.stdout
    posts = [r for r in token_log.requests if r.method == "POST"]
    assert posts and all(r.form["grant_type"] == ["password"] and r.username == "reader" for r in posts)
    assert "password" not in posts[0].form


@pytest.mark.parametrize(("mode", "needle"), [("non_json", "not JSON"), ("huge", "larger than 1024 KiB")])
def test_misbehaving_token_server_gives_a_clear_reason(registry_token: RegistryServer, token_log: TokenServer,
                                                       mode: str, needle: str) -> None:
    token_log.mode = mode  # type: ignore[assignment]
    result, data = verify(registry_token.host, "-u", "reader", "--repository", "team/app:v1", "--insecure-http",
                          password=TOKEN_PASSWORDS["reader"])
    row = only(data)
    assert result.returncode == 1 and not row["login"]
    assert needle in row["error"]


def test_file_with_two_spellings_of_one_registry_is_verified_once(
    registry_token: RegistryServer, token_log: TokenServer, tmp_path: Path
) -> None:
    auth = base64.b64encode(f"reader:{TOKEN_PASSWORDS['reader']}".encode()).decode()
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"auths": {registry_token.host: {"auth": auth},
                                            f"http://{registry_token.host}/v2/": {"auth": auth}}}))
    result, data = verify("--file", config, "--repository", "team/app:v1", "--insecure-http")
    assert result.returncode == 0, result.stdout
    assert [r["key"] for r in data["results"]] == [registry_token.host, f"http://{registry_token.host}/v2/"]
    assert all(r["ok"] for r in data["results"])
    logins = [r for r in token_log.requests if not r.scopes]
    assert len(logins) == 1  # one check for the pair, rendered twice


def test_secret_manifest_is_verified(registry_token: RegistryServer, token_log: TokenServer, tmp_path: Path) -> None:
    payload = json.dumps({"auths": {registry_token.host: {"username": "reader", "password": TOKEN_PASSWORDS["reader"]}}})
    manifest = tmp_path / "secret.json"
    manifest.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "pull", "namespace": "app"},
        "type": "kubernetes.io/dockerconfigjson",
        "data": {".dockerconfigjson": base64.b64encode(payload.encode()).decode()},
    }))
    result, data = verify("--secret-file", manifest, "--repository", "team/app:v1", "--insecure-http")
    assert result.returncode == 0, result.stdout
    assert only(data)["ok"]


# --- TLS and transport -----------------------------------------------------------------------------------


def test_tls_with_the_registry_ca_is_ok(registry_tls: RegistryServer) -> None:
    result, data = verify(registry_tls.host, "-u", "alice", "--repository", "team/app:v1",
                          "--ca-file", str(registry_tls.ca_file), password=HTPASSWD_USERS["alice"])
    row = only(data)
    assert result.returncode == 0, result.stdout
    assert row["tls"] is True and row["ok"]


def test_tls_without_the_ca_is_a_tls_error(registry_tls: RegistryServer) -> None:
    result, data = verify(registry_tls.host, "-u", "alice", "--repository", "team/app:v1",
                          password=HTPASSWD_USERS["alice"])
    row = only(data)
    assert result.returncode == 1
    assert row["tls"] is False and row["reachable"] is True and not row["login"]
    assert "TLS error" in row["error"] and "--ca-file" in row["error"]


def test_dead_port_is_connection_refused(dead_port: int) -> None:
    result, data = verify(f"127.0.0.1:{dead_port}", "-u", "alice", "--insecure-http", password="wrong-password-123")
    row = only(data)
    assert result.returncode == 1
    assert row["reachable"] is False and f"connection refused by 127.0.0.1:{dead_port}" == row["error"]


def test_table_output_names_result_and_reason(registry_htpasswd: RegistryServer) -> None:
    result = run_regcred("verify", registry_htpasswd.host, "-u", "alice", "--password-stdin", "--insecure-http",
                         "--repository", "team/nope:v1", input="wrong-password-123")
    assert result.returncode == 1
    header, row = result.stdout.splitlines()[:2]
    assert header.split()[:5] == ["KEY", "REGISTRY", "RESULT", "AUTH", "LOGIN"]
    assert "FAIL" in row and "401 unauthorized" in row
    assert "wrong-password-123" not in result.stdout + result.stderr


def test_harbor_like_login_ok_but_pull_denied_fails(registry_token: RegistryServer, token_log: TokenServer) -> None:
    """A robot account allowed elsewhere: the token endpoint and `/v2/` accept it, the manifest does not."""
    token_log.accounts["robot-elsewhere"] = ("elsewhere-pw-9", {"other/*": frozenset({"pull"})})
    try:
        result, data = verify(registry_token.host, "-u", "robot-elsewhere", "--repository", "team/app:v1",
                              "--insecure-http", password="elsewhere-pw-9")
    finally:
        del token_log.accounts["robot-elsewhere"]
    row = only(data)
    assert result.returncode == 1 and "elsewhere-pw-9" not in result.stdout + result.stderr
    assert row["login"] is True and row["pull"] == {"team/app:v1": False} and not row["ok"]
    assert "the login works but this credential may not pull it" in row["error"]


def test_login_only_check_says_so(registry_token: RegistryServer, token_log: TokenServer) -> None:
    result, data = verify(registry_token.host, "-u", "reader", "--insecure-http", password=TOKEN_PASSWORDS["reader"])
    assert result.returncode == 0 and only(data)["login"] is True and only(data)["pull"] == {}
    assert "only the login was checked" in result.stderr


def test_https_spoken_to_a_plain_http_registry_hints_insecure_http(registry_htpasswd: RegistryServer) -> None:
    result, data = verify(registry_htpasswd.host, "-u", "alice", password=HTPASSWD_USERS["alice"])
    assert result.returncode == 1 and "use --insecure-http" in only(data)["error"]

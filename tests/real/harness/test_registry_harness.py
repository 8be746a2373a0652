"""Tests of the test harness itself, against the real docker-registry and skopeo.

If these fail, every credential test built on the harness would be meaningless,
so each fixture is checked for the behaviour the project relies on: the
challenge type, that good credentials work and bad ones fail, and that the token
server grants exactly what an account allows.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from regcred.localregistry.oci import build_oci_layout, manifest_digest
from regcred.localregistry.registry import RegistryServer, RegistryStartError, write_authfile
from tests.support.fixtures import (
    HTPASSWD_USERS,
    TOKEN_ACCOUNTS,
    TOKEN_PASSWORDS,
    SkopeoInspect,
    require_binaries,
)
from tests.support.tokenserver import Mode, TokenServer, decode_jwt, verify_jwt

pytestmark = pytest.mark.real

SCOPE = "repository:team/app:pull,push"


def _token_get(ts: TokenServer, user: str | None, password: str = "", *scopes: str) -> httpx.Response:
    params: list[tuple[str, str | int | float | bool | None]] = [("service", ts.service)]
    params += [("scope", s) for s in scopes]
    if user:
        params.append(("account", user))
    auth = (user, password) if user else None
    return httpx.get(ts.realm, params=params, auth=auth, timeout=5)


def _access(token: str) -> dict[str, list[str]]:
    return {a["name"]: a["actions"] for a in decode_jwt(token)[1]["access"]}


# --- OCI layout ----------------------------------------------------------------


def test_oci_layout_is_repeatable_and_well_formed(tmp_path: Path) -> None:
    a = build_oci_layout(tmp_path / "a", tag="v1")
    b = build_oci_layout(tmp_path / "b", tag="v1")
    assert manifest_digest(a, "v1") == manifest_digest(b, "v1")
    assert json.loads((a / "oci-layout").read_text()) == {"imageLayoutVersion": "1.0.0"}
    build_oci_layout(a, tag="v2", content=b"other")
    assert manifest_digest(a, "v1") != manifest_digest(a, "v2")


# --- htpasswd ------------------------------------------------------------------


def test_htpasswd_registry_challenges_basic_then_accepts(registry_htpasswd: RegistryServer) -> None:
    url = f"{registry_htpasswd.url}/v2/"
    anon = httpx.get(url, timeout=5)
    assert anon.status_code == 401
    assert anon.headers["www-authenticate"].startswith("Basic ")
    for user, password in registry_htpasswd.users.items():
        ok = httpx.get(url, auth=(user, password), timeout=5)
        assert ok.status_code == 200, user
    bad = httpx.get(url, auth=("alice", "wrong"), timeout=5)
    assert bad.status_code == 401


def test_htpasswd_registry_holds_pushed_image(registry_htpasswd: RegistryServer) -> None:
    digest = registry_htpasswd.images["team/app:v1"]
    resp = httpx.head(
        f"{registry_htpasswd.url}/v2/team/app/manifests/v1",
        auth=("bob", HTPASSWD_USERS["bob"]),
        headers={"Accept": "application/vnd.oci.image.manifest.v1+json"},
        timeout=5,
    )
    assert resp.status_code == 200
    assert resp.headers["docker-content-digest"] == digest


def test_skopeo_inspect_with_correct_authfile(
    registry_htpasswd: RegistryServer, skopeo_inspect: SkopeoInspect, tmp_path: Path
) -> None:
    authfile = write_authfile(
        tmp_path / "auth.json", {registry_htpasswd.host: ("alice", HTPASSWD_USERS["alice"])}
    )
    out = skopeo_inspect(f"{registry_htpasswd.host}/team/app:v1", authfile)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["Digest"] == registry_htpasswd.images["team/app:v1"]


def test_skopeo_inspect_with_wrong_password_is_unauthorized(
    registry_htpasswd: RegistryServer, skopeo_inspect: SkopeoInspect, tmp_path: Path
) -> None:
    authfile = write_authfile(tmp_path / "auth.json", {registry_htpasswd.host: ("alice", "wrong")})
    out = skopeo_inspect(f"{registry_htpasswd.host}/team/app:v1", authfile)
    assert out.returncode != 0
    assert "unauthorized" in out.stderr.lower()


def test_skopeo_ignores_entry_without_auth_field(
    registry_htpasswd: RegistryServer, skopeo_inspect: SkopeoInspect, tmp_path: Path
) -> None:
    """The trap from real-components.md: username/password alone are not used."""
    authfile = tmp_path / "auth.json"
    entry = {"username": "alice", "password": HTPASSWD_USERS["alice"]}
    authfile.write_text(json.dumps({"auths": {registry_htpasswd.host: entry}}))
    out = skopeo_inspect(f"{registry_htpasswd.host}/team/app:v1", authfile)
    assert out.returncode != 0
    assert "unauthorized" in out.stderr.lower()


# --- token auth ------------------------------------------------------------------


def test_token_registry_answers_bearer_challenge(registry_token: RegistryServer) -> None:
    ts = registry_token.token_server
    assert ts is not None
    resp = httpx.get(f"{registry_token.url}/v2/team/app/manifests/v1", timeout=5)
    assert resp.status_code == 401
    challenge = resp.headers["www-authenticate"]
    assert challenge.startswith("Bearer ")
    assert f'realm="{ts.realm}"' in challenge
    assert f'service="{ts.service}"' in challenge
    assert 'scope="repository:team/app:pull"' in challenge


def test_token_server_grants_per_account(registry_token: RegistryServer) -> None:
    ts = registry_token.token_server
    assert ts is not None
    reader = _token_get(ts, "reader", TOKEN_PASSWORDS["reader"], SCOPE)
    writer = _token_get(ts, "writer", TOKEN_PASSWORDS["writer"], SCOPE, "repository:other/x:pull")
    anon = _token_get(ts, None, "", SCOPE)
    assert reader.status_code == writer.status_code == anon.status_code == 200
    assert _access(reader.json()["token"]) == {"team/app": ["pull"]}
    assert _access(writer.json()["token"]) == {"team/app": ["pull", "push"], "other/x": ["pull"]}
    assert _access(anon.json()["token"]) == {}

    header, claims = decode_jwt(writer.json()["access_token"])
    assert header["alg"] == "RS256" and len(header["x5c"]) == 1
    assert verify_jwt(writer.json()["token"], ts.cert_pem) == claims
    assert claims["iss"] == ts.issuer and claims["aud"] == ts.service and claims["sub"] == "writer"
    assert claims["nbf"] <= claims["iat"] < claims["exp"]
    assert {"expires_in", "issued_at"} <= writer.json().keys()


def test_token_server_rejects_bad_password_without_logging_it(registry_token: RegistryServer) -> None:
    ts = registry_token.token_server
    assert ts is not None
    ts.clear_requests()
    resp = _token_get(ts, "reader", "not-the-password", SCOPE)
    assert resp.status_code == 401
    assert resp.json()["errors"][0]["code"] == "UNAUTHORIZED"
    (logged,) = ts.requests
    assert logged.has_authorization and logged.username == "reader" and logged.status == 401
    assert "not-the-password" not in repr(ts.requests)


def test_registry_accepts_token_and_enforces_read_only(registry_token: RegistryServer) -> None:
    ts = registry_token.token_server
    assert ts is not None
    token = _token_get(ts, "reader", TOKEN_PASSWORDS["reader"], "repository:team/app:pull").json()["token"]
    resp = httpx.get(
        f"{registry_token.url}/v2/team/app/manifests/v1",
        headers={
            "Authorization": f"Bearer {token}",
            "Accept": "application/vnd.oci.image.manifest.v1+json",
        },
        timeout=5,
    )
    assert resp.status_code == 200
    with pytest.raises(RuntimeError, match="denied"):
        registry_token.push("team/app", "reader-push", "reader", TOKEN_PASSWORDS["reader"])


def test_token_server_post_form(registry_token: RegistryServer) -> None:
    ts = registry_token.token_server
    assert ts is not None
    ts.clear_requests()
    form = {
        "grant_type": "password",
        "username": "writer",
        "password": TOKEN_PASSWORDS["writer"],
        "service": ts.service,
        "scope": f"{SCOPE} repository:team/lib:pull",
        "client_id": "regcred-test",
    }
    resp = httpx.post(ts.realm, data=form, timeout=5)
    assert resp.status_code == 200
    assert _access(resp.json()["access_token"]) == {"team/app": ["pull", "push"], "team/lib": ["pull"]}
    bad = httpx.post(ts.realm, data={**form, "password": "nope"}, timeout=5)
    assert bad.status_code == 401 and bad.json()["error"] == "invalid_grant"
    assert [(r.method, r.status) for r in ts.requests] == [("POST", 200), ("POST", 401)]
    assert all("password" not in r.form for r in ts.requests)


@pytest.mark.parametrize(
    ("mode", "method", "status"),
    [("get_only", "POST", 405), ("post_only", "GET", 405), ("non_json", "GET", 200), ("huge", "POST", 200)],
)
def test_token_server_misbehaviour_modes(mode: Mode, method: str, status: int) -> None:
    with TokenServer(TOKEN_ACCOUNTS, mode=mode, huge_bytes=1 << 20) as ts:
        auth = ("reader", TOKEN_PASSWORDS["reader"])
        if method == "GET":
            resp = httpx.get(ts.realm, params={"scope": SCOPE}, auth=auth, timeout=5)
        else:
            form = {"grant_type": "password", "username": auth[0], "password": auth[1], "scope": SCOPE}
            resp = httpx.post(ts.realm, data=form, timeout=5)
        assert resp.status_code == status
        if mode == "non_json":
            with pytest.raises(json.JSONDecodeError):
                resp.json()
        if mode == "huge":
            assert len(resp.content) > 1 << 20
        assert [(r.method, r.status) for r in ts.requests] == [(method, status)]


# --- TLS -------------------------------------------------------------------------


def test_tls_registry_verified_with_ca_file(
    registry_tls: RegistryServer, skopeo_inspect: SkopeoInspect, tmp_path: Path
) -> None:
    assert registry_tls.ca_file is not None and registry_tls.url.startswith("https://")
    user, password = "bob", HTPASSWD_USERS["bob"]
    resp = httpx.get(f"{registry_tls.url}/v2/", auth=(user, password), verify=registry_tls.ssl_context())
    assert resp.status_code == 200
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{registry_tls.url}/v2/", verify=True)  # system CAs do not know the test CA
    authfile = write_authfile(tmp_path / "auth.json", {registry_tls.host: (user, password)})
    ref = f"{registry_tls.host}/team/app:v1"
    assert skopeo_inspect(ref, authfile, tls_verify=True).returncode != 0
    out = skopeo_inspect(ref, authfile, tls_verify=True, cert_dir=registry_tls.cert_dir)
    assert out.returncode == 0, out.stderr


def test_dead_port_refuses(dead_port: int) -> None:
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{dead_port}/v2/", timeout=2)


def test_authfile_auth_field_is_padded(tmp_path: Path) -> None:
    path = write_authfile(tmp_path / "a.json", {"h:1": ("ab", "c")})  # "ab:c" needs padding
    auth = json.loads(path.read_text())["auths"]["h:1"]["auth"]
    assert auth.endswith("=") and base64.b64decode(auth) == b"ab:c"
    assert path.stat().st_mode & 0o077 == 0


def test_startup_failure_reports_log_tail_and_kills_process(tmp_path: Path) -> None:
    require_binaries("docker-registry")

    class BrokenRegistry(RegistryServer):
        def _config(self) -> dict[str, Any]:
            return {**super()._config(), "storage": {"no-such-driver": {}}}

    server = BrokenRegistry("none", workdir=tmp_path)
    with pytest.raises(RegistryStartError, match="no-such-driver") as err:
        server.start()
    assert str(server.log_path) in str(err.value)
    assert not server.running

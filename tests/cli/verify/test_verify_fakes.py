"""Bad registries, served by tiny local fakes: malformed challenges, redirects to other hosts, huge or slow
replies, odd statuses. Each gives one clear reason per registry, never a traceback, never the secret."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from tests.support.cli import assert_clean_error, run_regcred
from tests.support.fakeregistry import (
    BASIC,
    PASSWORD,
    FakeServer,
    Reply,
    Route,
    basic_registry,
    error_of,
    verify,
)


@pytest.mark.parametrize(
    ("challenge", "needle"),
    [
        ('Bearer realm="http://127.0.0.1:1/token', "malformed WWW-Authenticate challenge: unterminated"),
        ("Bearer service=x", "without a realm"),
        ('Bearer realm="ftp://x/token"', "not an http(s) URL"),
        ('Digest realm="x", nonce="1"', "no Basic or Bearer"),
        (None, "401 without a WWW-Authenticate"),
    ],
)
def test_bad_challenges(serve: Callable[[Route], FakeServer], challenge: str | None, needle: str) -> None:
    headers = {"WWW-Authenticate": challenge} if challenge else {}
    server = serve(lambda h: (401, headers, b"{}"))
    result, data = verify(server.host)
    assert result.returncode == 1
    assert needle in error_of(data)
    assert not any(auth for _m, _p, auth in server.seen)  # nothing was ever sent with credentials


def test_redirect_to_another_host_never_carries_credentials(serve: Callable[[Route], FakeServer]) -> None:
    elsewhere = serve(lambda h: (200, {}, b"{}"))
    registry = serve(basic_registry(lambda h: (307, {"Location": f"http://{elsewhere.host}/v2/"}, b"")))
    result, data = verify(registry.host)
    assert result.returncode == 1
    assert f"redirected to another host ({elsewhere.host})" in error_of(data)
    assert elsewhere.seen == []


def test_realm_redirect_to_a_third_host_is_refused(serve: Callable[[Route], FakeServer]) -> None:
    third = serve(lambda h: (200, {}, b'{"token": "t"}'))
    realm = serve(lambda h: (302, {"Location": f"http://{third.host}/token"}, b""))
    registry = serve(lambda h: (401, {"WWW-Authenticate": f'Bearer realm="http://{realm.host}/token",service="s"'},
                                b"{}"))
    result, data = verify(registry.host)
    assert result.returncode == 1
    assert "redirected to another host" in error_of(data)
    assert third.seen == []
    assert realm.seen and all(auth for _m, _p, auth in realm.seen)  # the announced realm gets the credentials


def test_same_host_redirect_is_followed(serve: Callable[[Route], FakeServer]) -> None:
    def after(h: BaseHTTPRequestHandler) -> Reply:
        return (307, {"Location": "/v2/?moved=1"}, b"") if "moved" not in h.path else (200, {}, b"{}")

    registry = serve(basic_registry(after))
    result, data = verify(registry.host)
    assert result.returncode == 0, data
    assert ("GET", "/v2/?moved=1", True) in registry.seen


def test_redirect_loop_is_bounded(serve: Callable[[Route], FakeServer]) -> None:
    registry = serve(basic_registry(lambda h: (302, {"Location": "/v2/"}, b"")))
    result, data = verify(registry.host)
    assert result.returncode == 1 and "more than 5 redirects" in error_of(data)


def test_huge_reply_is_cut_off(serve: Callable[[Route], FakeServer]) -> None:
    registry = serve(lambda h: (200, {}, b"x" * (3 * 1024 * 1024)))
    result, data = verify(registry.host)
    assert result.returncode == 1 and "larger than 1024 KiB" in error_of(data)


def test_non_json_token_reply(serve: Callable[[Route], FakeServer]) -> None:
    realm = serve(lambda h: (200, {"Content-Type": "text/html"}, f"<html>{PASSWORD}</html>".encode()))
    registry = serve(lambda h: (401, {"WWW-Authenticate": f'Bearer realm="http://{realm.host}/token"'}, b"{}"))
    result, data = verify(registry.host)
    assert result.returncode == 1 and "not JSON" in error_of(data)


def test_opaque_token_leaves_push_unknown_and_upload_probe_cancels(serve: Callable[[Route], FakeServer]) -> None:
    realm = serve(lambda h: (200, {}, b'{"token": "opaque-token", "expires_in": 60}'))

    def registry_route(h: BaseHTTPRequestHandler) -> Reply:
        if h.headers.get("Authorization") != "Bearer opaque-token":
            return 401, {"WWW-Authenticate": f'Bearer realm="http://{realm.host}/token",service="s"'}, b"{}"
        if h.command == "POST":
            return 202, {"Location": "/v2/team/app/blobs/uploads/u1"}, b""
        if h.command == "DELETE":
            return 204, {}, b""
        return 200, {}, b"{}"

    registry = serve(registry_route)
    result, data = verify(registry.host, "--repository", "team/app:v1")
    [row] = data["results"]
    assert result.returncode == 0 and row["push_granted"] is None and row["expires_in"] == 60
    assert not any(m in ("POST", "DELETE") for m, _p, _a in registry.seen)
    result, data = verify(registry.host, "--repository", "team/app:v1", "--probe-upload")
    [row] = data["results"]
    assert result.returncode == 1 and row["push_granted"] is True
    assert ("DELETE", "/v2/team/app/blobs/uploads/u1", True) in registry.seen


@pytest.mark.parametrize(("status", "needle"), [(429, "429 too many requests"), (503, "503 server error"),
                                                (403, "403 denied")])
def test_manifest_status_reasons(serve: Callable[[Route], FakeServer], status: int, needle: str) -> None:
    registry = serve(basic_registry(lambda h: (status, {}, b"") if h.command == "HEAD" else (200, {}, b"{}")))
    result, data = verify(registry.host, "--repository", "team/app:v1")
    assert result.returncode == 1 and needle in error_of(data)
    assert data["results"][0]["pull"] == {"team/app:v1": False}


def test_ping_status_reason(serve: Callable[[Route], FakeServer]) -> None:
    registry = serve(lambda h: (500, {}, b"oops"))
    result, data = verify(registry.host)
    assert result.returncode == 1 and "GET /v2/: 500 server error" in error_of(data)


def test_slow_registry_times_out(serve: Callable[[Route], FakeServer]) -> None:
    def slow(h: BaseHTTPRequestHandler) -> Reply:
        time.sleep(1.5)
        return 200, {}, b"{}"

    registry = serve(slow)
    result, data = verify(registry.host, "--timeout", "0.3")
    assert result.returncode == 1 and "timeout after 0.3s" in error_of(data)


def test_unresolvable_host_is_a_dns_reason() -> None:
    result, data = verify("registry.does-not-exist.invalid", "--timeout", "5")
    assert result.returncode == 1
    assert error_of(data) in ("DNS: cannot resolve registry.does-not-exist.invalid:443",
                              "DNS: cannot resolve registry.does-not-exist.invalid")


def test_concurrent_keys_each_get_their_own_reason(serve: Callable[[Route], FakeServer], tmp_path: Path,
                                                   dead_port: int) -> None:
    good = serve(basic_registry())
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"auths": {good.host: {"auth": BASIC}, f"127.0.0.1:{dead_port}": {"auth": BASIC},
                                            "*.example.com": {"auth": BASIC}, "empty.example.com": {}}}))
    result = run_regcred("verify", "--file", config, "--insecure-http", "-o", "json")
    rows = {r["key"]: r for r in json.loads(result.stdout)["results"]}
    assert result.returncode == 1
    assert rows[good.host]["ok"] is True
    assert rows[f"127.0.0.1:{dead_port}"]["error"].startswith("connection refused")
    assert "wildcard" in rows["*.example.com"]["error"]
    assert "no username or password" in rows["empty.example.com"]["error"]
    assert PASSWORD not in result.stdout + result.stderr


# --- usage errors: exit 2, one line -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        ((), ("give exactly one of SERVER, --file or --secret-file",)),
        (("reg.io", "--file", "x.json"), ("got SERVER, --file",)),
        (("reg.io",), ("SERVER needs --username",)),
        (("reg.io", "-u", "a", "--repository", "team/ app"), ("invalid --repository",)),
        (("reg.io", "-u", "a", "--ca-file", "/nonexistent/ca.pem", "--password-env", "PW"), ("--ca-file",)),
        (("--file", "/nonexistent/config.json"), ("/nonexistent/config.json",)),
        (("*.io", "-u", "a", "--password-env", "PW"), ("wildcard",)),
    ],
)
def test_usage_errors(args: tuple[str, ...], needles: tuple[str, ...]) -> None:
    result = run_regcred("verify", *args, env={"PW": PASSWORD})
    assert_clean_error(result, 2, *needles)


def test_ca_file_that_is_not_pem(tmp_path: Path) -> None:
    bad_ca = tmp_path / "ca.pem"
    bad_ca.write_text("not a certificate")
    result = run_regcred("verify", "reg.io", "-u", "a", "--password-env", "PW", "--ca-file", bad_ca,
                         env={"PW": PASSWORD})
    assert_clean_error(result, 2, "not a PEM CA bundle")


def test_token_the_registry_does_not_accept_is_not_a_login(serve: Callable[[Route], FakeServer]) -> None:
    """As `docker login`: the token must open `/v2/`; a realm the registry does not trust fails the login."""
    realm = serve(lambda h: (200, {}, b'{"token": "untrusted-token"}'))
    registry = serve(lambda h: (401, {"WWW-Authenticate": f'Bearer realm="http://{realm.host}/token"'}, b"{}"))
    result, data = verify(registry.host, "--repository", "team/app:v1")
    [row] = data["results"]
    assert result.returncode == 1 and row["login"] is False
    assert "login with the token: 401 unauthorized" in row["error"]
    assert ("GET", "/v2/", True) in registry.seen


def test_plain_http_realm_of_an_https_registry_gets_no_credentials(serve: Callable[..., FakeServer],
                                                                   tmp_path: Path) -> None:
    realm = serve(lambda h: (200, {}, b'{"token": "t"}'))
    registry = serve(lambda h: (401, {"WWW-Authenticate": f'Bearer realm="http://{realm.host}/token"'}, b"{}"),
                     tmp_path)
    result = run_regcred("verify", registry.host, "-u", "alice", "--password-stdin", "--ca-file",
                         str(registry.ca_file), "-o", "json", input=PASSWORD)
    [row] = json.loads(result.stdout)["results"]
    assert result.returncode == 1 and row["tls"] is True and not row["login"]
    assert "plain http while the registry is https" in row["error"]
    assert realm.seen == [] and PASSWORD not in result.stdout + result.stderr


@pytest.mark.parametrize("phase", ["body", "headers"])
def test_trickling_registry_is_stopped_by_the_check_deadline(phase: str) -> None:
    """Each byte comes within --timeout, so no read times out; the whole check still ends at its deadline
    (S × (2 + repositories): 0.5 × 2 = 1 s here), instead of after the ~60 s the reply would take. The
    headers phase is bounded too: every socket read is capped at what is left of the deadline."""
    import socket

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    stop = threading.Event()
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 600\r\n"

    def trickle(conn: socket.socket) -> None:
        with conn:
            conn.recv(65536)
            if phase == "body":
                conn.sendall(head + b"\r\n")
            else:  # the status line, then one header byte per 0.1 s: ~60 s until the headers end
                conn.sendall(head + b"X-Slow: ")
            for _ in range(600):
                if stop.wait(0.1):
                    return
                try:
                    conn.sendall(b"a" if phase == "headers" else b" ")
                except OSError:
                    return

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=trickle, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    try:
        started = time.monotonic()
        result, data = verify(f"127.0.0.1:{listener.getsockname()[1]}", "--timeout", "0.5")
        elapsed = time.monotonic() - started
    finally:
        stop.set()
        listener.close()
    assert result.returncode == 1
    assert "passed its 1s deadline" in error_of(data) and elapsed < 10

"""A small Docker-registry Bearer token server for tests.

It speaks the protocol Debian's docker-registry (distribution 2.8) expects from
``auth.token``: ``GET /token`` with Basic auth and repeatable ``scope``, and the
OAuth2 ``POST /token`` form that containerd tries first. Tokens are RS256 JWTs
whose ``x5c`` header carries the signing certificate, which the registry trusts
through ``rootcertbundle``. Accounts carry per-repository actions so that a
read-only account can be modelled (htpasswd auth cannot do that).

``mode`` makes the server misbehave on purpose, for clients' bad-input tests. ``issue_password`` gives an
account a short-lived password, as a cloud token API does (``tokenapi.py`` serves it over HTTP).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import fnmatch
import json
import secrets
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

Mode = Literal["normal", "non_json", "huge", "post_only", "get_only"]
MODES: tuple[str, ...] = ("normal", "non_json", "huge", "post_only", "get_only")

# user -> (password, {repository glob or "*": allowed actions})
Accounts = Mapping[str, tuple[str, Mapping[str, Iterable[str]]]]

MAX_FORM_BYTES = 64 * 1024


@dataclass(frozen=True)
class TokenRequest:
    """One request as seen by the server. Passwords are never recorded."""

    method: str
    path: str
    query: dict[str, list[str]]
    has_authorization: bool
    username: str | None
    form: dict[str, list[str]] = field(default_factory=dict)  # POST form minus password
    status: int = 0

    @property
    def scopes(self) -> list[str]:
        if self.method == "POST":
            return [s for v in self.form.get("scope", []) for s in v.split()]
        return self.query.get("scope", [])


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def decode_jwt(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Header and payload of a JWT, *without* verifying it (for assertions)."""
    header, payload, _sig = token.split(".")
    return json.loads(_b64url_decode(header)), json.loads(_b64url_decode(payload))


def verify_jwt(token: str, cert_pem: bytes) -> dict[str, Any]:
    """Check an RS256 signature against ``cert_pem`` and return the payload."""
    signing_input, _, sig = token.rpartition(".")
    key = x509.load_pem_x509_certificate(cert_pem).public_key()
    assert isinstance(key, rsa.RSAPublicKey)
    key.verify(_b64url_decode(sig), signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return decode_jwt(token)[1]


def make_signing_cert(
    common_name: str = "regcred-test-token-signer",
) -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    """Self-signed RSA cert: it is both the JWT x5c and the registry's trust root."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def parse_scope(scope: str) -> tuple[str, str, list[str]] | None:
    """``repository:team/app:pull,push`` -> (type, name, actions); None if malformed."""
    typ, sep, rest = scope.partition(":")
    name, sep2, actions = rest.rpartition(":")
    if not (sep and sep2 and typ and name):
        return None
    return typ, name, [a for a in actions.split(",") if a]


class TokenServer:
    """Threaded token server on 127.0.0.1:0. Use as a context manager or start()/stop()."""

    def __init__(
        self,
        accounts: Accounts,
        *,
        issuer: str = "regcred-test-issuer",
        service: str = "regcred-test-registry",
        mode: Mode = "normal",
        expires_in: int = 300,
        huge_bytes: int = 8 * 1024 * 1024,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}, expected one of {MODES}")
        self.accounts: dict[str, tuple[str, dict[str, frozenset[str]]]] = {
            user: (pw, {glob: frozenset(acts) for glob, acts in rules.items()})
            for user, (pw, rules) in accounts.items()
        }
        self.issuer = issuer
        self.service = service
        self.mode: Mode = mode
        self.expires_in = expires_in
        self.huge_bytes = huge_bytes
        self._key, self._cert = make_signing_cert()
        self.cert_pem: bytes = self._cert.public_bytes(serialization.Encoding.PEM)
        self._requests: list[TokenRequest] = []
        self._short_lived: list[tuple[str, str, float]] = []  # (user, password, time.time() it expires)
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # lifecycle -----------------------------------------------------------
    def start(self) -> TokenServer:
        if self._httpd is not None:
            return self
        handler = type("BoundTokenHandler", (_Handler,), {"server_ref": self})
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},  # shutdown() waits up to one poll interval
            name="regcred-token-server",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is None:
            return
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = None
        self._thread = None

    def __enter__(self) -> TokenServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("token server not started")
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def realm(self) -> str:
        return f"{self.url}/token"

    def write_cert(self, path: Path) -> Path:
        """Write the signing cert (the registry's ``rootcertbundle``)."""
        path.write_bytes(self.cert_pem)
        return path

    # request log -----------------------------------------------------------
    @property
    def requests(self) -> list[TokenRequest]:
        with self._lock:
            return list(self._requests)

    def clear_requests(self) -> None:
        with self._lock:
            self._requests.clear()

    def _record(self, req: TokenRequest) -> None:
        with self._lock:
            self._requests.append(req)

    # token logic -------------------------------------------------------------
    def check_password(self, user: str, password: str) -> bool:
        """The account's own password, or one `issue_password` gave that has not expired."""
        entry = self.accounts.get(user)
        if entry is not None and secrets.compare_digest(entry[0].encode(), password.encode()):
            return True
        with self._lock:
            issued = [(p, until) for u, p, until in self._short_lived if u == user]
        return any(secrets.compare_digest(p.encode(), password.encode()) and time.time() < t for p, t in issued)

    def issue_password(self, user: str, lifetime: float) -> str:
        """A fresh password for `user`, accepted for `lifetime` seconds (a cloud token API's answer)."""
        password = secrets.token_urlsafe(18)
        with self._lock:
            self._short_lived.append((user, password, time.time() + lifetime))
        return password

    def grant(self, user: str | None, scopes: Iterable[str]) -> list[dict[str, Any]]:
        """Requested actions intersected with the account's rules; anonymous gets nothing."""
        rules = self.accounts[user][1] if user in self.accounts else {}
        merged: dict[tuple[str, str], list[str]] = {}
        for scope in scopes:
            parsed = parse_scope(scope)
            if parsed is None:
                continue
            typ, name, requested = parsed
            allowed: set[str] = set()
            if typ == "repository":
                for glob, actions in rules.items():
                    if glob == "*" or fnmatch.fnmatchcase(name, glob):
                        allowed |= actions
            acts = merged.setdefault((typ, name), [])
            for action in requested:
                if (action in allowed or "*" in allowed) and action not in acts:
                    acts.append(action)
        return [{"type": typ, "name": name, "actions": acts} for (typ, name), acts in merged.items() if acts]

    def issue(self, subject: str, access: list[dict[str, Any]]) -> str:
        """Sign a JWT exactly as distribution 2.8 verifies it (x5c, iss, aud)."""
        now = int(time.time())
        der = self._cert.public_bytes(serialization.Encoding.DER)
        header = {"typ": "JWT", "alg": "RS256", "x5c": [base64.b64encode(der).decode()]}
        claims = {
            "iss": self.issuer,
            "sub": subject,
            "aud": self.service,
            "exp": now + self.expires_in,
            "nbf": now - 10,
            "iat": now,
            "jti": secrets.token_hex(16),
            "access": access,
        }
        signing_input = f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(claims).encode())}"
        sig = self._key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{signing_input}.{_b64url(sig)}"

    def token_body(self, subject: str, access: list[dict[str, Any]]) -> dict[str, Any]:
        token = self.issue(subject, access)
        issued = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return {"token": token, "access_token": token, "expires_in": self.expires_in, "issued_at": issued}


class _Handler(BaseHTTPRequestHandler):
    """HTTP glue; all decisions live in TokenServer."""

    server_ref: TokenServer
    protocol_version = "HTTP/1.1"
    _pending: TokenRequest | None = None

    def log_message(self, format: str, *args: Any) -> None:
        """Silence stderr access logs; the structured request log is kept instead."""

    def _send(self, status: int, body: bytes, ctype: str = "application/json", **headers: str) -> None:
        # Record before replying: once a client has the response, the log shows the request.
        if self._pending is not None:
            self.server_ref._record(replace(self._pending, status=status))
            self._pending = None
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, obj: dict[str, Any], **headers: str) -> None:
        self._send(status, json.dumps(obj).encode(), **headers)

    def _basic_credentials(self) -> tuple[str, str] | None:
        header = self.headers.get("Authorization", "")
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            user, sep, password = base64.b64decode(value.strip(), validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None
        return (user, password) if sep else None

    def _misbehave(self) -> bool:
        """Non-protocol answers for bad-input tests; True when a reply was sent."""
        ts = self.server_ref
        if ts.mode == "non_json":
            self._send(200, b"<html><body>token service</body></html>", "text/html")
        elif ts.mode == "huge":
            body = ts.token_body("anonymous", [])
            body["padding"] = "A" * ts.huge_bytes
            self._json(200, body)
        elif ts.mode == "post_only" and self.command == "GET":
            self._json(405, {"error": "method not allowed"}, Allow="POST")
        elif ts.mode == "get_only" and self.command == "POST":
            self._json(405, {"error": "method not allowed"}, Allow="GET")
        else:
            return False
        return True

    def _unauthorized(self, body: dict[str, Any]) -> None:
        self._json(401, body, WWW_Authenticate='Basic realm="regcred-test-token"')

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        query = parse_qs(url.query, keep_blank_values=True)
        creds = self._basic_credentials()
        has_auth = "Authorization" in self.headers
        self._pending = TokenRequest("GET", url.path, query, has_auth, creds[0] if creds else None)
        self._handle_get(url.path, query, creds, has_auth)

    def _handle_get(
        self, path: str, query: dict[str, list[str]], creds: tuple[str, str] | None, has_auth: bool
    ) -> None:
        if path != "/token":
            return self._json(404, {"error": "not found"})
        if self._misbehave():
            return None
        ts = self.server_ref
        if has_auth and (creds is None or not ts.check_password(*creds)):
            msg = "authentication failed"
            return self._unauthorized({"errors": [{"code": "UNAUTHORIZED", "message": msg}]})
        user = creds[0] if creds else None
        access = ts.grant(user, query.get("scope", []))
        return self._json(200, ts.token_body(user or "", access))

    def do_POST(self) -> None:
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_FORM_BYTES:
            self._pending = TokenRequest("POST", url.path, {}, "Authorization" in self.headers, None)
            self._json(413, {"error": "invalid_request", "error_description": "form too large"})
            self.close_connection = True
            return
        form = parse_qs(self.rfile.read(length).decode("utf-8", "replace"), keep_blank_values=True)
        self._pending = TokenRequest(
            "POST",
            url.path,
            parse_qs(url.query),
            "Authorization" in self.headers,
            form["username"][0] if form.get("username") else None,
            {k: v for k, v in form.items() if k != "password"},
        )
        self._handle_post(url.path, form)

    def _handle_post(self, path: str, form: dict[str, list[str]]) -> None:
        if path != "/token":
            return self._json(404, {"error": "not found"})
        if self._misbehave():
            return None
        ts = self.server_ref
        grant_type = (form.get("grant_type") or [""])[0]
        if grant_type != "password":
            desc = f"unsupported grant_type {grant_type!r}"
            return self._json(400, {"error": "unsupported_grant_type", "error_description": desc})
        user = (form.get("username") or [""])[0]
        password = (form.get("password") or [""])[0]
        if not user or not ts.check_password(user, password):
            return self._unauthorized(
                {"error": "invalid_grant", "error_description": "authentication failed"}
            )
        scopes = [s for value in form.get("scope", []) for s in value.split()]
        return self._json(200, ts.token_body(user, ts.grant(user, scopes)))

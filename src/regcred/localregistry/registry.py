"""Run Debian's real ``docker-registry`` (distribution 2.8) on loopback.

Each ``RegistryServer`` owns a temp directory holding its config, storage,
htpasswd file, TLS material and log. The process listens on 127.0.0.1:0; the
real port is read from the ``listening on 127.0.0.1:NNNNN`` log line. Images are
pushed with the real ``skopeo`` from an OCI layout built offline, so the
registry is exercised exactly as production clients exercise one.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import os
import re
import secrets
import shutil
import signal
import ssl
import subprocess
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import httpx
import yaml

from regcred.core.credentials.dockerconfig import dumps_file, entry_object
from regcred.localregistry.oci import build_oci_layout
from regcred.localregistry.tls import generate_pki
from regcred.shells.files import atomic_write

if TYPE_CHECKING:
    from typing import Protocol

    class TokenServer(Protocol):
        realm: str
        service: str
        issuer: str

        def write_cert(self, path: Path) -> Path: ...

AuthMode = Literal["htpasswd", "token", "none"]

REGISTRY_BIN = "/usr/bin/docker-registry"
LISTEN_RE = re.compile(r"listening on 127\.0\.0\.1:(\d+)")
_LIVE: set[RegistryServer] = set()


class RegistryStartError(RuntimeError):
    """The registry did not come up; the message carries the log tail."""


def _stop_all() -> None:
    for server in list(_LIVE):
        server.stop()


atexit.register(_stop_all)


def write_authfile(path: Path, entries: dict[str, tuple[str, str]]) -> Path:
    """Write a docker ``config.json`` (mode 0600) with a padded ``auth`` field per host.

    skopeo ignores entries that only carry username/password, hence ``auth``.
    """
    auths = {host: entry_object(u, p) for host, (u, p) in entries.items()}
    atomic_write(path, dumps_file({"auths": auths}).encode())
    return path


def hermetic_env(home: Path) -> dict[str, str]:
    """Environment for skopeo that cannot see the developer's own credentials.

    containers/image also reads ~/.docker/config.json, $XDG_RUNTIME_DIR and
    REGISTRY_AUTH_FILE; pointing them into ``home`` keeps results honest.
    """
    env = {k: v for k, v in os.environ.items() if k not in ("REGISTRY_AUTH_FILE", "DOCKER_CONFIG")}
    for sub in ("run", "config"):
        (home / sub).mkdir(parents=True, exist_ok=True)
    registries_conf = home / "registries.conf"
    if not registries_conf.exists():
        registries_conf.write_text("")
    env.update(
        HOME=str(home),
        XDG_RUNTIME_DIR=str(home / "run"),
        XDG_CONFIG_HOME=str(home / "config"),
        CONTAINERS_REGISTRIES_CONF=str(registries_conf),
    )
    return env


def bcrypt_htpasswd(users: dict[str, str]) -> str:
    """bcrypt lines from the real ``htpasswd`` (the registry ignores MD5/SHA).

    The password goes through stdin (``-i``) so it never shows up in ``ps``.
    """
    lines = []
    for user, password in users.items():
        out = subprocess.run(
            ["htpasswd", "-niB", user], input=password, capture_output=True, text=True, check=False
        )
        if out.returncode != 0:
            raise RuntimeError(f"htpasswd failed for user {user!r}: {out.stderr.strip()}")
        lines.append(out.stdout.strip())
    return "\n".join(lines) + "\n"


def _kill_with_parent() -> None:
    """preexec hook: the registry dies if the test process is SIGKILLed (Linux only).

    The signal is tied to the *thread* that started the process, so start
    registries from the main thread (pytest fixtures do) or a long-lived one.
    """
    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class RegistryServer:
    """A real docker-registry process on loopback. Context manager; stop() is idempotent."""

    def __init__(
        self,
        auth: AuthMode = "htpasswd",
        *,
        users: dict[str, str] | None = None,
        token_server: TokenServer | None = None,
        tls: bool = False,
        workdir: Path | None = None,
        startup_timeout: float = 5.0,
    ) -> None:
        if auth == "token" and token_server is None:
            raise ValueError("auth='token' needs a (started) TokenServer")
        if auth == "htpasswd" and not users:
            raise ValueError("auth='htpasswd' needs at least one user")
        self.auth: AuthMode = auth
        self.users: dict[str, str] = dict(users or {})
        self.token_server = token_server
        self.tls = tls
        self.startup_timeout = startup_timeout
        self._own_workdir = workdir is None
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="regcred-registry-"))
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.log_path = self.workdir / "registry.log"
        self.config_path = self.workdir / "config.yml"
        self.ca_file: Path | None = None
        self.cert_dir: Path | None = None  # holds ca.crt, for skopeo --cert-dir
        self.images: dict[str, str] = {}  # "repo:tag" -> manifest digest
        self.port: int | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._push_count = 0

    # config ----------------------------------------------------------------
    def _config(self) -> dict[str, Any]:
        http: dict[str, Any] = {"addr": "127.0.0.1:0", "secret": secrets.token_hex(16)}
        if self.tls:
            ca_file, cert_file, key_file = generate_pki().write(self.workdir / "tls")
            self.ca_file, self.cert_dir = ca_file, ca_file.parent
            http["tls"] = {"certificate": str(cert_file), "key": str(key_file)}
        auth: dict[str, Any] = {}
        if self.auth == "htpasswd":
            htpasswd = self.workdir / "htpasswd"
            atomic_write(htpasswd, bcrypt_htpasswd(self.users).encode())
            auth = {"htpasswd": {"realm": "regcred-test", "path": str(htpasswd)}}
        elif self.auth == "token":
            assert self.token_server is not None
            bundle = self.token_server.write_cert(self.workdir / "token-signer.pem")
            auth = {
                "token": {
                    "realm": self.token_server.realm,
                    "service": self.token_server.service,
                    "issuer": self.token_server.issuer,
                    "rootcertbundle": str(bundle),
                }
            }
        config: dict[str, Any] = {
            "version": 0.1,
            "log": {"level": "info", "formatter": "text", "accesslog": {"disabled": True}},
            "storage": {
                "filesystem": {"rootdirectory": str(self.workdir / "data")},
                "delete": {"enabled": True},
                "maintenance": {"uploadpurging": {"enabled": False}},
            },
            "http": http,
        }
        if auth:
            config["auth"] = auth
        return config

    # lifecycle ---------------------------------------------------------------
    def start(self) -> RegistryServer:
        if self._proc is not None:
            return self
        if not Path(REGISTRY_BIN).exists():
            raise RegistryStartError(f"{REGISTRY_BIN} not installed")
        atomic_write(self.config_path, yaml.safe_dump(self._config()).encode())  # holds http.secret
        with open(self.log_path, "ab") as log:
            self._proc = subprocess.Popen(
                [REGISTRY_BIN, "serve", str(self.config_path)],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=self.workdir,
                preexec_fn=_kill_with_parent,
            )
        _LIVE.add(self)
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self) -> None:
        """Wait for the port in the log, then for GET /v2/ to answer at all."""
        deadline = time.monotonic() + self.startup_timeout
        assert self._proc is not None
        while self.port is None:
            match = LISTEN_RE.search(self.log_path.read_text(errors="replace"))
            if match:
                self.port = int(match.group(1))
            elif self._proc.poll() is not None:
                self._fail(f"docker-registry exited with code {self._proc.returncode}")
            elif time.monotonic() > deadline:
                self._fail("no 'listening on' line in the log")
            else:
                time.sleep(0.02)
        with httpx.Client(verify=self.ssl_context(), timeout=1.0) as client:
            while True:
                try:
                    client.get(f"{self.url}/v2/")
                    return
                except httpx.HTTPError as exc:
                    if self._proc.poll() is not None or time.monotonic() > deadline:
                        self._fail(f"GET /v2/ never answered ({exc!r})")
                    time.sleep(0.02)

    def _fail(self, reason: str) -> None:
        raise RegistryStartError(
            f"{reason} within {self.startup_timeout}s; log {self.log_path} ends with:\n{self.log_tail()}"
        )

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "<no log>"

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        _LIVE.discard(self)
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=3)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=3)

    def cleanup(self) -> None:
        """stop() and remove the temp dir if this object created it."""
        self.stop()
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> RegistryServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.cleanup()

    def ssl_context(self) -> ssl.SSLContext | bool:
        """httpx ``verify=`` value trusting only this registry's CA (False for plain HTTP)."""
        if self.ca_file is None:
            return False
        return ssl.create_default_context(cafile=str(self.ca_file))

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def host(self) -> str:
        if self.port is None:
            raise RuntimeError("registry not started")
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.host}"

    # images --------------------------------------------------------------------
    def tls_args(self, prefix: str = "") -> list[str]:
        """skopeo flags for this registry: --cert-dir for TLS, else plain HTTP."""
        if self.cert_dir is not None:
            return [f"--{prefix}cert-dir", str(self.cert_dir)]
        return [f"--{prefix}tls-verify=false"]

    def push(
        self, repo: str, tag: str, username: str | None, password: str | None, content: bytes = b"hello"
    ) -> str:
        """Push a tiny image with the real skopeo; returns the manifest digest.

        Raises RuntimeError with skopeo's stderr (e.g. "denied" for a read-only
        token account). Credentials only ever live in a 0600 temp authfile.
        """
        self._push_count += 1
        scratch = self.workdir / f"push-{self._push_count}"
        layout = build_oci_layout(scratch / "layout", tag=tag, content=content)
        authfile = scratch / "auth.json"
        entries = {self.host: (username, password or "")} if username else {}
        write_authfile(authfile, entries)
        digestfile = scratch / "digest"
        cmd = [
            "skopeo", "--insecure-policy", "copy", "--retry-times", "0",
            *self.tls_args("dest-"), "--dest-authfile", str(authfile),
            "--digestfile", str(digestfile),
            f"oci:{layout}:{tag}", f"docker://{self.host}/{repo}:{tag}",
        ]  # fmt: skip
        try:
            out = subprocess.run(
                cmd, capture_output=True, text=True, timeout=120, env=hermetic_env(scratch / "home")
            )
        finally:
            authfile.unlink(missing_ok=True)
        if out.returncode != 0:
            raise RuntimeError(f"skopeo copy to {self.host}/{repo}:{tag} failed: {out.stderr.strip()}")
        digest = digestfile.read_text().strip()
        self.images[f"{repo}:{tag}"] = digest
        return digest

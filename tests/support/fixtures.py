"""pytest fixtures around the real registry, token server and skopeo.

Registered by the root conftest via ``pytest_plugins = ["tests.support.fixtures"]``.
Registries are session-scoped because each one costs a process start plus a
skopeo push. When a binary is missing the fixture skips with a visible reason;
set ``REGCRED_REQUIRE_REAL=1`` (CI, acceptance) to turn that skip into a failure
so the real tier can never pass by not running.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NoReturn

import pytest

from regcred.localregistry.registry import REGISTRY_BIN, RegistryServer, hermetic_env
from tests.support.tokenapi import TokenApi
from tests.support.tokenserver import TokenServer

REQUIRE_REAL_ENV = "REGCRED_REQUIRE_REAL"
DEV_PACKAGES = ("docker-registry", "skopeo", "apache2-utils", "containerd", "etcd-server", "chromium")  # ./dev installs
INSTALL_HINT = f"run ./dev test which installs it (apt-get install {' '.join(DEV_PACKAGES)})"
BINARIES = {  # binary -> Debian package
    "docker-registry": "docker-registry",
    "skopeo": "skopeo",
    "htpasswd": "apache2-utils",
    "containerd": "containerd",
    "kubectl": "kubectl",
    "etcd": "etcd-server",
    "chromium": "chromium",
}

IMAGE_REPO = "team/app"
IMAGE_TAG = "v1"

HTPASSWD_USERS = {"alice": 's3cret:with"quote', "bob": "builder-pass"}
TOKEN_PASSWORDS = {"reader": "reader-pass", "writer": "writer-pass"}
TOKEN_ACCOUNTS = {
    "reader": (TOKEN_PASSWORDS["reader"], {"*": {"pull"}}),
    "writer": (TOKEN_PASSWORDS["writer"], {"*": {"pull", "push"}}),
}

SkopeoInspect = Callable[..., "subprocess.CompletedProcess[str]"]


def _installed(name: str) -> bool:
    if name == "docker-registry":  # started by absolute path, see registry.REGISTRY_BIN
        return Path(REGISTRY_BIN).is_file()
    return shutil.which(name) is not None


def require_component(reason: str) -> NoReturn:
    """Call when a real component (a binary, a recording, an installed entry point) is missing: skip with
    `reason`, or fail under REGCRED_REQUIRE_REAL so the real tier can never pass by not running."""
    if os.environ.get(REQUIRE_REAL_ENV):
        pytest.fail(f"{REQUIRE_REAL_ENV} is set but {reason}", pytrace=False)
    pytest.skip(reason)


def require_binaries(*names: str) -> None:
    """Skip (or fail under REGCRED_REQUIRE_REAL) when a real binary is missing."""
    missing = [n for n in names if not _installed(n)]
    if not missing:
        return
    packages = sorted({BINARIES.get(n, n) for n in missing})
    hint = INSTALL_HINT if set(packages) <= set(DEV_PACKAGES) else f"apt-get install {' '.join(packages)}"
    require_component(f"{', '.join(missing)} not installed (Debian: {' '.join(packages)}): {hint}")


def containerd_dump(tmp_path: Path, text: str) -> str:
    """What the real containerd makes of a config (`containerd --config F config dump`); skips without it
    (fails under REGCRED_REQUIRE_REAL)."""
    require_binaries("containerd")
    path = tmp_path / "config.toml"
    path.write_text(text)
    done = subprocess.run(["containerd", "--config", str(path), "config", "dump"], capture_output=True, text=True,
                          timeout=30, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


def _start_with_image(server: RegistryServer, username: str | None, password: str | None) -> RegistryServer:
    server.start()
    try:
        server.push(IMAGE_REPO, IMAGE_TAG, username, password)
    except BaseException:
        server.stop()
        raise
    return server


@pytest.fixture(scope="session")
def registry_htpasswd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    """Plain-HTTP registry, bcrypt htpasswd users alice and bob, team/app:v1 pushed."""
    require_binaries("docker-registry", "skopeo", "htpasswd")
    server = RegistryServer("htpasswd", users=HTPASSWD_USERS, workdir=tmp_path_factory.mktemp("reg-htpasswd"))
    _start_with_image(server, "alice", HTPASSWD_USERS["alice"])
    yield server
    server.stop()


@pytest.fixture(scope="session")
def token_server() -> Iterator[TokenServer]:
    """The Bearer token server behind ``registry_token`` (accounts reader, writer)."""
    with TokenServer(TOKEN_ACCOUNTS) as server:
        yield server


@pytest.fixture
def token_api(token_server: TokenServer) -> Iterator[TokenApi]:
    """A cloud token API selling short-lived passwords of ``token_server``'s accounts (60 s unless asked)."""
    with TokenApi(token_server) as api:
        yield api


@pytest.fixture(scope="session")
def registry_token(
    tmp_path_factory: pytest.TempPathFactory, token_server: TokenServer
) -> Iterator[RegistryServer]:
    """Token-auth registry: reader may pull, writer may pull+push; team/app:v1 pushed by writer."""
    require_binaries("docker-registry", "skopeo")
    server = RegistryServer(
        "token",
        users=TOKEN_PASSWORDS,
        token_server=token_server,
        workdir=tmp_path_factory.mktemp("reg-token"),
    )
    _start_with_image(server, "writer", TOKEN_PASSWORDS["writer"])
    token_server.clear_requests()
    yield server
    server.stop()


@pytest.fixture(params=["htpasswd", "token"])
def auth_registry(request: pytest.FixtureRequest) -> RegistryServer:
    """The same test against the htpasswd registry and the token-auth one (``registry.auth`` tells which)."""
    server: RegistryServer = request.getfixturevalue(f"registry_{request.param}")
    return server


@pytest.fixture(scope="session")
def registry_tls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    """HTTPS registry (throw-away CA in ``ca_file``/``cert_dir``), htpasswd users, team/app:v1."""
    require_binaries("docker-registry", "skopeo", "htpasswd")
    server = RegistryServer(
        "htpasswd", users=HTPASSWD_USERS, tls=True, workdir=tmp_path_factory.mktemp("reg-tls")
    )
    _start_with_image(server, "alice", HTPASSWD_USERS["alice"])
    yield server
    server.stop()


@pytest.fixture
def skopeo_inspect(tmp_path: Path) -> SkopeoInspect:
    """``inspect(ref, authfile, *, tls_verify=False, cert_dir=None)`` -> CompletedProcess.

    Runs the real ``skopeo inspect`` in a hermetic environment (no access to
    ~/.docker or $XDG_RUNTIME_DIR credentials). ``authfile=None`` means
    anonymous. Never raises on a non-zero exit: tests assert on returncode/stderr.
    """
    require_binaries("skopeo")
    env = hermetic_env(tmp_path / "skopeo-home")

    def inspect(
        ref: str,
        authfile: Path | str | None,
        *,
        tls_verify: bool = False,
        cert_dir: Path | str | None = None,
    ) -> subprocess.CompletedProcess[str]:
        cmd = ["skopeo", "--insecure-policy", "inspect", "--retry-times", "0"]
        if cert_dir is not None:
            cmd += ["--cert-dir", str(cert_dir)]
        if not tls_verify and cert_dir is None:
            cmd.append("--tls-verify=false")
        cmd += ["--authfile", str(authfile)] if authfile is not None else ["--no-creds"]
        cmd.append(ref if ref.startswith("docker://") else f"docker://{ref}")
        return subprocess.run(cmd, capture_output=True, text=True, timeout=60, env=env, check=False)

    return inspect


@pytest.fixture
def dead_port() -> int:
    """A loopback port with nothing listening (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])

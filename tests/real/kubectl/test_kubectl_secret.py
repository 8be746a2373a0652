"""`regcred secret create` against the real kubectl: same object, byte-identical payload."""

import json
import shutil
import subprocess

import pytest

from tests.support.cli import run_regcred
from tests.support.fixtures import require_binaries

KUBECTL = shutil.which("kubectl")
pytestmark = pytest.mark.real


@pytest.fixture(autouse=True)
def _kubectl() -> None:
    """kubectl is the reference for Secret output: skip without it (fail under REGCRED_REQUIRE_REAL)."""
    require_binaries("kubectl")

CASES = [
    pytest.param({"server": "registry.example.com:5000", "username": "alice", "password": "s3cr:et", "email": "alice@example.com"}, id="colon"),
    pytest.param({"server": None, "username": "bob", "password": "pw", "email": None}, id="docker-hub-default"),
    pytest.param({"server": "r.io", "username": "u", "password": 'q"uo\'te\\s', "email": None}, id="quotes"),
    pytest.param({"server": "r.io", "username": "ünï", "password": "pässwörd€", "email": "é@x"}, id="unicode"),
    pytest.param({"server": "https://r.io/v2/", "username": "u", "password": "<tag>&amp;", "email": None}, id="html-escapes"),
    pytest.param({"server": "r.io", "username": "robot$team+ci", "password": "a b\tc", "email": None}, id="spaces-tab"),
    pytest.param({"server": "régistry.example.com", "username": "u", "password": "p", "email": None}, id="unicode-server"),
    pytest.param({"server": "r.io", "username": "u", "password": "p", "email": ""}, id="empty-email"),
    pytest.param({"server": "r.io", "username": "u", "password": "x:" * 4000, "email": None}, id="long-password"),
    pytest.param({"server": "r.io", "username": "u", "password": "a\x01b\x7fc\u2028d\u2029", "email": None},
                 id="control-characters"),
]


def kubectl_secret(case: dict, namespace: str | None) -> dict:
    cmd = [KUBECTL, "create", "secret", "docker-registry", "pull", f"--docker-username={case['username']}",
           f"--docker-password={case['password']}", "--dry-run=client", "-o", "json"]
    if case["server"]:
        cmd.append(f"--docker-server={case['server']}")
    if case["email"] is not None:
        cmd.append(f"--docker-email={case['email']}")
    if namespace:
        cmd += ["-n", namespace]
    return json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=60).stdout)


@pytest.mark.parametrize("namespace", [None, "team"])
@pytest.mark.parametrize("case", CASES)
def test_identical_to_kubectl(case: dict, namespace: str | None) -> None:
    args = ["secret", "create", "pull", "--username", case["username"], "--password-stdin", "--dry-run=client", "-o", "json"]
    if case["server"]:
        args += ["--server", case["server"]]
    if case["email"] is not None:
        args += ["--email", case["email"]]
    if namespace:
        args += ["-n", namespace]
    ours = run_regcred(*args, input=case["password"])
    assert ours.returncode == 0, ours.stderr
    theirs = kubectl_secret(case, namespace)
    mine = json.loads(ours.stdout)
    assert mine == theirs
    assert mine["data"][".dockerconfigjson"] == theirs["data"][".dockerconfigjson"]  # byte-identical payload

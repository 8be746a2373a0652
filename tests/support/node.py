"""A fake node (a temporary directory used as --host-root) and the in-process `regcred` runner.

Registered by the root conftest (``pytest_plugins``): node tests of the unit, cli and real tiers share it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from regcred.cli.main import main

PASSWORD = "n0de-s3cret"  # never expected in any output
KUBELET = "/var/lib/kubelet/config.json"
OTHER = {"username": "bob", "password": "other-pass", "auth": "Ym9iOm90aGVyLXBhc3M="}  # another writer's entry


class FakeNode:
    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, node_path: str) -> Path:
        return self.root / node_path.lstrip("/")

    def write(self, node_path: str, content: str | bytes | dict, mode: int = 0o600) -> Path:
        path = self.path(node_path)
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, dict):
            content = json.dumps(content, indent=2)
        path.write_bytes(content.encode() if isinstance(content, str) else content)
        path.chmod(mode)
        return path

    def read(self, node_path: str) -> str:
        return self.path(node_path).read_text()

    def json(self, node_path: str) -> dict:
        return json.loads(self.read(node_path))


@pytest.fixture
def fake_node(tmp_path: Path) -> FakeNode:
    root = tmp_path / "node"
    root.mkdir()
    return FakeNode(root)


@pytest.fixture
def regcred():
    """Run regcred's real entry point (error lines, exit codes) in process: (exit code, stdout, stderr)."""
    runner = CliRunner()

    def run(*args: str, env: dict[str, str] | None = None, input: str | None = None):
        with runner.isolation(input=input, env={"NODE_PW": PASSWORD, **(env or {})}) as (out, err, _):
            try:
                main(list(args))
                code = 0
            except SystemExit as exc:
                code = int(exc.code or 0)
            stdout, stderr = out.getvalue().decode(), err.getvalue().decode()
        assert PASSWORD not in stdout + stderr
        assert "Traceback" not in stderr
        return code, stdout, stderr

    return run


def install(regcred, node, *args):
    """`node install ... -o json` on a fake node; (exit code, parsed JSON or None, stderr)."""
    code, out, err = regcred("node", "install", *args, "--host-root", str(node.root), "--password-env", "NODE_PW",
                             "-o", "json")
    return code, (json.loads(out) if code == 0 else None), err

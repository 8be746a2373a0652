"""Hostile inputs and the file-reading commands they are fed to (the regression tests and the fuzz tier).

Every command here reads its input from one file path; run with no cluster, no network and no
credentials around, each must end with exit 0, 1 or 2, one clean line on error, and never change
the file it was given.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.cli import run_regcred

SPEC = """\
apiVersion: regcred.dev/v1alpha1
kind: RegistryCredential
metadata: {name: team}
spec:
  secretName: pull
  registries:
  - server: r.example.com
    username: u
    passwordFrom: {env: REGCRED_TEST_PW}
"""

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: main
        image: r.example.com/app
"""


def deep_json(levels: int = 100_000) -> str:
    return "[" * levels + "]" * levels


def deep_object(levels: int = 100_000) -> str:
    return '{"auths":' + '{"a":' * levels + "1" + "}" * levels + "}"


def alias_bomb(levels: int = 10, width: int = 9, indent: str = "") -> str:
    """The "billion laughs" document: `width`^`levels` strings from a few hundred bytes."""
    lines = [f'{indent}l0: &l0 ["lol"]']
    for level in range(1, levels):
        refs = ", ".join([f"*l{level - 1}"] * width)
        lines.append(f"{indent}l{level}: &l{level} [{refs}]")
    return "\n".join(lines) + "\n"


def bomb_in_configmap() -> str:
    return "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: bomb}\ndata:\n" + alias_bomb(indent="  ")


def bomb_in_deployment() -> str:
    """A pod-spec document with anchors: inject's round-trip (ruamel) fallback would get it."""
    return DEPLOYMENT.replace("spec:\n  selector", "spec:\n  x:\n" + alias_bomb(indent="    ") + "  selector", 1)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def isolated_env(tmp: Path) -> dict[str, str]:
    """No kubeconfig, no in-cluster config, a password for specs, and HOME inside the test."""
    env = {"HOME": str(tmp / "home"), "KUBECONFIG": str(tmp / "no-kubeconfig"), "REGCRED_TEST_PW": "pw",
           "PW": "pw", "NO_PROXY": "*"}
    os.environ.pop("KUBERNETES_SERVICE_HOST", None)
    return env


Runner = Callable[[Path, Path], subprocess.CompletedProcess[str]]


def _node(args: tuple[str, ...], where: str) -> Runner:
    """A node command on a host root whose `where` file is the input (copied there: the input stays as is)."""

    def run(path: Path, tmp: Path) -> subprocess.CompletedProcess[str]:
        root = tmp / "host"
        shutil.rmtree(root, ignore_errors=True)
        target = root / where.lstrip("/")
        target.parent.mkdir(parents=True)
        _place(path, target)
        argv = [str(path) if a == "{}" else a for a in args]
        return run_regcred(*argv, "--host-root", root, env=isolated_env(tmp))

    return run


def _place(path: Path, target: Path) -> None:
    """The input at `target`: a copy of a file, a new FIFO for a FIFO, the same device for a device (a symlink
    would not do: under --host-root an absolute link target is taken inside the host root)."""
    mode = os.stat(path).st_mode
    if stat.S_ISREG(mode):
        shutil.copyfile(path, target)
    elif stat.S_ISFIFO(mode):
        os.mkfifo(target)
    else:
        try:
            os.mknod(target, mode, os.stat(path).st_rdev)
        except PermissionError:
            pytest.skip("cannot create a device node here")


def _copied(*args: str) -> Runner:
    """A command that writes its input when it succeeds: run on a copy (`{}`), the input stays as is."""

    def run(path: Path, tmp: Path) -> subprocess.CompletedProcess[str]:
        copy = tmp / "work" / "config.json"
        copy.parent.mkdir(exist_ok=True)
        copy.unlink(missing_ok=True)
        if path.is_file():
            shutil.copyfile(path, copy)
        else:
            os.symlink(path, copy)
        return run_regcred(*[str(copy) if a == "{}" else a for a in args], env=isolated_env(tmp))

    return run


def _cmd(*args: str) -> Runner:
    """A command with `{}` standing for the input path."""

    def run(path: Path, tmp: Path) -> subprocess.CompletedProcess[str]:
        argv = [str(path) if a == "{}" else a for a in args]
        return run_regcred(*argv, env=isolated_env(tmp))

    return run


def _with_spec(*args: str) -> Runner:
    """A command given a valid spec plus the input as a second -f file."""

    def run(path: Path, tmp: Path) -> subprocess.CompletedProcess[str]:
        spec = tmp / "spec.yaml"
        spec.write_text(SPEC)
        argv = [str(path) if a == "{}" else str(spec) if a == "SPEC" else a for a in args]
        return run_regcred(*argv, env=isolated_env(tmp))

    return run


# Commands reading a docker credential file (JSON).
CONFIG_READERS: dict[str, Runner] = {
    "auth list": _cmd("auth", "list", "--file", "{}"),
    "auth add": _copied("auth", "add", "r.example.com", "-u", "u", "--password-env", "PW", "--file", "{}"),
    "auth remove": _copied("auth", "remove", "r.example.com", "--file", "{}"),
    "match --file": _cmd("match", "--file", "{}", "r.example.com/app"),
    "secret create --from-file": _cmd("secret", "create", "s", "--from-file", "{}", "--dry-run=client"),
    "verify --file": _cmd("verify", "--file", "{}", "--timeout", "0.5"),
    "audit --node-config": _with_spec("audit", "-f", "SPEC", "--node-config", "{}"),
    "why --node-config": _with_spec("why", "-f", "SPEC", "--node-config", "{}"),
    "node install --from-file": _node(("node", "install", "--from-file", "{}", "--runtime", "none"),
                                      "/etc/hostname"),
    "node install": _node(("node", "install", "r.example.com", "-u", "u", "--password-env", "PW",
                           "--runtime", "none"), "/var/lib/kubelet/config.json"),
    "node doctor": _node(("node", "doctor"), "/var/lib/kubelet/config.json"),
    "node remove": _node(("node", "remove", "r.example.com"), "/var/lib/kubelet/config.json"),
}

# Commands reading YAML/JSON manifests or specs.
MANIFEST_READERS: dict[str, Runner] = {
    "spec validate": _cmd("spec", "validate", "-f", "{}"),
    "plan": _with_spec("plan", "-f", "SPEC", "-f", "{}"),
    "apply": _with_spec("apply", "-f", "SPEC", "-f", "{}"),
    "render": _with_spec("render", "-f", "SPEC", "-f", "{}", "--no-secrets"),
    "inject": _cmd("inject", "s", "-f", "{}"),
    "audit -f": _cmd("audit", "-f", "{}"),
    "why -f": _cmd("why", "-f", "{}"),
    "match --secret-file": _cmd("match", "--secret-file", "{}", "r.example.com/app"),
    "verify --secret-file": _cmd("verify", "--secret-file", "{}", "--timeout", "0.5"),
    "kubeconfig": _with_spec("plan", "-f", "SPEC", "--kubeconfig", "{}"),
    "node install (k3s registries.yaml)": _node(
        ("node", "install", "r.example.com", "-u", "u", "--password-env", "PW", "--runtime", "k3s"),
        "/etc/rancher/k3s/registries.yaml"),
}

ALL_READERS = {**CONFIG_READERS, **MANIFEST_READERS}


def assert_handled(result: subprocess.CompletedProcess[str], *, codes: tuple[int, ...] = (0, 1, 2)) -> None:
    """An ordinary outcome: an expected exit code, no traceback, no internal error, and every error a line of
    its own (spec validation lists each problem on its own `regcred: error:` line; nothing continues one)."""
    assert result.returncode in codes, (result.returncode, result.stderr[-2000:])
    assert "Traceback" not in result.stderr, result.stderr[-2000:]
    assert "internal error" not in result.stderr, result.stderr[-2000:]
    if result.returncode != 0:
        assert "regcred: error:" in result.stderr or result.returncode == 1, result.stderr[-2000:]
    for line in result.stderr.splitlines():
        assert not line.lstrip().startswith('in "'), result.stderr[-2000:]  # PyYAML's second line

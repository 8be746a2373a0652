"""`kubectl regcred …` works through kubectl's plugin mechanism (kubectl-regcred on PATH)."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.fixtures import require_binaries, require_component

KUBECTL = shutil.which("kubectl")
PLUGIN = Path(sys.executable).with_name("kubectl-regcred")


@pytest.mark.real
def test_kubectl_finds_and_runs_the_plugin(tmp_path: Path) -> None:
    require_binaries("kubectl")
    if not PLUGIN.exists():
        require_component(f"{PLUGIN} not installed: run ./dev test, which installs the package")
    env = {**os.environ, "PATH": f"{PLUGIN.parent}:{os.environ['PATH']}", "KUBECONFIG": str(tmp_path / "none")}
    listed = subprocess.run([KUBECTL, "plugin", "list"], capture_output=True, text=True, env=env, timeout=60)
    assert str(PLUGIN) in listed.stdout
    run = subprocess.run([KUBECTL, "regcred", "match", "nginx:1.25", "-o", "json"],
                         capture_output=True, text=True, env=env, timeout=60)
    assert run.returncode == 0, run.stderr
    assert '"repository": "docker.io/library/nginx"' in run.stdout
    bad = subprocess.run([KUBECTL, "regcred", "match", "Bad:Ref:x"], capture_output=True, text=True, env=env, timeout=60)
    assert bad.returncode == 2 and bad.stderr.startswith("kubectl regcred: error: invalid image reference")

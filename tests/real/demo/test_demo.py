"""`regcred demo` (the README's first command) runs end to end against the real registry and skopeo."""

import json
from pathlib import Path

from tests.support.cli import run_regcred
from tests.support.fixtures import require_binaries


def test_demo_runs_and_never_prints_the_password(tmp_path: Path) -> None:
    require_binaries("docker-registry", "skopeo", "htpasswd")
    result = run_regcred("demo", "--workdir", tmp_path, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "authorised, digest sha256:" in result.stdout
    assert "refused (as it must be)" in result.stdout
    config = json.loads((tmp_path / "var/lib/kubelet/config.json").read_text())
    (entry,) = config["auths"].values()
    assert entry["password"] not in result.stdout + result.stderr
    assert entry["auth"] not in result.stdout + result.stderr
    assert (tmp_path / "secret.json").stat().st_mode & 0o777 == 0o600

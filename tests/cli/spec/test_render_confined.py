"""`render --out` writes only below its directory: names are validated, symlinks under it are never followed.

Before the fix a Deployment named `../../../../escaped` was written beside `--out`, with exit 0.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from regcred.core.errors import InputError
from regcred.shells.files import write_confined
from tests.support.cli import assert_clean_error, run_regcred

SPEC = """\
apiVersion: regcred.dev/v1alpha1
kind: RegistryCredential
metadata: {name: h}
spec:
  registries: [{server: r.example.com, username: u, passwordFrom: {env: PW}}]
  namespaces: {include: [team-a]}
"""


def _deployment(name: str, namespace: str = "team-a") -> str:
    return (f"apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: {name!r}, namespace: {namespace!r}}}\n"
            "spec: {template: {spec: {containers: [{name: c, image: r.example.com/x}]}}}\n")


def _files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


@pytest.mark.parametrize(("name", "namespace"), [("../../../../escaped", "team-a"), ("a/b", "team-a"),
                                                 ("web", "../.."), ("web", "team-a/../..")])
def test_a_name_that_is_a_path_is_refused_and_nothing_is_written(tmp_path: Path, name: str, namespace: str) -> None:
    (tmp_path / "s.yaml").write_text(SPEC + "---\n" + _deployment(name, namespace))
    out = tmp_path / "deep" / "er" / "out"
    out.mkdir(parents=True)
    result = run_regcred("render", "-f", tmp_path / "s.yaml", "--out", out, "--no-secrets")
    assert_clean_error(result, 2, "invalid", "nothing was written")
    assert _files(tmp_path) == {"s.yaml", "deep", "deep/er", "deep/er/out"}


def test_a_symlink_at_an_output_file_is_refused_not_followed(tmp_path: Path) -> None:
    (tmp_path / "s.yaml").write_text(SPEC)
    out, victim = tmp_path / "out", tmp_path / "victim.txt"
    victim.write_text("keep me\n")
    (out / "team-a").mkdir(parents=True)
    (out / "team-a" / "secret-h.yaml").symlink_to(victim)
    result = run_regcred("render", "-f", tmp_path / "s.yaml", "--out", out, "--no-secrets")
    assert_clean_error(result, 2, "secret-h.yaml", "symlink")
    assert victim.read_text() == "keep me\n"
    assert _files(out) == {"team-a", "team-a/secret-h.yaml"}  # nothing else written either


def test_a_symlinked_namespace_directory_is_refused(tmp_path: Path) -> None:
    (tmp_path / "s.yaml").write_text(SPEC)
    out, elsewhere = tmp_path / "out", tmp_path / "elsewhere"
    out.mkdir()
    elsewhere.mkdir()
    (out / "team-a").symlink_to(elsewhere)
    result = run_regcred("render", "-f", tmp_path / "s.yaml", "--out", out, "--no-secrets")
    assert_clean_error(result, 2, "team-a", "symlink")
    assert list(elsewhere.iterdir()) == []


def test_an_out_directory_that_is_a_symlink_itself_is_the_users_choice(tmp_path: Path) -> None:
    (tmp_path / "s.yaml").write_text(SPEC)
    (tmp_path / "real").mkdir()
    (tmp_path / "out").symlink_to(tmp_path / "real")
    result = run_regcred("render", "-f", tmp_path / "s.yaml", "--out", tmp_path / "out", "--no-secrets")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "real" / "team-a" / "secret-h.yaml").is_file()


@pytest.mark.parametrize("relative", ["../x.yaml", "a/../../x.yaml", "/etc/x.yaml", "a//x.yaml", "./x.yaml", ""])
def test_write_confined_refuses_anything_but_plain_names(tmp_path: Path, relative: str) -> None:
    with pytest.raises(InputError):
        write_confined(tmp_path, relative, b"x", mode=0o644)
    assert _files(tmp_path) == set()


_KILLED_AT_RENAME = """\
import os, sys
def replace(*args, **kwargs):
    os._exit(137)  # killed between the temporary's fsync and its rename
os.replace = replace
from regcred.cli.main import main
sys.exit(main())
"""


def test_a_render_killed_before_its_rename_leaves_nothing_the_next_render_keeps(tmp_path: Path) -> None:
    """A killed `render --out` left `.secret-h.yaml.<pid>.<hex>.tmp` (the Secret manifest) that no later run removed."""
    import os
    import subprocess
    import sys
    import time

    from regcred.shells.staletemps import STALE_AFTER

    spec, out = tmp_path / "s.yaml", tmp_path / "out"
    spec.write_text(SPEC)
    killed = subprocess.run([sys.executable, "-c", _KILLED_AT_RENAME, "render", "-f", str(spec), "--out", str(out),
                             "--no-secrets"], capture_output=True, text=True, timeout=60)
    assert killed.returncode == 137, killed.stderr
    leftovers = sorted(out.rglob(".*.tmp"))
    assert [p.name.split(".")[1:3] for p in leftovers] == [["secret-h", "yaml"]]
    young = leftovers[0]
    assert run_regcred("render", "-f", spec, "--out", out, "--no-secrets").returncode == 0
    assert young.exists()  # a temporary a minute old may be a concurrent run's: spared
    then = time.time() - STALE_AFTER - 5
    os.utime(young, (then, then))
    assert run_regcred("render", "-f", spec, "--out", out, "--no-secrets").returncode == 0
    assert sorted(out.rglob(".*.tmp")) == []
    assert (out / "team-a" / "secret-h.yaml").stat().st_mode & 0o777 == 0o600

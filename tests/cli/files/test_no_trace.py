"""A failed command leaves no trace: no directory made on the way to a symlink's target, none left by a failure.

Before the fix, `auth add` through a dangling symlink created every directory on the way to the link's target
and then failed.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from regcred.core.errors import InputError
from regcred.shells import credfile
from regcred.shells.files import atomic_write, created_directory
from tests.support.cli import assert_clean_error, run_regcred


def _tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def test_auth_add_through_a_dangling_symlink_creates_nothing(tmp_path: Path) -> None:
    link = tmp_path / "config.json"
    link.symlink_to(tmp_path / "a" / "b" / "c" / "config.json")
    result = run_regcred("auth", "add", "r.example.com", "-u", "u", "--password-stdin", "--file", link,
                         input="pw\n")
    assert_clean_error(result, 2, "symlink", "directory does not exist")
    assert _tree(tmp_path) == {"config.json"}


def test_a_failed_change_leaves_no_directory(tmp_path: Path) -> None:
    def refuse(_config: object) -> None:
        raise InputError("refused")

    with pytest.raises(InputError):
        credfile.update(tmp_path / "x" / "y" / "config.json", refuse)  # type: ignore[arg-type]
    assert _tree(tmp_path) == set()


def test_created_directories_are_removed_when_the_block_fails(tmp_path: Path) -> None:
    (tmp_path / "kept").mkdir()
    with pytest.raises(RuntimeError), created_directory(tmp_path / "kept" / "new" / "deeper"):
        assert (tmp_path / "kept" / "new" / "deeper").is_dir()
        raise RuntimeError
    assert _tree(tmp_path) == {"kept"}


def test_a_failed_write_removes_the_directories_it_made(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    def full_disk(*_args: object, **_kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", full_disk)
    with pytest.raises(Exception, match="No space left"):
        atomic_write(tmp_path / "d1" / "d2" / "f.json", b"{}")
    assert _tree(tmp_path) == set()


def test_a_missing_directory_of_the_named_file_is_still_created(tmp_path: Path) -> None:
    path = tmp_path / "docker" / "config.json"
    result = run_regcred("auth", "add", "r.example.com", "-u", "u", "--password-stdin", "--file", path,
                         input="pw\n")
    assert result.returncode == 0, result.stderr
    assert path.is_file()

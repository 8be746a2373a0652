"""Files on disk: read with clear errors, write atomically (temp file, fsync, rename) with mode 0600.

A credential file is never left torn or emptied: the new content is fully written and synced to a
temporary file in the same directory before it replaces the old one, and the directory is synced
after the rename. Read-modify-write cycles hold an exclusive lock on the directory so that two regcred
processes never drop each other's entries. A symlink is followed and its target replaced in the
target's own directory (like `sed -i --follow-symlinks`), so the link itself survives.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from regcred.core.errors import InputError, OperationFailed
from regcred.shells.input import read_file

CREDENTIAL_MODE = 0o600


def read_bytes(path: Path, *, what: str = "file") -> bytes:
    """Read a whole regular file within the input cap; anything else is one clear line (shells/input)."""
    return read_file(path, what=what)


def read_optional(path: Path, *, what: str = "file") -> bytes | None:
    """Like read_bytes, but a missing file is None (a directory or a dangling symlink is still an error)."""
    if not path.exists() and not path.is_symlink():
        return None
    return read_file(path, what=what)


def follow_symlink(path: Path) -> Path:
    """The file a write to `path` must replace: the final target when `path` is a symlink, else `path`."""
    return Path(os.path.realpath(path)) if path.is_symlink() else path


def atomic_write(path: Path, data: bytes, *, mode: int = CREDENTIAL_MODE, backup: bool = False) -> Path | None:
    """Replace `path` (or the file it links to) with `data` atomically; returns the backup path when one was kept.

    The backup (`NAME.bak`, same mode) is itself written atomically, so it is never torn either.
    """
    path = follow_symlink(path)
    parent = path.parent
    if path.is_dir():
        raise InputError(f"{path}: is a directory, expected a file")
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OperationFailed(f"{parent}: cannot create the directory: {exc.strerror or exc}") from None
    backup_path: Path | None = None
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=parent)
    except OSError as exc:
        raise OperationFailed(f"{path}: cannot write: {exc.strerror}") from None
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), mode)
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if backup and path.exists():
            backup_path = path.with_name(path.name + ".bak")
            if backup_path.is_dir():
                raise IsADirectoryError(errno.EISDIR, f"{backup_path.name} is a directory")
            _write_backup(path, backup_path, mode)
        os.replace(tmp, path)
        _fsync_dir(parent)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise OperationFailed(f"{path}: cannot write: {exc.strerror}", hint="the existing file is untouched") from None
    return backup_path


def _write_backup(source: Path, backup_path: Path, mode: int) -> None:
    fd, name = tempfile.mkstemp(prefix=f".{backup_path.name}.", suffix=".tmp", dir=backup_path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), mode)
            handle.write(source.read_bytes())
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(name, backup_path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(name)
        raise


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError as exc:  # some filesystems refuse fsync on a directory
        if exc.errno not in (errno.EINVAL, errno.EBADF):
            raise
    finally:
        os.close(fd)


@contextlib.contextmanager
def locked_directory(directory: Path) -> Iterator[None]:
    """Hold an exclusive flock on a directory for a read-modify-write of a file inside it."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    except OSError as exc:
        raise OperationFailed(f"{directory}: cannot use the directory: {exc.strerror or exc}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)

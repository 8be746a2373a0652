"""Files on disk: read with clear errors, write atomically (temp file, fsync, rename) with mode 0600.

A credential file is never left torn or emptied: the new content is fully written and synced to a
temporary file in the same directory before it replaces the old one, and the directory is synced
after the rename. Read-modify-write cycles hold an exclusive lock on the directory so that two regcred
processes never drop each other's entries. A symlink is followed and its target replaced in the
target's own directory (like `sed -i --follow-symlinks`), so the link itself survives; a dangling link whose
target directory is missing is refused rather than creating directories on the way to it.

A failed command leaves no trace: directories created for a write are removed again when the write (or the
work done under the lock) fails. Files under an output directory are written by `write_confined`, which
walks plain names below it by directory descriptor and never follows a symlink out of it.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import stat
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from regcred.core.errors import InputError, OperationFailed
from regcred.shells.input import read_file
from regcred.shells.staletemps import remove_stale_temporaries_at, temporary_name

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

    The backup (`NAME.bak`, same mode) is itself written atomically, so it is never torn either. Missing
    parent directories of `path` are created (and removed again if the write fails); those of a symlink's
    target are not: the link points somewhere nobody prepared, so the write is refused.
    """
    target = write_target(path)
    if target.is_dir():
        raise InputError(f"{target}: is a directory, expected a file")
    with created_directory(target.parent):
        return _atomic_replace(target, data, mode=mode, backup=backup)


def write_target(path: Path) -> Path:
    """The file a write to `path` replaces; a symlink whose target directory is missing is refused.

    Why: creating directories on the way to where a dangling link points writes where nobody asked.
    """
    target = follow_symlink(path)
    if target != path and not target.parent.is_dir():
        raise InputError(f"{path}: is a symlink to {target}, whose directory does not exist",
                         hint="create it, or point the link elsewhere")
    return target


def _atomic_replace(path: Path, data: bytes, *, mode: int, backup: bool) -> Path | None:
    parent = path.parent
    backup_path: Path | None = None
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=parent)
    except OSError as exc:
        raise OperationFailed(f"{path}: cannot write: {exc.strerror}") from None
    tmp = Path(tmp_name)
    try:
        _write_synced(fd, data, mode)
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
def created_directory(directory: Path) -> Iterator[None]:
    """Make sure `directory` exists for the block; the directories created here are removed if the block fails.

    Why: a command that fails must leave no trace, and a directory made on the way to a failed write is one.
    """
    missing: list[Path] = []
    probe = directory
    while not probe.exists() and not probe.is_symlink() and probe != probe.parent:
        missing.append(probe)
        probe = probe.parent
    made: list[Path] = []
    try:
        for new in reversed(missing):
            try:
                new.mkdir()
            except FileExistsError:  # another process made it: not ours to remove
                continue
            made.append(new)
    except OSError as exc:
        _remove_dirs(made)
        raise OperationFailed(f"{directory}: cannot create the directory: {exc.strerror or exc}") from None
    try:
        yield
    except BaseException:
        _remove_dirs(made)
        raise


def _remove_dirs(made: list[Path]) -> None:
    for directory in reversed(made):
        with contextlib.suppress(OSError):  # not empty: someone else uses it now
            directory.rmdir()


@contextlib.contextmanager
def locked_directory(directory: Path) -> Iterator[None]:
    """Hold an exclusive flock on a directory for a read-modify-write of a file inside it.

    A directory created for the lock is removed again when the block fails.
    """
    with created_directory(directory):
        try:
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


def rewrite_locked(path: Path, edit: Callable[[bytes], bytes], *, what: str = "file") -> bool:
    """Read, edit and replace a file the user named, under its directory's lock; keeps its mode.

    The file is read again under the lock, so concurrent rewrites of one file (several `inject -i`) each
    see the others' result and none is lost. Returns whether the file changed.
    """
    target = follow_symlink(path)
    with locked_directory(target.parent):
        data = read_bytes(target, what=what)
        new = edit(data)
        if new == data:
            return False
        try:
            mode = stat.S_IMODE(os.stat(target).st_mode)
        except OSError as exc:
            raise OperationFailed(f"{path}: cannot stat: {exc.strerror}") from None
        _atomic_replace(target, new, mode=mode, backup=False)
        return True


def write_confined(root: Path, relative: str, data: bytes, *, mode: int, check_only: bool = False) -> None:
    """Write `root/relative` atomically without ever leaving `root`.

    Why: names inside an output directory come from manifests; a `../` in one, or a symlink planted at an output
    path, must not turn into a write elsewhere. Each component must be a plain name; directories are walked by
    descriptor with O_NOFOLLOW (missing ones made), and a symlink at any place under `root` is refused (exit 2),
    never followed. With `check_only` nothing is created or written: the walk only looks (a pre-flight for
    writing many files all or nothing). `root` itself is the user's choice and may be a symlink.
    """
    parts = relative.split("/")
    if any(part in ("", ".", "..") or "\0" in part for part in parts):
        raise InputError(f"{root}/{relative}: not a plain relative path below the output directory")
    try:
        fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    except OSError as exc:
        if check_only and exc.errno == errno.ENOENT:
            return
        raise InputError(f"{root}: cannot use the output directory: {exc.strerror}") from None
    try:
        for index, part in enumerate(parts[:-1]):
            where = root.joinpath(*parts[: index + 1])
            if not check_only:
                with contextlib.suppress(FileExistsError):
                    os.mkdir(part, 0o755, dir_fd=fd)
            try:
                inner = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
            except FileNotFoundError:
                if check_only:
                    return
                raise
            except OSError as exc:
                if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                    raise InputError(f"{where}: is a symlink or not a directory; regcred does not write through it",
                                     hint="remove it, or choose another --out") from None
                raise
            os.close(fd)
            fd = inner
        _check_not_link(fd, root / relative)
        if not check_only:
            _replace_at(fd, parts[-1], data, mode)
    except OSError as exc:
        raise OperationFailed(f"{root / relative}: cannot write: {exc.strerror or exc}") from None
    finally:
        os.close(fd)


def _check_not_link(dir_fd: int, path: Path) -> None:
    try:
        info = os.stat(path.name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return
    if stat.S_ISLNK(info.st_mode) or not stat.S_ISREG(info.st_mode):
        raise InputError(f"{path}: is a symlink or not a regular file; regcred does not write through it",
                         hint="remove it, or choose another --out")


def _write_synced(fd: int, data: bytes, mode: int) -> None:
    """Fill a fresh temporary file (its descriptor, closed here) with `mode` set first, flushed and fsynced, so the
    rename that follows publishes either nothing or the whole file."""
    with os.fdopen(fd, "wb") as handle:
        os.fchmod(handle.fileno(), mode)
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def _replace_at(dir_fd: int, name: str, data: bytes, mode: int) -> None:
    """Temp file, fsync, rename over `name` inside the directory `dir_fd` (a rename replaces a link, never follows)."""
    remove_stale_temporaries_at(dir_fd, name)  # what a killed earlier run left (a Secret manifest, maybe)
    tmp = temporary_name(name)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode, dir_fd=dir_fd)
    try:
        _write_synced(fd, data, mode)
        os.replace(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp, dir_fd=dir_fd)
        raise
    with contextlib.suppress(OSError):
        os.fsync(dir_fd)

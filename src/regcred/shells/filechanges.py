"""Several files changed as one: each written atomically, and on a failure the ones already written restored.

A node install touches up to four files (the runtime's config, the kubelet's environment, config.json,
its ownership record). Each write is atomic on its own; this keeps the whole set as close to
all-or-nothing as a filesystem allows: the previous bytes and mode of every file (and of its `.regcred-bak`)
are kept in memory before it is replaced, and put back in reverse order when a later write fails.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from regcred.core.errors import OperationFailed, RegcredError
from regcred.shells.files import CREDENTIAL_MODE, atomic_write, follow_symlink
from regcred.shells.input import read_file
from regcred.shells.staletemps import remove_stale_temporaries

BACKUP_SUFFIX = ".regcred-bak"  # regcred's own backup, only with --keep-backup; `NAME.bak` stays the user's


@dataclass(slots=True)
class _Saved:
    path: Path
    shown: str
    content: bytes | None  # None: the file did not exist
    mode: int


@dataclass(slots=True)
class FileChanges:
    """Record-then-write; `rollback()` restores what was written so far. `shown` names files in messages."""

    written: list[str] = field(default_factory=list)
    _saved: list[_Saved] = field(default_factory=list)

    def _remember(self, path: Path, shown: str) -> None:
        try:
            st = path.stat()
            content: bytes | None = read_file(path, shown=shown)  # bounded; a FIFO is refused, never blocks
            mode = st.st_mode & 0o7777
        except FileNotFoundError:
            content, mode = None, 0o600
        except OSError as exc:
            raise OperationFailed(f"{shown}: cannot read before writing: {exc.strerror}") from None
        self._saved.append(_Saved(path, shown, content, mode))

    def write(self, path: Path, data: bytes, *, shown: str, mode: int, backup: bool = False) -> Path | None:
        """Replace `path` atomically; returns regcred's backup (`NAME.regcred-bak`) when `backup` kept one.

        Without `backup`, an earlier regcred backup of the file goes once the file is written: old and
        removed credentials must not outlive the write that replaced them. `NAME.bak` is never touched:
        it is the user's. Temporaries a killed run left beside the file are removed first (staletemps).
        """
        target = follow_symlink(path)
        kept = target.with_name(target.name + BACKUP_SUFFIX)
        remove_stale_temporaries(target, kept, target.with_name(target.name + ".bak"))
        self._remember(target, shown)
        saved = None
        if backup and target.is_file():
            self._remember(kept, shown + BACKUP_SUFFIX)
            atomic_write(kept, target.read_bytes(), mode=CREDENTIAL_MODE)
            saved = kept
        atomic_write(target, data, mode=mode)
        self.written.append(shown)
        if not backup and kept.is_file() and not kept.is_symlink():
            self.remove(kept, shown=shown + BACKUP_SUFFIX)
        return saved

    def remove(self, path: Path, *, shown: str) -> bool:
        if not path.exists():
            return False
        self._remember(path, shown)
        try:
            path.unlink()
        except OSError as exc:
            raise OperationFailed(f"{shown}: cannot remove: {exc.strerror}") from None
        self.written.append(shown)
        return True

    def rollback(self) -> list[str]:
        """Put every remembered file back, newest first; returns the files that could not be restored."""
        failed: list[str] = []
        for saved in reversed(self._saved):
            try:
                if saved.content is None:
                    if saved.path.exists() or saved.path.is_symlink():
                        os.unlink(saved.path)
                elif not _unchanged(saved):
                    atomic_write(saved.path, saved.content, mode=saved.mode)
            except (OSError, RegcredError):
                failed.append(saved.shown)
        self._saved.clear()
        return failed


def _unchanged(saved: _Saved) -> bool:
    try:
        return saved.path.read_bytes() == saved.content and saved.path.stat().st_mode & 0o7777 == saved.mode
    except OSError:
        return False


def failed_line(exc: RegcredError, changes: FileChanges, restore_failed: list[str]) -> OperationFailed:
    """One line saying what failed, and what was and was not changed on the node."""
    if not changes.written:
        state = "nothing was changed"
    elif not restore_failed:
        state = f"nothing was changed ({', '.join(dict.fromkeys(changes.written))} written, then restored)"
    else:
        state = (f"PARTLY CHANGED: {', '.join(restore_failed)} could not be restored"
                 f" (check it; its previous content is in its .regcred-bak when --keep-backup was given)")
    return OperationFailed(f"{exc.message}; {state}")

"""Temporary files a killed run left beside a credential file: found by regcred's own naming, removed when old.

Every regcred writer (files.atomic_write, and write_confined under `render --out`) writes the new content to
`.NAME.XXXXXXXX.tmp` (`temporary_name`; mode as the target's, 0600 for credentials) and renames it over NAME; a
`kill -9` between the two leaves it behind. The next write of NAME removes such files. The node writers do it
under the directory lock every regcred writer of NAME holds, so no regcred run is still writing one; the age
(STALE_AFTER) spares a file of that pattern a concurrent run or another tool may be writing right now. Only
regular files of exactly that pattern, owned by this user, are touched.
"""

from __future__ import annotations

import os
import re
import secrets
import stat
import time
from collections.abc import Callable
from pathlib import Path

StrPath = str | Path

STALE_AFTER = 60.0  # seconds; a live write holds its temporary for milliseconds
_RANDOM = "[a-z0-9_]{8}"  # tempfile.mkstemp's random part
_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789_"


def temporary_name(name: str) -> str:
    """`.NAME.XXXXXXXX.tmp`, the same shape tempfile.mkstemp gives, so one pattern finds every writer's leftovers."""
    return f".{name}.{''.join(secrets.choice(_ALPHABET) for _ in range(8))}.tmp"


def _pattern(names: list[str]) -> re.Pattern[str]:
    return re.compile(rf"\A\.(?:{'|'.join(map(re.escape, names))})\.{_RANDOM}\.tmp\Z")


def _is_stale(info: os.stat_result, cutoff: float) -> bool:
    return stat.S_ISREG(info.st_mode) and info.st_uid == os.geteuid() and info.st_mtime < cutoff


def _stale_entries(entries: list[str], names: list[str], at: Callable[[str], StrPath], cutoff: float,
                   dir_fd: int | None = None) -> list[str]:
    pattern = _pattern(names)
    found = []
    for entry in sorted(entries):
        if not pattern.match(entry):
            continue
        try:
            info = os.stat(at(entry), dir_fd=dir_fd, follow_symlinks=False)
        except OSError:
            continue
        if _is_stale(info, cutoff):
            found.append(entry)
    return found


def stale_temporaries(*paths: Path, now: float | None = None) -> list[Path]:
    """regcred's temporaries of `paths` (each `.NAME.XXXXXXXX.tmp` in NAME's directory) older than STALE_AFTER."""
    cutoff = (time.time() if now is None else now) - STALE_AFTER
    found: list[Path] = []
    for directory in dict.fromkeys(p.parent for p in paths):
        names = [p.name for p in paths if p.parent == directory]
        try:
            entries = os.listdir(directory)
        except OSError:
            continue
        found += [directory / e for e in _stale_entries(entries, names, directory.joinpath, cutoff)]
    return found


def remove_stale_temporaries(*paths: Path) -> list[Path]:
    """Remove what `stale_temporaries` finds (call under the directory lock); returns what was removed."""
    removed = []
    for path in stale_temporaries(*paths):
        try:
            path.unlink()
        except OSError:
            continue  # gone meanwhile, or not ours to remove after all: the write itself is what matters
        removed.append(path)
    return removed


def remove_stale_temporaries_at(dir_fd: int, name: str) -> None:
    """The same cleanup inside a directory held by descriptor (write_confined walks by descriptor, never by path)."""
    cutoff = time.time() - STALE_AFTER
    try:
        entries = os.listdir(dir_fd)
    except OSError:
        return
    for entry in _stale_entries(entries, [name], str, cutoff, dir_fd=dir_fd):
        try:
            os.unlink(entry, dir_fd=dir_fd)
        except OSError:
            continue

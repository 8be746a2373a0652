"""Temporary files a killed run left beside a credential file: found by regcred's own naming, removed when old.

files.atomic_write writes the new content to `.NAME.XXXXXXXX.tmp` (mode 0600: every credential of the
file) and renames it over NAME; a `kill -9` between the two leaves it behind. The next write of NAME
removes such files. It runs under the directory lock every regcred writer of NAME holds, so no regcred
run is still writing one; the age (STALE_AFTER) also spares a file of that pattern another tool may be
writing right now. Only regular files of exactly that pattern, owned by this user, are touched.
"""

from __future__ import annotations

import os
import re
import stat
import time
from pathlib import Path

STALE_AFTER = 60.0  # seconds; a live write holds its temporary for milliseconds
_RANDOM = "[a-z0-9_]{8}"  # tempfile.mkstemp's random part


def stale_temporaries(*paths: Path, now: float | None = None) -> list[Path]:
    """regcred's temporaries of `paths` (each `.NAME.XXXXXXXX.tmp` in NAME's directory) older than STALE_AFTER."""
    cutoff = (time.time() if now is None else now) - STALE_AFTER
    found: list[Path] = []
    for directory in dict.fromkeys(p.parent for p in paths):
        names = [p.name for p in paths if p.parent == directory]
        pattern = re.compile(rf"\A\.(?:{'|'.join(map(re.escape, names))})\.{_RANDOM}\.tmp\Z")
        try:
            entries = os.listdir(directory)
        except OSError:
            continue
        for name in sorted(entries):
            if not pattern.match(name):
                continue
            try:
                st = os.lstat(directory / name)
            except OSError:
                continue
            if stat.S_ISREG(st.st_mode) and st.st_uid == os.geteuid() and st.st_mtime < cutoff:
                found.append(directory / name)
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

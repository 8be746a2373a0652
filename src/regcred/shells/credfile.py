"""Docker credential files on disk: load with the kubelet's rules, update under a lock, write atomically."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from regcred.core.credentials.dockerconfig import DockerConfig, Layout, dumps_file, parse
from regcred.shells.files import atomic_write, follow_symlink, locked_directory, read_bytes, read_optional


def layout_for(path: Path) -> Layout:
    """Legacy layout for files named `.dockercfg`, config.json layout for everything else."""
    return Layout.DOCKERCFG if path.name == ".dockercfg" else Layout.CONFIG_JSON


def load(path: Path) -> DockerConfig:
    """Load an existing credential file; missing, unreadable or invalid files are errors naming the file."""
    return parse(read_bytes(path, what="credential file"), str(path), layout_for(path))


def load_optional(path: Path) -> DockerConfig | None:
    data = read_optional(path, what="credential file")
    return None if data is None else parse(data, str(path), layout_for(path))


def empty(path: Path) -> DockerConfig:
    return DockerConfig(layout_for(path), (), {} if layout_for(path) is Layout.DOCKERCFG else {"auths": {}})


@dataclass(frozen=True, slots=True)
class Update:
    """What an update did: the document before, the raw document after, and whether it was written."""

    before: DockerConfig | None
    after: dict[str, Any] | None
    written: bool
    backup: Path | None = None


def update(
    path: Path,
    change: Callable[[DockerConfig], dict[str, Any] | None],
    *,
    backup: bool = False,
    dry_run: bool = False,
) -> Update:
    """Read-modify-write under a directory lock; `change` returns the new raw document or None for no change.

    The file is parsed before anything is written, so an unparseable file is refused and left untouched.
    A symlinked file is updated in its target's directory (the lock is taken there too); the link stays.
    """
    with locked_directory(follow_symlink(path).parent) if not dry_run else contextlib.nullcontext():
        before = load_optional(path)
        new = change(before if before is not None else empty(path))
        if new is None or dry_run:
            return Update(before, new, False)
        saved = atomic_write(path, dumps_file(new).encode(), backup=backup)
        return Update(before, new, True, saved)

"""Docker credential files on disk: load with the kubelet's rules, update under a lock, write atomically.

An update changes one entry and nothing else: other entries keep their bytes (even a key that is not
valid UTF-8, which the kubelet reads as U+FFFD), and the file keeps its owner's permission bits (a 0400
file stays 0400) while group and other bits go, since the file holds passwords.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from regcred.core.credentials.dockerconfig import DockerConfig, Layout, dumps_file, parse
from regcred.shells.files import atomic_write, locked_directory, read_bytes, read_optional, write_target
from regcred.shells.staletemps import remove_stale_temporaries


def layout_for(path: Path) -> Layout:
    """Legacy layout for files named `.dockercfg`, config.json layout for everything else."""
    return Layout.DOCKERCFG if path.name == ".dockercfg" else Layout.CONFIG_JSON


def load(path: Path) -> DockerConfig:
    """Load an existing credential file; missing, unreadable or invalid files are errors naming the file."""
    return parse(read_bytes(path, what="credential file"), str(path), layout_for(path))


def load_optional(path: Path) -> DockerConfig | None:
    """For a read-modify-write: None when missing; the raw document keeps the file's bytes (`_faithful`)."""
    data = read_optional(path, what="credential file")
    return None if data is None else _faithful(data, path)


def credential_mode(path: Path) -> int:
    """The mode a rewritten credential file gets: its own owner bits, never more than 0600; 0600 when new."""
    try:
        return (path.stat().st_mode & 0o600) or 0o600
    except OSError:
        return 0o600


def _faithful(data: bytes, path: Path) -> DockerConfig:
    """Parsed as the kubelet reads it (invalid UTF-8 as U+FFFD), with a raw document that keeps the file's own
    bytes (surrogateescape), so a rewrite leaves every other entry as it was."""
    config = parse(data, str(path), layout_for(path))
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        raw = parse(data.decode("utf-8", "surrogateescape"), str(path), layout_for(path)).raw
        return dataclasses.replace(config, raw=raw)
    return config


def encode_file(raw: dict[str, Any]) -> bytes:
    """The bytes of a credential file; what `_faithful` kept of invalid UTF-8 goes back as it was."""
    return dumps_file(raw).encode("utf-8", "surrogateescape")


def empty(path: Path) -> DockerConfig:
    return DockerConfig(layout_for(path), (), {} if layout_for(path) is Layout.DOCKERCFG else {"auths": {}})


@dataclass(frozen=True, slots=True)
class Update:
    """What an update did: the document before, the raw document after, and whether it was written."""

    before: DockerConfig | None
    after: dict[str, Any] | None
    written: bool


def update(
    path: Path,
    change: Callable[[DockerConfig], dict[str, Any] | None],
    *,
    dry_run: bool = False,
) -> Update:
    """Read-modify-write under a directory lock; `change` returns the new raw document or None for no change.

    The file is parsed before anything is written, so an unparseable file is refused and left untouched.
    A symlinked file is updated in its target's directory (the lock is taken there too); the link stays.
    When the file's directory does not exist yet, the change is computed (validated) before it is created,
    and a failure after that removes it again: a failed command leaves no directory behind.
    """
    target = write_target(path)
    if dry_run:
        before = load_optional(path)
        return Update(before, change(before if before is not None else empty(path)), False)
    planned = change(empty(path)) if not target.parent.is_dir() else None
    with locked_directory(target.parent):
        before = load_optional(path)
        new = planned if before is None and planned is not None else change(
            before if before is not None else empty(path))
        if new is None:
            return Update(before, new, False)
        remove_stale_temporaries(target)
        atomic_write(path, encode_file(new), mode=credential_mode(target))
        return Update(before, new, True)

"""Add a pull secret to the pod specs of manifest files, offline (`inject`).

Every input is read and edited in memory first; if any of them fails to parse nothing is written. Files
edited in place are replaced atomically and keep their mode.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from regcred.core.cluster.podspec import EditRequest
from regcred.core.errors import InputError, OperationFailed
from regcred.shells.yamledit import StreamResult


@dataclass(slots=True)
class ManifestText:
    """One input: its name for messages, its path (None: stdin), and its text."""

    name: str
    path: Path | None
    text: str


@dataclass(slots=True)
class EditedManifest:
    source: ManifestText
    result: StreamResult

    @property
    def changed(self) -> bool:
        return self.result.text != self.source.text


def edit_manifests(filenames: Sequence[str], request: EditRequest, *, in_place: bool = False,
                   engine: str = "auto") -> list[EditedManifest]:
    """Read every file (directories: their *.yaml/*.yml/*.json; '-': stdin) and edit each in memory."""
    from regcred.shells.manifests import expand_manifest_paths
    from regcred.shells.yamledit import edit_stream

    names = expand_manifest_paths(tuple(filenames) or ("-",))
    if in_place and "-" in names:
        raise InputError("--in-place cannot rewrite standard input", hint="give files or directories with -f")
    inputs = [_read(name) for name in names]
    return [EditedManifest(item, edit_stream(item.text, item.name, request, engine=engine)) for item in inputs]


def write_edited(edited: Sequence[EditedManifest], on_written: Callable[[EditedManifest], None]) -> int:
    """Replace each changed file (atomically, keeping its mode); `on_written` after each. The count written."""
    written = 0
    for item in edited:
        if item.changed:
            assert item.source.path is not None  # stdin is refused with in_place
            _write_keeping_mode(item.source.path, item.result.text)
            written += 1
            on_written(item)
    return written


def _read(name: str) -> ManifestText:
    if name == "-":  # bytes, decoded here: a non-UTF-8 stream is an input error, not a crash on output
        from regcred.shells.input import read_stdin

        return ManifestText("<stdin>", None, _decode(read_stdin(what="manifest stream"), "<stdin>"))
    from regcred.shells.files import read_bytes

    path = Path(name)
    return ManifestText(str(path), path, _decode(read_bytes(path, what="manifest file"), str(path)))


def _decode(data: bytes, name: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{name}: not UTF-8 text (byte {exc.start})", hint="nothing was written") from None


def _write_keeping_mode(path: Path, text: str) -> None:
    from regcred.shells.files import atomic_write

    target = path.resolve()
    try:
        mode = stat.S_IMODE(os.stat(target).st_mode)
    except OSError as exc:
        raise OperationFailed(f"{path}: cannot stat: {exc.strerror}") from None
    atomic_write(target, text.encode("utf-8"), mode=mode)

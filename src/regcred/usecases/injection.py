"""Add a pull secret to the pod specs of manifest files, offline (`inject`).

Every input is read and edited in memory first; if any of them fails to parse, or an edit cannot be made
safely (the editor checks its output as data), nothing is written. With --in-place each changed file is read
again and edited under its directory's lock, then replaced atomically keeping its mode, so concurrent runs on
one file never lose each other's entries.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from regcred.core.cluster.podspec import EditRequest
from regcred.core.errors import InputError
from regcred.core.manifests.edits import StreamResult


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
    from regcred.core.manifests.streamedit import edit_stream
    from regcred.shells.manifests import expand_manifest_paths

    names = expand_manifest_paths(tuple(filenames) or ("-",))
    if in_place and "-" in names:
        raise InputError("--in-place cannot rewrite standard input", hint="give files or directories with -f")
    inputs = [_read(name) for name in names]
    return [EditedManifest(item, edit_stream(item.text, item.name, request, engine=engine)) for item in inputs]


def write_edited(edited: Sequence[EditedManifest], request: EditRequest, on_written: Callable[[EditedManifest], None],
                 *, engine: str = "auto") -> int:
    """Re-edit each changed file as it is now, under its directory's lock, and replace it atomically (keeping its
    mode); `on_written` after each with the edit actually written. The count written."""
    written = 0
    for item in edited:
        if item.changed:
            done = EditedManifest(item.source, _rewrite(item.source, request, engine))
            written += 1
            on_written(done)
    return written


def _rewrite(source: ManifestText, request: EditRequest, engine: str) -> StreamResult:
    """Edit the file again as it is now, under its directory's lock (another run may have changed it)."""
    from regcred.core.manifests.streamedit import edit_stream
    from regcred.shells.files import rewrite_locked

    assert source.path is not None  # stdin is refused with in_place
    results: list[StreamResult] = []

    def edit(data: bytes) -> bytes:
        results.append(edit_stream(_decode(data, source.name), source.name, request, engine=engine))
        return results[-1].text.encode("utf-8")

    rewrite_locked(source.path, edit, what="manifest file")
    return results[-1]


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

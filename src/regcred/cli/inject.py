"""`regcred inject SECRET`: add a pull secret to the pod specs of manifest files, offline.

Every input is read and edited in memory first; if any of them fails to parse, or an edit cannot be made
safely (the editor checks its output as data), nothing is written. With --in-place each changed file is
read again and edited under its directory's lock, then replaced atomically keeping its mode, so concurrent
runs on one file never lose each other's entries; otherwise the edited stream goes to stdout (JSON input
stays JSON). Reports and warnings go to stderr.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import click

from regcred.core.cluster.podspec import EditRequest, RegistryScope
from regcred.core.errors import InputError, OperationFailed
from regcred.core.names import validate_subdomain

if TYPE_CHECKING:
    from regcred.core.manifests.edits import StreamResult


@dataclass(slots=True)
class _Input:
    name: str
    path: Path | None  # None for stdin
    text: str


def _read(name: str) -> _Input:
    if name == "-":  # bytes, decoded here: a non-UTF-8 stream is an input error, not a crash on output
        return _Input("<stdin>", None, _decode(sys.stdin.buffer.read(), "<stdin>"))
    from regcred.shells.files import read_bytes

    path = Path(name)
    return _Input(str(path), path, _decode(read_bytes(path, what="manifest file"), str(path)))


def _decode(data: bytes, name: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{name}: not UTF-8 text (byte {exc.start})", hint="nothing was written") from None


@click.command("inject")
@click.argument("secret")
@click.option("-f", "--filename", "filenames", multiple=True, metavar="FILE|DIR|-",
              help="Manifest file, directory (every *.yaml/*.yml/*.json under it) or - for stdin. Repeatable.")
@click.option("--registry", "registries", multiple=True, metavar="PATTERN",
              help="Only pod specs pulling an image this registry key covers (kubelet matching). Repeatable.")
@click.option("-i", "--in-place", is_flag=True, help="Rewrite the files instead of printing the stream.")
@click.option("--service-account", "service_account", metavar="NAME",
              help="Also point the pod specs at this ServiceAccount (serviceAccountName).")
@click.option("--force", is_flag=True, help="Change serviceAccountName even when it names another ServiceAccount.")
@click.option("--engine", type=click.Choice(["auto", "ruamel"]), default="auto", hidden=True)
def inject(
    secret: str,
    filenames: tuple[str, ...],
    registries: tuple[str, ...],
    in_place: bool,
    service_account: str | None,
    force: bool,
    engine: str,
) -> None:
    """Add imagePullSecrets SECRET to every pod spec in manifests, keeping comments and layout.

    Kinds: Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob, ReplicationController,
    PodTemplate and List items. Other kinds pass through byte for byte. Exit 1 when a pod spec was
    skipped because it names another ServiceAccount (without --force).
    """
    from regcred.core.manifests.streamedit import edit_stream
    from regcred.shells.manifests import expand_manifest_paths

    validate_subdomain(secret, "Secret")
    if service_account is not None:
        validate_subdomain(service_account, "--service-account")
    request = EditRequest(secret, RegistryScope(registries), service_account, force)
    names = expand_manifest_paths(filenames or ("-",))
    if in_place and "-" in names:
        raise InputError("--in-place cannot rewrite standard input", hint="give files or directories with -f")
    inputs = [_read(name) for name in names]
    results = [(item, edit_stream(item.text, item.name, request, engine=engine)) for item in inputs]

    changed_specs = sum(len(r.changed) for _, r in results)
    for item, result in results:
        for outcome in result.skipped:
            click.echo(f"regcred: skipped {outcome.label} in {item.name}: {outcome.plan.skipped}", err=True)
    if in_place:
        written = [_rewrite(item, request, engine) for item, result in results if result.text != item.text]
        for item, result in written:
            click.echo(f"updated {item.name} ({len(result.changed)} pod specs)", err=True)
        click.echo(
            f"regcred: {changed_specs} pod specs updated in {len(written)} of {len(inputs)} files", err=True
        )
    else:
        chunks: list[str] = []
        for _, result in results:
            text = result.text
            if chunks and not chunks[-1].endswith("\n"):
                chunks.append("\n")
            if chunks and not text.lstrip().startswith("---"):
                chunks.append("---\r\n" if "\r\n" in text[: text.find("\n") + 1] else "---\n")  # CRLF stays CRLF
            chunks.append(text)
        sys.stdout.write("".join(chunks))
        sys.stdout.flush()
    skipped = sum(len(r.skipped) for _, r in results)
    if skipped:
        raise OperationFailed(
            f"{skipped} pod specs skipped: they name another ServiceAccount",
            hint="review them, then rerun with --force to change it",
        )


def _rewrite(item: _Input, request: EditRequest, engine: str) -> tuple[_Input, StreamResult]:
    """Edit the file again as it is now, under its directory's lock (another run may have changed it)."""
    from regcred.core.manifests.streamedit import edit_stream
    from regcred.shells.files import rewrite_locked

    assert item.path is not None
    results: list[StreamResult] = []

    def edit(data: bytes) -> bytes:
        results.append(edit_stream(_decode(data, item.name), item.name, request, engine=engine))
        return results[-1].text.encode("utf-8")

    rewrite_locked(item.path, edit, what="manifest file")
    return item, results[-1]

"""`regcred inject SECRET`: add a pull secret to the pod specs of manifest files, offline.

The work is `regcred.usecases.injection`: every input is read and edited in memory first (the editor checks its
output as data), and with --in-place each changed file is edited again under its directory's lock and replaced
atomically. Otherwise the edited stream goes to stdout (JSON input stays JSON).
Reports and warnings go to stderr.
"""

from __future__ import annotations

import sys

import click

from regcred.core.cluster.podspec import EditRequest, RegistryScope
from regcred.core.errors import OperationFailed
from regcred.core.names import validate_subdomain


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
    from regcred.usecases.injection import edit_manifests, write_edited

    validate_subdomain(secret, "Secret")
    if service_account is not None:
        validate_subdomain(service_account, "--service-account")
    request = EditRequest(secret, RegistryScope(registries), service_account, force)
    edited = edit_manifests(filenames, request, in_place=in_place, engine=engine)
    results = [(item.source, item.result) for item in edited]

    changed_specs = sum(len(r.changed) for _, r in results)
    for item, result in results:
        for outcome in result.skipped:
            click.echo(f"regcred: skipped {outcome.label} in {item.name}: {outcome.plan.skipped}", err=True)
    if in_place:
        written = write_edited(edited, request, lambda done: click.echo(
            f"updated {done.source.name} ({len(done.result.changed)} pod specs)", err=True), engine=engine)
        click.echo(
            f"regcred: {changed_specs} pod specs updated in {written} of {len(edited)} files", err=True
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

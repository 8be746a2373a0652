"""`regcred match`: which credentials the kubelet would try for an image, in order."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from regcred.cli.options import output_option
from regcred.cli.output import emit, render_table
from regcred.core.credentials.imageref import parse_image
from regcred.core.credentials.keyring import Credential


def describe(credentials: list[Credential]) -> list[dict[str, Any]]:
    return [{"key": c.key, "source": c.source, "username": c.username} for c in credentials]


@click.command()
@click.argument("image")
@click.option("--file", "files", multiple=True, type=click.Path(path_type=Path),
              help="A node credential file; repeat in search order (first valid file wins).")
@click.option("--secret-file", "secret_files", multiple=True,
              help="A manifest with pull Secrets (YAML or JSON, '-' for stdin); repeat as the pod lists them.")
@click.option("--repository", is_flag=True, help="IMAGE is already a normalised repository (the keyring's input).")
@output_option("table", "json")
def match(image: str, files: tuple[Path, ...], secret_files: tuple[str, ...], repository: bool, output: str) -> None:
    """Show which credentials the kubelet would try for IMAGE: pod secrets first, then node files."""
    from regcred.usecases.matching import credentials_for_image

    repo = image if repository else parse_image(image).repository
    credentials = credentials_for_image(repo, node_files=files, secret_files=secret_files,
                                        note=lambda message: click.echo(f"note: {message}", err=True))
    result = {"image": image, "repository": repo, "credentials": describe(credentials), "anonymous": not credentials}
    if credentials:
        table = render_table(
            ["#", "key", "username", "source"],
            [[i + 1, c.key, c.username, c.source] for i, c in enumerate(credentials)],
        )
        table = f"repository: {repo}\n{table}"
    else:
        table = f"repository: {repo}\nno credential matches: the kubelet pulls anonymously"
    emit(result, output, table)

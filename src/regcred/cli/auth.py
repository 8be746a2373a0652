"""`regcred auth`: edit a docker credential file the way `docker login` would, but safely."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from regcred.cli.options import output_option, password_options, resolve_password
from regcred.cli.output import emit, render_table
from regcred.core.credentials import dockerconfig
from regcred.core.credentials.dockerconfig import DockerConfig
from regcred.core.credentials.registrykey import InvalidRegistryKey, index_key, validate_server
from regcred.core.errors import ConfigFormatError, InputError, OperationFailed
from regcred.shells import credfile

FILE_OPTION = click.option(
    "--file", "file", required=True, type=click.Path(path_type=Path, dir_okay=True),
    help="The credential file (config.json layout; a file named .dockercfg uses the legacy layout).",
)


def same_registry_keys(config: DockerConfig, server: str) -> list[str]:
    """Other keys in the file that the kubelet normalises to the same index key as `server`."""
    wanted = index_key(server)
    return [k for k in config.registry_keys() if k != server and index_key(k) == wanted]


class naming:
    """Prefix an input error with the file and the registry key it is about (name both, never the secret)."""

    def __init__(self, file: Path, server: str) -> None:
        self.file, self.server = file, server

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: object, exc: object, _tb: object) -> None:
        if isinstance(exc, InputError) and not isinstance(exc, ConfigFormatError):
            where = f"{self.file}: " if isinstance(exc, InvalidRegistryKey) else f"{self.file}: registry {self.server!r}: "
            raise InputError(where + exc.message, hint=exc.hint) from None


@click.group()
def auth() -> None:
    """Add, list and remove entries of a docker credential file (config.json)."""


@auth.command("add")
@click.argument("server")
@click.option("--username", "-u", required=True, help="Registry user name.")
@password_options
@click.option("--email", default="", help="Optional e-mail (not needed for pulls).")
@FILE_OPTION
def add(server: str, username: str, password_stdin: bool, password_env: str | None,
        password_literal: str | None, email: str, file: Path) -> None:
    """Add or replace the entry for SERVER, keeping every other entry and key of the file."""
    with naming(file, server):
        validate_server(server)
        if not username:
            raise InputError("the username is empty")
        password = resolve_password(password_stdin, password_env, password_literal)
    outcome: dict[str, str] = {}

    def change(config: DockerConfig) -> dict[str, Any]:
        existing = config.get(server)
        outcome["action"] = "replaced" if existing is not None else "added"
        for other in same_registry_keys(config, server):
            click.echo(f"note: {file} also has {other!r}, which the kubelet treats as the same registry", err=True)
        return dockerconfig.with_entry(config, server, username, password, email)

    credfile.update(file, change)
    click.echo(f"{outcome['action']} {server} in {file}")


@auth.command("list")
@FILE_OPTION
@output_option("table", "json")
def list_(file: Path, output: str) -> None:
    """List the entries of a credential file (passwords are never shown)."""
    config = credfile.load(file)
    rows = [
        {"key": e.key, "username": e.username, "email": e.email or None, "has_password": e.has_password}
        for e in config.entries
    ]
    table = render_table(
        ["key", "username", "email", "password"],
        [[r["key"], r["username"], r["email"] or "", "yes" if r["has_password"] else "no"] for r in rows],
    )
    if not rows and output == "table":
        table = f"no entries in {file}"
    emit(rows, output, table)


@auth.command("remove")
@click.argument("server")
@FILE_OPTION
@click.option("--ignore-not-found", is_flag=True, help="Succeed when there is no entry for SERVER.")
def remove(server: str, file: Path, ignore_not_found: bool) -> None:
    """Remove the entry for SERVER, keeping everything else."""
    found: list[bool] = []

    def change(config: DockerConfig) -> dict[str, Any] | None:
        if config.get(server) is None:
            return None
        found.append(True)
        return dockerconfig.without_entry(config, server)

    if not file.exists():
        if ignore_not_found:
            return
        raise InputError(f"{file}: no such credential file")
    credfile.update(file, change)
    if found:
        click.echo(f"removed {server} from {file}")
        return
    with naming(file, server):  # no such entry, and none could exist: bad input (exit 2), not "not found"
        validate_server(server)
    if ignore_not_found:
        click.echo(f"no entry for {server} in {file}")
    else:
        raise OperationFailed(f"{file}: no entry for {server!r}", hint="see regcred auth list --file")

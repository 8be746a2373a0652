"""`regcred auth`: edit a docker credential file the way `docker login` would, but safely."""

from __future__ import annotations

from pathlib import Path

import click

from regcred.cli.options import output_option, password_options, resolve_password
from regcred.cli.output import emit, render_table
from regcred.core.credentials.registrykey import InvalidRegistryKey, validate_server
from regcred.core.errors import ConfigFormatError, InputError, OperationFailed
from regcred.usecases.credfiles import Removal, add_credential, list_credentials, remove_credential

FILE_OPTION = click.option(
    "--file", "file", required=True, type=click.Path(path_type=Path, dir_okay=True),
    help="The credential file (config.json layout; a file named .dockercfg uses the legacy layout).",
)


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
    action = add_credential(file, server, username, password, email, lambda text: click.echo(f"note: {text}", err=True))
    click.echo(f"{action} {server} in {file}")


@auth.command("list")
@FILE_OPTION
@output_option("table", "json")
def list_(file: Path, output: str) -> None:
    """List the entries of a credential file (passwords are never shown)."""
    rows = list_credentials(file)
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
    outcome = remove_credential(file, server)
    if outcome is Removal.NO_FILE:
        if ignore_not_found:
            return
        raise InputError(f"{file}: no such credential file")
    if outcome is Removal.REMOVED:
        click.echo(f"removed {server} from {file}")
        return
    with naming(file, server):  # no such entry, and none could exist: bad input (exit 2), not "not found"
        validate_server(server)
    if ignore_not_found:
        click.echo(f"no entry for {server} in {file}")
    else:
        raise OperationFailed(f"{file}: no entry for {server!r}", hint="see regcred auth list --file")

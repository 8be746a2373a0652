"""`regcred verify`: do these credentials really authorise a pull, and are they read-only?"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from regcred.cli.options import FiniteFloatRange, output_option, password_options, resolve_password
from regcred.cli.output import emit, render_table
from regcred.core.errors import InputError, OperationFailed
from regcred.core.verify.hosts import registry_of_key
from regcred.core.verify.repository import parse_repository_option


def _yes_no(value: bool | None) -> str:
    return "-" if value is None else ("yes" if value else "no")


def render(rows: list[dict[str, Any]]) -> str:
    table = [
        [
            r["key"], r["registry"], "ok" if r["ok"] else "FAIL", r["scheme"] or "-", _yes_no(r["login"]),
            ",".join(f"{repo}={'ok' if ok else 'no'}" for repo, ok in r["pull"].items()) or "-",
            _yes_no(r["push_granted"]), r["expires_at"] or "-", r["error"] or "",
        ]
        for r in rows
    ]
    return render_table(["key", "registry", "result", "auth", "login", "pull", "push", "expires", "reason"], table)


@click.command()
@click.argument("server", required=False)
@click.option("--file", "config_file", type=click.Path(path_type=Path), help="A docker config.json to verify.")
@click.option("--secret-file", "secret_files", multiple=True,
              help="A manifest with pull Secrets (YAML or JSON, '-' for stdin); repeatable.")
@click.option("--username", "-u", help="User name for SERVER.")
@password_options
@click.option("--repository", "repositories", multiple=True, metavar="REPO[:TAG]",
              help="Check that a pull of this manifest is authorised (HOST/REPO limits it to one registry); "
                   "repeatable. Push rights are probed on these repositories.")
@click.option("--ca-file", type=click.Path(path_type=Path), help="Trust only this PEM CA bundle for TLS.")
@click.option("--insecure-http", is_flag=True, help="Speak plain HTTP to the registries (no TLS).")
@click.option("--timeout", type=FiniteFloatRange(min=0.1, max=86400), default=10.0, show_default=True,
              help="Seconds per network read; a whole registry check stops after S × (2 + repositories).")
@click.option("--probe-upload", is_flag=True,
              help="When push rights cannot be read from a token (Basic auth, opaque tokens), start a blob upload "
                   "and cancel it at once to find out. Nothing is pushed.")
@click.option("--concurrency", type=click.IntRange(1, 64), default=8, show_default=True,
              help="Registries checked at the same time.")
@output_option("table", "json")
def verify(server: str | None, config_file: Path | None, secret_files: tuple[str, ...], username: str | None,
           password_stdin: bool, password_env: str | None, password_literal: str | None,
           repositories: tuple[str, ...], ca_file: Path | None, insecure_http: bool, timeout: float,
           probe_upload: bool, concurrency: int, output: str) -> None:
    """Verify credentials against the registry: login, pull of each --repository, and no push rights.

    Give SERVER with --username and a password option, or --file CONFIG, or --secret-file MANIFEST.
    Exit 0 when every check passed, 1 when any failed or a credential may push, 2 on bad input.
    """
    from regcred.core.credentials.source import CredentialSource
    from regcred.usecases.verification import (
        CheckOptions,
        request_for,
        requests_from_file,
        requests_from_secrets,
        run_checks,
    )

    sources = [name for name, on in (("SERVER", server), ("--file", config_file), ("--secret-file", secret_files))
               if on]
    if len(sources) != 1:
        raise InputError("give exactly one of SERVER, --file or --secret-file"
                         + (f" (got {', '.join(sources)})" if sources else ""))
    refs = [parse_repository_option(r) for r in repositories]
    if server is not None:
        if not username:
            raise InputError("SERVER needs --username", hint="and --password-stdin, --password-env VAR or --password")
        registry_of_key(server)
        password = resolve_password(password_stdin, password_env, password_literal)
        requests = [request_for(server, username, password, refs, CredentialSource.command_line())]
    elif config_file is not None:
        requests = requests_from_file(config_file, refs)
    else:
        requests = requests_from_secrets(secret_files, refs)
    if not requests:
        raise InputError("no credential to verify", hint="the file or Secrets hold no registry entry")
    rows = run_checks(requests, CheckOptions(ca_file=ca_file, insecure_http=insecure_http, timeout=timeout,
                                             probe_upload=probe_upload, concurrency=concurrency))
    emit({"results": rows}, output, render(rows))
    if any(r["login"] and not r["pull"] for r in rows):
        click.echo("note: only the login was checked where no --repository applies; a login can succeed while "
                   "pulls are denied (Harbor robot accounts): give --repository REPO[:TAG]", err=True)
    failed = [r for r in rows if not r["ok"]]
    if failed:
        raise OperationFailed(f"{len(failed)} of {len(rows)} registry key(s) failed verification",
                              hint="see the reason column; over-privileged means the credential may push")

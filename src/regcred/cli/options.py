"""Options shared by several commands: passwords, output format, credential files."""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from regcred.core.credentials.pullsecret import require_password
from regcred.core.errors import InputError
from regcred.core.names import env_var_label

F = TypeVar("F", bound=Callable[..., Any])


def password_options(func: F) -> F:
    """--password-stdin | --password-env VAR | --password P (warns); a prompt on a TTY otherwise."""
    func = click.option(
        "--password", "password_literal", metavar="P",
        help="The password itself (visible in shell history and the process list: prefer the other forms).",
    )(func)
    func = click.option(
        "--password-env", "password_env", metavar="VAR", help="Read the password from environment variable VAR."
    )(func)
    func = click.option(
        "--password-stdin", "password_stdin", is_flag=True,
        help="Read the password from standard input (one trailing newline is dropped, as docker login does).",
    )(func)
    return func


def resolve_password(password_stdin: bool, password_env: str | None, password_literal: str | None) -> str:
    """The password from exactly one source; empty passwords are refused."""
    given = [name for name, on in (
        ("--password-stdin", password_stdin),
        ("--password-env", password_env is not None),
        ("--password", password_literal is not None),
    ) if on]
    if len(given) > 1:
        raise InputError(f"give only one of {', '.join(given)}")
    if password_stdin:
        password = _stdin_text()
        if password.endswith("\n"):
            password = password[:-1]
            if password.endswith("\r"):
                password = password[:-1]
    elif password_env is not None:
        if password_env not in os.environ:
            raise InputError(f"{env_var_label(password_env)} is not set", hint="export it or use --password-stdin")
        password = os.environ[password_env]
    elif password_literal is not None:
        click.echo(
            "warning: --password puts the secret in shell history and the process list; prefer --password-stdin",
            err=True,
        )
        password = password_literal
    elif sys.stdin.isatty():
        password = click.prompt("Password", hide_input=True, err=True)
    else:
        raise InputError("no password given", hint="use --password-stdin, --password-env VAR or --password")
    return require_password(password)


def _stdin_text() -> str:
    from regcred.shells.input import read_stdin

    try:
        return read_stdin(what="password").decode("utf-8")
    except UnicodeDecodeError:
        raise InputError("the password on standard input is not UTF-8 text") from None


def output_option(*choices: str, default: str = "table") -> Callable[[F], F]:
    """-o/--output with the given formats."""
    return click.option(
        "-o", "--output", "output", type=click.Choice(list(choices)), default=default, show_default=True,
        help="Output format.",
    )


class FiniteFloatRange(click.FloatRange):
    """click's FloatRange, which lets `nan` and `inf` through (every comparison with nan is false)."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return number

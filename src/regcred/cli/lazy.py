"""A click group that imports a subcommand's module only when that subcommand is used.

Commands are named in a table (`name -> ("module:attribute", help line)`), so one command module never
imports another and `--help` does not load what it lists (the help line is given; None: read it, importing).
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

import click

LazyCommands = Mapping[str, tuple[str, str | None]]


class LazyGroup(click.Group):
    """A group whose `lazy` subcommands load on first use; other subcommands are added as usual."""

    def __init__(self, *args: Any, lazy: LazyCommands | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy: LazyCommands = lazy or {}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        spec = self.lazy.get(cmd_name)
        if spec is None:
            return super().get_command(ctx, cmd_name)
        module_name, attr = spec[0].split(":")
        command: click.Command = getattr(importlib.import_module(module_name), attr)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        names = self.list_commands(ctx)
        limit = formatter.width - 6 - max((len(name) for name in names), default=0)
        rows = []
        for name in names:
            given = self.lazy[name][1] if name in self.lazy else None
            if given is not None:
                rows.append((name, given))
                continue
            command = self.get_command(ctx, name)
            if command is not None and not command.hidden:
                rows.append((name, command.get_short_help_str(limit)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

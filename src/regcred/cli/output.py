"""Rendering results: aligned plain tables for people, stable JSON/YAML for machines."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import click

from regcred.shells.manifests import dump_yaml


def render_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A kubectl-style table: upper-case headers, columns padded with three spaces."""
    cells = [[str(h).upper() for h in headers]] + [["" if c is None else str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ["   ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in cells]
    return "\n".join(lines)


def dump_json(data: Any) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False)


def emit(data: Any, output: str, table: str | None = None) -> None:
    """Print `data` as JSON/YAML, or the prepared table text."""
    if output == "json":
        click.echo(dump_json(data))
    elif output == "yaml":
        click.echo(dump_yaml(data), nl=False)
    else:
        click.echo(table if table is not None else dump_json(data))

"""`regcred demo`: the whole flow against a real local registry that demands a password.

The flow is `regcred.usecases.demo.run_demo`; this module parses, prints its steps and the verdict.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import click

from regcred.cli.output import render_table
from regcred.core.errors import OperationFailed


class _Console:
    """The demo's output on the terminal."""

    def step(self, title: str) -> None:
        click.secho(f"\n== {title}", bold=True)

    def line(self, text: str) -> None:
        click.echo(text)

    def table(self, headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
        click.echo(render_table(headers, rows))

    def wait(self, prompt: str) -> None:
        click.prompt(prompt, default="", show_default=False)


@click.command()
@click.option("--workdir", type=click.Path(path_type=Path), help="Keep the demo's files here (default: a temp dir).")
@click.option("--keep-running", is_flag=True, help="Leave the registry running until Enter is pressed.")
def demo(workdir: Path | None, keep_running: bool) -> None:
    """Run the whole flow against a local authenticated registry (needs docker-registry, skopeo, htpasswd)."""
    from regcred.usecases.demo import run_demo

    base, failures = run_demo(workdir, _Console(), keep_running=keep_running)
    if failures:
        raise OperationFailed("demo failed: " + "; ".join(failures))
    click.secho(f"\ndemo finished: files in {base}", fg="green")

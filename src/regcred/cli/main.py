"""Entry point of `regcred` (and `kubectl-regcred`): a click group whose subcommands load lazily.

Only the command that runs is imported, so `regcred --help` and offline commands never pay for the
Kubernetes client or the HTTP stack. Every RegcredError becomes one line on stderr and the exit code
`exit_code_for` gives it: exit codes are the CLI's contract, the error types know nothing of them.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

import click

from regcred._version import __version__
from regcred.cli.lazy import LazyGroup
from regcred.cli.prog import prog_name
from regcred.core.errors import OperationFailed

if TYPE_CHECKING:
    from regcred.core.errors import RegcredError

EXIT_PROBLEMS = 1  # a check ran and found problems, or some work failed (OperationFailed)
EXIT_USAGE = 2  # bad usage or bad input (every other RegcredError)
EXIT_INTERNAL = 70  # a bug (EX_SOFTWARE)
EXIT_ABORTED = 130  # Ctrl-C

# name -> (module:attribute, one-line help shown by `regcred --help` without importing the module)
COMMANDS: dict[str, tuple[str, str | None]] = {
    "auth": ("regcred.cli.auth:auth", "Add, list and remove entries of a docker credential file."),
    "match": ("regcred.cli.match:match", "Show which credentials the kubelet would try for an image."),
    "secret": ("regcred.cli.secret:secret", "Create kubernetes.io/dockerconfigjson pull Secrets."),
    "node": ("regcred.cli.node:node", "Install, check and roll out the kubelet's node-level registry credentials."),
    "inject": ("regcred.cli.inject:inject", "Add a pull secret to the pod specs of manifest files (offline)."),
    "workload": ("regcred.cli.workload:workload", "Add a pull secret to live workloads' pod templates."),
    "sa": ("regcred.cli.sa:sa", "Attach pull Secrets to ServiceAccounts (attach, detach, create)."),
    "plan": ("regcred.cli.spec:plan_command", "Show what a RegistryCredential spec would change (exit 1: drift)."),
    "apply": ("regcred.cli.spec:apply_command", "Make the changes a RegistryCredential spec plans."),
    "render": ("regcred.cli.spec:render_command", "Write the manifests of a RegistryCredential spec (GitOps)."),
    "spec": ("regcred.cli.spec:spec_group", "RegistryCredential JSON Schema, CRD, and offline validation."),
    "demo": ("regcred.cli.demo:demo", "Run the whole flow against a local authenticated registry."),
    "verify": ("regcred.cli.verify:verify", "Verify credentials against registries: login, pull, no push rights."),
    "audit": ("regcred.cli.audit:audit", "Simulate the kubelet: which workloads will fail to pull, and why."),
    "why": ("regcred.cli.why:why", "Explain why one Pod or workload's images pull or fail, and the fix."),
    "controller": ("regcred.cli.controller:controller", "The in-cluster controller, and the manifests to deploy it."),
}


@click.group(cls=LazyGroup, lazy=COMMANDS, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.version_option(__version__, prog_name="regcred")
def cli() -> None:
    """Private container-registry credentials for Kubernetes: node, ServiceAccount and pod level."""


def exit_code_for(error: RegcredError) -> int:
    """The exit code of an error: 1 when work was attempted and some failed, 2 for bad usage or input."""
    return EXIT_PROBLEMS if isinstance(error, OperationFailed) else EXIT_USAGE


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; RegcredError -> one line and its exit code, never a traceback."""
    from regcred.core.errors import RegcredError  # lazy: `regcred --help` imports no other regcred module

    prog = prog_name()
    try:
        # With standalone_mode=False click returns (not raises) the code of a ctx.exit(code), turns Ctrl-C and
        # EOF into Abort, and exits 1 itself on a broken pipe.
        code = cli.main(args=argv, prog_name=prog, standalone_mode=False)
    except RegcredError as exc:
        click.echo(f"{prog}: error: {exc.line()}", err=True)
        sys.exit(exit_code_for(exc))
    except click.UsageError as exc:  # one line, like every other error, with where to look
        where = exc.ctx.command_path if exc.ctx is not None else prog
        click.echo(f"{prog}: error: {exc.format_message()} (see '{where} --help')", err=True)
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        click.echo(f"{prog}: error: {exc.format_message()}", err=True)
        sys.exit(exc.exit_code)
    except click.Abort:
        click.echo(f"{prog}: aborted", err=True)
        sys.exit(EXIT_ABORTED)
    except (MemoryError, RecursionError) as exc:  # input too big or deep for a bound regcred does not know yet
        if os.environ.get("REGCRED_DEBUG"):
            raise
        what = "too large for the available memory" if isinstance(exc, MemoryError) else "nested too deeply"
        click.echo(f"{prog}: error: the input is {what} (see docs/contracts/input-limits.md)", err=True)
        sys.exit(EXIT_USAGE)
    except Exception as exc:  # a bug: say so without a traceback (it could carry data), unless asked
        if os.environ.get("REGCRED_DEBUG"):
            raise
        click.echo(
            f"{prog}: internal error: {type(exc).__name__} (set REGCRED_DEBUG=1 for a traceback and report it)",
            err=True,
        )
        sys.exit(EXIT_INTERNAL)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":  # pragma: no cover
    main()

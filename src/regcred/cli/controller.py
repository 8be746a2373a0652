"""`regcred controller`: run the controller (issue 12), and `regcred controller manifests` to deploy it.

The group's own action, running the controller, lands separately; until then it says so and exits 2.
Subcommands load lazily from their own modules (no command module imports another).
"""

from __future__ import annotations

import click

from regcred.cli.lazy import LazyGroup

SUBCOMMANDS = {
    "manifests": ("regcred.cli.controller_manifests:manifests_command",
                  "Print the CRD, Namespace, RBAC, Deployment and PodDisruptionBudget of the controller."),
}


@click.group("controller", cls=LazyGroup, lazy=SUBCOMMANDS, invoke_without_command=True)
@click.pass_context
def controller(ctx: click.Context) -> None:
    """Keep every namespace a RegistryCredential selects in step; `manifests` prints its deployment."""
    if ctx.invoked_subcommand is None:
        raise click.UsageError("running the controller is not in this build yet; "
                               "`regcred controller manifests` prints its deployment")

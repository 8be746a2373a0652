"""`regcred sa`: put a pull Secret on ServiceAccounts (attach/detach/create), safely on every namespace.

The work is `regcred.usecases.serviceaccounts`; this module parses, calls it and prints.
"""

from __future__ import annotations

from typing import Any

import click

from regcred.cli.clusteropts import ClusterOptions, cluster_options, report
from regcred.core.errors import InputError
from regcred.core.names import validate_subdomain


@click.group()
def sa() -> None:
    """Attach pull Secrets to ServiceAccounts (pods created later with them can pull)."""


def _targets(func: Any) -> Any:
    func = click.option("--all-service-accounts", "all_sas", is_flag=True,
                        help="Every ServiceAccount of each namespace.")(func)
    func = click.option("--service-account", "names", multiple=True, metavar="NAME",
                        help="ServiceAccount to change (repeatable; default: default).")(func)
    return func


@sa.command("attach")
@click.argument("secret")
@_targets
@click.option("--restart-stuck", is_flag=True,
              help="Then replace Pods of these ServiceAccounts stuck pulling an image SECRET covers.")
@cluster_options()
def attach(secret: str, names: tuple[str, ...], all_sas: bool, restart_stuck: bool, cluster: ClusterOptions) -> None:
    """Add SECRET to imagePullSecrets of ServiceAccounts; other entries are kept, nothing is duplicated.

    SECRET must exist in each namespace (a missing or malformed one fails that namespace). The names regcred
    added are recorded in the annotation regcred.dev/added-pull-secrets, so `detach` removes only those.
    """
    _update(secret, names, all_sas, detach=False, force=False, restart_stuck=restart_stuck, cluster=cluster)


@sa.command("detach")
@click.argument("secret")
@_targets
@click.option("--force", is_flag=True, help="Remove SECRET even where regcred did not add it.")
@cluster_options()
def detach(secret: str, names: tuple[str, ...], all_sas: bool, force: bool, cluster: ClusterOptions) -> None:
    """Remove SECRET from imagePullSecrets where regcred added it; every other entry stays."""
    _update(secret, names, all_sas, detach=True, force=force, restart_stuck=False, cluster=cluster)


@sa.command("create")
@click.argument("name")
@click.option("--pull-secret", "secret", required=True, metavar="SECRET", help="Pull Secret the account carries.")
@cluster_options()
def create(name: str, secret: str, cluster: ClusterOptions) -> None:
    """Create ServiceAccount NAME carrying SECRET (or attach SECRET to it when it exists)."""
    from regcred.usecases.serviceaccounts import create_service_account

    validate_subdomain(name, "ServiceAccount")
    validate_subdomain(secret, "Secret")
    if cluster.fans_out:
        raise InputError("sa create works on one namespace", hint="use -n NS")
    with cluster.connect() as api:
        rows = create_service_account(api, cluster.namespaces, name, secret, dry_run=cluster.dry_run)
    report(rows, cluster, document={"kind": "ServiceAccountResult", "operation": "create", "secret": secret})


def _names(names: tuple[str, ...], all_sas: bool) -> tuple[str, ...]:
    if all_sas and names:
        raise InputError("give either --service-account or --all-service-accounts")
    for n in names:
        validate_subdomain(n, "ServiceAccount")
    return tuple(dict.fromkeys(names)) or (() if all_sas else ("default",))  # a repeated name counts once


def _update(secret: str, names: tuple[str, ...], all_sas: bool, *, detach: bool, force: bool, restart_stuck: bool,
            cluster: ClusterOptions) -> None:
    from regcred.usecases.serviceaccounts import AccountUpdate, update_service_accounts

    job = AccountUpdate(secret, _names(names, all_sas), all_accounts=all_sas, detach=detach, force=force,
                        restart_stuck=restart_stuck)
    validate_subdomain(secret, "Secret")
    with cluster.connect() as api:
        rows = update_service_accounts(api, cluster.namespaces, job, dry_run=cluster.dry_run,
                                       workers=cluster.workers)
    report(rows, cluster, document={"kind": "ServiceAccountResult", "operation": "detach" if detach else "attach",
                                    "secret": secret})

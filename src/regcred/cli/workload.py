"""`regcred workload attach SECRET`: add a pull secret to live workloads' pod templates.

The work is `regcred.usecases.workloads.attach_to_workloads`; this module parses, calls it and prints.
"""

from __future__ import annotations

import click

from regcred.cli.clusteropts import ClusterOptions, cluster_options, report
from regcred.core.cluster.podspec import EditRequest, RegistryScope
from regcred.core.errors import OperationFailed
from regcred.core.names import validate_subdomain
from regcred.usecases.rows import RowStatus
from regcred.usecases.workloads import DEFAULT_KINDS


@click.group()
def workload() -> None:
    """Put a pull Secret on workloads' pod templates in a cluster."""


@workload.command("attach")
@click.argument("secret")
@click.option("--kind", "kinds", multiple=True, metavar="KIND",
              help=f"Only these kinds (repeatable; default: {', '.join(DEFAULT_KINDS)}).")
@click.option("-l", "--selector", metavar="SELECTOR", help="Only workloads matching this label selector.")
@click.option("--registry", "registries", multiple=True, metavar="PATTERN",
              help="Only workloads pulling an image this registry key covers (kubelet matching). Repeatable.")
@click.option("--service-account", "service_account", metavar="NAME",
              help="Also point the pod templates at this ServiceAccount (serviceAccountName).")
@click.option("--force", is_flag=True, help="Change serviceAccountName even when it names another ServiceAccount.")
@click.option("--restart-stuck", is_flag=True,
              help="Restart the owners of Pods stuck in ErrImagePull/ImagePullBackOff on a covered image.")
@cluster_options(output_choices=("table", "json", "yaml"))
def attach(secret: str, kinds: tuple[str, ...], selector: str | None, registries: tuple[str, ...],
           service_account: str | None, force: bool, restart_stuck: bool, cluster: ClusterOptions) -> None:
    """Add SECRET to imagePullSecrets of workload pod templates that need it (other entries kept).

    SECRET must exist in each namespace. Exit 1 when a namespace failed or a workload was refused
    (it names another ServiceAccount and --force was not given).
    """
    from regcred.usecases.workloads import WorkloadAttach, attach_to_workloads, workload_kinds

    validate_subdomain(secret, "Secret")
    if service_account is not None:
        validate_subdomain(service_account, "--service-account")
    job = WorkloadAttach(EditRequest(secret, RegistryScope(registries), service_account, force),
                         kinds=workload_kinds(kinds), selector=selector, restart_stuck=restart_stuck)
    with cluster.connect() as api:
        rows = attach_to_workloads(api, cluster.namespaces, job, dry_run=cluster.dry_run, workers=cluster.workers)
    refused = [r for r in rows if r.status is RowStatus.REFUSED]
    report(rows, cluster, document={"kind": "WorkloadResult", "operation": "attach", "secret": secret})
    if refused:
        raise OperationFailed(f"{len(refused)} workload(s) refused: they name another ServiceAccount",
                              hint="review them, then rerun with --force to change it")

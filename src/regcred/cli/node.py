"""`regcred node`: the kubelet's node credential file, the runtime's own credentials, and a DaemonSet for all nodes.

The commands read and write a node's files through a host root (`/` by default, `/host` inside the
DaemonSet) and ask the pure core what the kubelet and the runtime will make of them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from regcred.cli.lazy import LazyGroup
from regcred.cli.options import output_option, password_options, resolve_password
from regcred.cli.output import emit
from regcred.core.errors import InputError, OperationFailed
from regcred.core.node.runtimes import common as runtimes

RUNTIME_CHOICES = ["auto", "none", runtimes.CONTAINERD, runtimes.CRIO, runtimes.K3S, runtimes.RKE2]


def placement_options(func: Any) -> Any:
    """--host-root, --root-dir, --location: where the node's credential file is."""
    func = click.option(
        "--location", type=click.Choice(["root-dir", "home"]), default="root-dir", show_default=True,
        help="root-dir: <root-dir>/config.json, searched first, needs no HOME; home: $HOME/.docker/config.json "
             "of the kubelet's user (sets HOME for the kubelet, restart needed).",
    )(func)
    func = click.option(
        "--root-dir", metavar="DIR",
        help="The kubelet's --root-dir (default: read from its unit, kubeadm-flags.env, /etc/default/kubelet).",
    )(func)
    func = click.option(
        "--host-root", default="/", show_default=True, metavar="DIR",
        help="Where the node's / is (e.g. /host in a pod that mounts it).",
    )(func)
    return func


def keep_backup_option(func: Any) -> Any:
    return click.option(
        "--keep-backup", is_flag=True,
        help="Keep the file's previous content as NAME.regcred-bak (0600; it holds the old credentials). Without "
             "it no backup is kept and an earlier one is removed. NAME.bak is never touched.",
    )(func)


@click.group(cls=LazyGroup, lazy={"doctor": ("regcred.cli.node_doctor:doctor", None),
                                  "daemonset": ("regcred.cli.node_daemonset:daemonset", None),
                                  "provider": ("regcred.cli.node_provider:provider",
                                               "Configure the kubelet's credential-provider plugins.")})
def node() -> None:
    """Install, check and remove the kubelet's node-level registry credentials (every pod on the node)."""


# --- install ------------------------------------------------------------------------------------------------


@node.command("install")
@click.argument("server", required=False)
@click.option("--from-file", type=click.Path(path_type=Path), help="Install every entry of this config.json.")
@click.option("--username", "-u", help="Registry user name (with SERVER).")
@password_options
@click.option("--email", default="", help="Optional e-mail.")
@placement_options
@click.option("--runtime", type=click.Choice(RUNTIME_CHOICES), default="auto", show_default=True,
              help="Also give the runtime the credential (auto: only for the sandbox image's registry).")
@click.option("--overwrite", is_flag=True, help="Replace an entry for the same registry with other credentials.")
@click.option("--keep-existing", is_flag=True, help="Leave such entries as they are and install the rest.")
@click.option("--prune", is_flag=True, help="Remove entries regcred installed earlier that --from-file no longer has.")
@click.option("--restart-kubelet", is_flag=True, help="Restart the kubelet through systemd afterwards.")
@keep_backup_option
@click.option("--quiet", is_flag=True, help="Print nothing when nothing changed (the node DaemonSet's rounds).")
@click.option("--dry-run", is_flag=True, help="Show what would change; write nothing.")
@output_option("table", "json")
def install(server: str | None, from_file: Path | None, username: str | None, password_stdin: bool,
            password_env: str | None, password_literal: str | None, email: str, host_root: str, root_dir: str | None,
            location: str, runtime: str, overwrite: bool, keep_existing: bool, prune: bool, restart_kubelet: bool,
            keep_backup: bool, quiet: bool, dry_run: bool, output: str) -> None:
    """Merge registry credentials into the kubelet's node file, keeping every other entry."""
    # lazy: loaded when the command runs, not for --help
    from regcred.cli.node_report import install_table, is_quiet

    # lazy: the use case loads when the command runs
    from regcred.usecases.nodes import NodePlacement, entries_to_install, install_node_credentials

    # lazy: the use case loads when the command runs
    from regcred.usecases.nodes import restart_kubelet as restart

    if overwrite and keep_existing:
        raise InputError("give only one of --overwrite and --keep-existing")
    if prune and from_file is None:
        raise InputError("--prune needs --from-file (the full list of registries regcred should keep)")
    wanted = entries_to_install(server, username, email, from_file,
                                lambda: resolve_password(password_stdin, password_env, password_literal))
    placement = NodePlacement(host_root, root_dir, location)
    on_conflict = "overwrite" if overwrite else "keep" if keep_existing else "fail"
    result, settings = install_node_credentials(placement, wanted, runtime=runtime, on_conflict=on_conflict,
                                                prune=prune, dry_run=dry_run, keep_backup=keep_backup)
    if not (quiet and is_quiet(result)):
        emit(result, output, install_table(result, settings))
    for warning in result["warnings"]:
        click.echo(f"warning: {warning}", err=True)
    if restart_kubelet and not dry_run:
        restart(placement, result)
        click.echo("restarted kubelet", err=True)


# --- remove -------------------------------------------------------------------------------------------------


@node.command("remove")
@click.argument("server")
@placement_options
@click.option("--runtime", type=click.Choice(RUNTIME_CHOICES), default="auto", show_default=True,
              help="Also remove the runtime's credential for SERVER's host (auto: the runtime found).")
@click.option("--ignore-not-found", is_flag=True, help="Succeed when SERVER is found nowhere.")
@keep_backup_option
@click.option("--dry-run", is_flag=True, help="Show what would change; write nothing.")
@output_option("table", "json")
def remove(server: str, host_root: str, root_dir: str | None, location: str, runtime: str, ignore_not_found: bool,
           keep_backup: bool, dry_run: bool, output: str) -> None:
    """Remove SERVER's entry from every place `node install` writes to."""
    from regcred.cli.node_report import remove_table  # lazy: loaded when the command runs, not for --help

    # lazy: the use case loads when the command runs
    from regcred.usecases.nodes import NodePlacement, remove_node_credentials

    result = remove_node_credentials(NodePlacement(host_root, root_dir, location), server, runtime=runtime,
                                     dry_run=dry_run, keep_backup=keep_backup)
    rt = result["runtime"]
    emit(result, output, remove_table(result, server))
    if not result["removed"] and not rt["changed"] and not ignore_not_found:
        places = " or ".join([result["path"]] + ([rt["config"]] if rt["config"] else []))
        raise OperationFailed(f"no entry for {server!r} in {places}", hint="see regcred node doctor")

"""`regcred node`: the kubelet's node credential file, the runtime's own credentials, and a DaemonSet for all nodes.

The commands read and write a node's files through a host root (`/` by default, `/host` inside the
DaemonSet) and ask the pure core what the kubelet and the runtime will make of them.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from regcred.cli.node_daemonset import daemonset
from regcred.cli.node_doctor import doctor
from regcred.cli.node_report import install_table, is_quiet, remove_table
from regcred.cli.options import output_option, password_options, resolve_password
from regcred.cli.output import emit
from regcred.core.credentials.dockerconfig import parse_config_json
from regcred.core.credentials.registrykey import validate_server
from regcred.core.errors import InputError, OperationFailed
from regcred.core.node.runtimes import common as runtimes
from regcred.shells.files import read_bytes

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


@click.group()
def node() -> None:
    """Install, check and remove the kubelet's node-level registry credentials (every pod on the node)."""


# --- install ------------------------------------------------------------------------------------------------


def wanted_entries(server: str | None, username: str | None, email: str, from_file: Path | None,
                   password: Callable[[], str]) -> list[tuple[str, str, str, str]]:
    """(key, username, password, email) to install, from --from-file or from the flags.

    `password` is asked for only once SERVER and --username are known to be right (no prompt for nothing).
    """
    if from_file is not None:
        if server is not None or username:
            raise InputError("give either --from-file or SERVER with --username, not both")
        config = parse_config_json(read_bytes(from_file, what="credential file"), str(from_file))
        if not config.has_auths:
            raise InputError(f"{from_file}: has no 'auths' object", hint="give a config.json / .dockerconfigjson file")
        for entry in config.entries:
            validate_server(entry.key)
            if not entry.username and not entry.password:
                raise InputError(f"{from_file}: registry {entry.key!r} has no username or password")
        return [(e.key, e.username, e.password, e.email) for e in config.entries]
    if server is None:
        raise InputError("give SERVER (with --username and a password option) or --from-file")
    validate_server(server)
    if not username:
        raise InputError("--username is required with SERVER")
    return [(server, username, password(), email)]


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
    from regcred.shells.host import open_host_root, restart_services  # lazy: node-file I/O, not for --help

    # lazy: node-file I/O, not for --help
    from regcred.shells.nodefiles import install_entries, kubelet_settings_for

    if overwrite and keep_existing:
        raise InputError("give only one of --overwrite and --keep-existing")
    if prune and from_file is None:
        raise InputError("--prune needs --from-file (the full list of registries regcred should keep)")
    wanted = wanted_entries(server, username, email, from_file,
                            lambda: resolve_password(password_stdin, password_env, password_literal))
    host = open_host_root(host_root)
    settings = kubelet_settings_for(host, root_dir)
    on_conflict = "overwrite" if overwrite else "keep" if keep_existing else "fail"
    result = install_entries(host, settings, wanted, location=location, runtime=runtime, on_conflict=on_conflict,
                             prune=prune, dry_run=dry_run, keep_backup=keep_backup)
    result["root_dir"] = settings.root_dir

    if not (quiet and is_quiet(result)):
        emit(result, output, install_table(result, settings))
    for warning in result["warnings"]:
        click.echo(f"warning: {warning}", err=True)
    if restart_kubelet and not dry_run:
        home = result["home"] or {}
        restart_services(host, ["kubelet"], daemon_reload=bool(home.get("daemon_reload") and home.get("changed")))
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
    from regcred.shells.host import open_host_root  # lazy: node-file I/O, not for --help

    # lazy: node-file I/O, not for --help
    from regcred.shells.nodefiles import kubelet_settings_for, remove_registry

    host = open_host_root(host_root)
    settings = kubelet_settings_for(host, root_dir)

    result = remove_registry(host, settings, server, location=location, runtime=runtime, dry_run=dry_run,
                             keep_backup=keep_backup)
    rt = result["runtime"]
    emit(result, output, remove_table(result, server))
    if not result["removed"] and not rt["changed"] and not ignore_not_found:
        places = " or ".join([result["path"]] + ([rt["config"]] if rt["config"] else []))
        raise OperationFailed(f"no entry for {server!r} in {places}", hint="see regcred node doctor")


def _register_subcommands() -> None:
    """doctor and daemonset live in their own modules (this one holds install and remove)."""
    node.add_command(doctor)
    node.add_command(daemonset)


_register_subcommands()

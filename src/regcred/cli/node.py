"""`regcred node`: the kubelet's node credential file, the runtime's own credentials, and a DaemonSet for all nodes.

The commands read and write a node's files through a host root (`/` by default, `/host` inside the
DaemonSet) and ask the pure core what the kubelet and the runtime will make of them.
"""

from __future__ import annotations

import contextlib
import posixpath
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from regcred.cli.options import output_option, password_options, resolve_password
from regcred.cli.output import emit
from regcred.core.errors import InputError, OperationFailed
from regcred.core.node import ownership, runtimes
from regcred.core.node import search as nodesearch

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


@click.group()
def node() -> None:
    """Install, check and remove the kubelet's node-level registry credentials (every pod on the node)."""


# --- install ------------------------------------------------------------------------------------------------


def wanted_entries(server: str | None, username: str | None, email: str, from_file: Path | None,
                   password: Callable[[], str]) -> list[tuple[str, str, str, str]]:
    """(key, username, password, email) to install, from --from-file or from the flags.

    `password` is asked for only once SERVER and --username are known to be right (no prompt for nothing).
    """
    from regcred.cli.auth import validate_server
    from regcred.core.credentials.dockerconfig import parse_config_json
    from regcred.shells.files import read_bytes

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


def _target(settings: Any, location: str) -> str:
    if location == "home":
        return posixpath.join(settings.home or settings.user_home, ".docker", "config.json")
    return posixpath.join(settings.root_dir, "config.json")


def kubelet_settings_for(host: Any, root_dir: str | None) -> Any:
    """The kubelet's settings as read from the node (unit, env files), with an explicit root dir winning.

    One place for "where does this node's kubelet read config.json": `node install`, `node remove` and
    the node level of `regcred apply` all ask here.
    """
    import dataclasses

    from regcred.shells.host import kubelet_settings

    settings = kubelet_settings(host)
    if root_dir:
        settings = dataclasses.replace(settings, root_dir=posixpath.normpath(root_dir), root_dir_source="--root-dir")
    return settings


def install_entries(
    host: Any, settings: Any, wanted: list[tuple[str, str, str, str]], *, location: str = "root-dir",
    runtime: str = "auto", on_conflict: str = "fail", prune: bool = False, dry_run: bool = False,
) -> dict[str, Any]:
    """Merge `wanted` into the node file (and the runtime's config); the DaemonSet's sync calls this each loop.

    Every file is planned before the first is written. The writes go inert-first: the runtime's config
    and the kubelet's environment (read only after a restart), then config.json (read live by the
    kubelet), then its ownership record. A failed write restores the files already written. `prune`
    applies to both config.json and the runtime's config.
    """
    from regcred.cli.node_runtime import plan_runtime, stage_writes
    from regcred.shells import credfile
    from regcred.shells.files import locked_directory

    target = _target(settings, location)
    path = host.path(target)
    record = target + ownership.OWNERSHIP_SUFFIX
    with locked_directory(path.parent) if not dry_run else contextlib.nullcontext():  # every file read under it
        runtime_result, runtime_writes = plan_runtime(host, runtime, wanted, target, on_conflict=on_conflict,
                                                      prune=prune)
        current = credfile.load_optional(path) or credfile.empty(path)
        owned = ownership.parse_ownership(host.read_text(record))
        plan = ownership.plan_install(current, wanted, owned, on_conflict=on_conflict, prune=prune)
        if plan.conflicts and on_conflict == "fail":
            raise InputError(
                f"{target}: {', '.join(map(repr, plan.conflicts))} already has other credentials; file left untouched",
                hint="--overwrite replaces them, --keep-existing leaves them",
            )
        home_change, home_write = (None, None) if location == "root-dir" else _plan_home(host, settings)
        backup = None
        if not dry_run:
            from regcred.core.credentials.dockerconfig import dumps_file
            from regcred.shells.filechanges import FileChanges

            changes = FileChanges()
            with _all_or_nothing(changes):
                stage_writes(changes, host, runtime_writes)
                if home_write is not None:
                    changes.write(host.path(home_write[0]), home_write[1].encode(), shown=home_write[0],
                                  mode=home_write[2])
                if plan.document is not None:
                    backup = changes.write(path, dumps_file(plan.document).encode(), shown=target, mode=0o600,
                                           backup=True)
                if plan.owned_changed or plan.document is not None:
                    if plan.owned:
                        changes.write(host.path(record), ownership.dumps_ownership(plan.owned).encode(),
                                      shown=record, mode=0o600)
                    else:
                        changes.remove(host.path(record, follow_last=False), shown=record)
    restart = ["kubelet"] if home_change else []
    restart.extend(runtime_result.pop("restart", []))
    return {
        "path": target,
        "added": plan.added,
        "replaced": plan.replaced,
        "kept": plan.kept,
        "removed": plan.removed,
        "skipped": plan.conflicts,
        "backup": host.node_path(backup) if backup else None,
        "changed": plan.document is not None,
        "home": home_change,
        "runtime": runtime_result,
        "restart_needed": restart,
        "dry_run": dry_run,
        "warnings": _shadow_warnings(host, settings, target) if location == "home" else [],
    }


class _all_or_nothing:
    """On a failed write, restore what `changes` wrote and raise one line saying what was and was not changed."""

    def __init__(self, changes: Any) -> None:
        self.changes = changes

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: Any, exc: Any, _tb: object) -> None:
        from regcred.core.errors import RegcredError
        from regcred.shells.filechanges import failed_line

        if isinstance(exc, RegcredError):
            raise failed_line(exc, self.changes, self.changes.rollback()) from None
        if isinstance(exc, OSError):
            error = OperationFailed(f"{getattr(exc, 'filename', None) or 'a file'}: {exc.strerror or exc}")
            raise failed_line(error, self.changes, self.changes.rollback()) from None


def _shadow_warnings(host: Any, settings: Any, target: str) -> list[str]:
    """The root dir and the working directory come first in the kubelet's search: a file there hides `target`."""
    cands = nodesearch.candidate_paths(settings.root_dir, settings.cwd, settings.home or settings.user_home)
    earlier = nodesearch.shadowing_file(cands, {c.path: host.state(c.path) for c in cands}, target)
    if not earlier:
        return []
    return [f"{earlier} parses and comes first in the kubelet's search, so the kubelet never reads {target}: "
            "remove it or install with --location root-dir"]


def _plan_home(host: Any, settings: Any) -> tuple[dict[str, Any] | None, tuple[str, str, int] | None]:
    """Make the kubelet's environment set HOME: kubeadm-flags.env when the unit reads it, else a drop-in."""
    from regcred.core.node import kubeletflags

    if settings.home:
        return None, None
    home = settings.user_home
    if kubeletflags.KUBEADM_FLAGS_ENV in settings.environment_files and host.exists(kubeletflags.KUBEADM_FLAGS_ENV):
        path = kubeletflags.KUBEADM_FLAGS_ENV
        new = kubeletflags.with_env_assignment(host.read_text(path), "HOME", home)
        mode = host.path(path).stat().st_mode & 0o777
    else:
        path = kubeletflags.REGCRED_HOME_DROPIN
        new = kubeletflags.home_dropin(home)
        new = None if host.read_text(path) == new else new
        mode = 0o644
    change = {"path": path, "set": f"HOME={home}", "changed": new is not None,
              "daemon_reload": path == kubeletflags.REGCRED_HOME_DROPIN}
    return change, (None if new is None else (path, new, mode))


def apply_runtime(host: Any, runtime: str, wanted: list[tuple[str, str, str, str]], auth_file: str,
                  *, on_conflict: str = "keep", prune: bool = False, dry_run: bool) -> dict[str, Any]:
    """The runtime's credentials on their own (`regcred apply`): its config and ownership record, all or nothing."""
    from regcred.cli.node_runtime import plan_runtime, stage_writes
    from regcred.shells.filechanges import FileChanges
    from regcred.shells.files import locked_directory

    if dry_run:
        return plan_runtime(host, runtime, wanted, auth_file, on_conflict=on_conflict, prune=prune)[0]
    # the kubelet's directory lock: `node install` (and the DaemonSet) edit the runtime config under it too
    with locked_directory(host.path(auth_file).parent):
        result, writes = plan_runtime(host, runtime, wanted, auth_file, on_conflict=on_conflict, prune=prune)
        changes = FileChanges()
        with _all_or_nothing(changes):
            stage_writes(changes, host, writes)
    return result


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
@click.option("--dry-run", is_flag=True, help="Show what would change; write nothing.")
@output_option("table", "json")
def install(server: str | None, from_file: Path | None, username: str | None, password_stdin: bool,
            password_env: str | None, password_literal: str | None, email: str, host_root: str, root_dir: str | None,
            location: str, runtime: str, overwrite: bool, keep_existing: bool, prune: bool, restart_kubelet: bool,
            dry_run: bool, output: str) -> None:
    """Merge registry credentials into the kubelet's node file, keeping every other entry."""
    from regcred.shells.host import open_host_root, restart_services

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
                             prune=prune, dry_run=dry_run)
    result["root_dir"] = settings.root_dir
    from regcred.cli.node_report import install_table

    emit(result, output, install_table(result, settings))
    for warning in result["warnings"]:
        click.echo(f"warning: {warning}", err=True)
    if restart_kubelet and not dry_run:
        home = result["home"] or {}
        restart_services(host, ["kubelet"], daemon_reload=bool(home.get("daemon_reload") and home.get("changed")))
        click.echo("restarted kubelet", err=True)


# --- remove -------------------------------------------------------------------------------------------------


def remove_registry(host: Any, settings: Any, server: str, *, location: str = "root-dir", runtime: str = "auto",
                    dry_run: bool = False) -> dict[str, Any]:
    """Remove SERVER's entry from the node file, the ownership record and the runtime's config (all or nothing)."""
    from regcred.cli.node_runtime import plan_runtime_removal, stage_writes
    from regcred.core.credentials.dockerconfig import dumps_file, without_entry
    from regcred.shells import credfile
    from regcred.shells.filechanges import FileChanges
    from regcred.shells.files import locked_directory

    target = _target(settings, location)
    path = host.path(target)
    record = target + ownership.OWNERSHIP_SUFFIX
    removed: list[str] = []
    backup = None
    with locked_directory(path.parent) if not dry_run and path.parent.exists() else contextlib.nullcontext():
        rt, runtime_writes = plan_runtime_removal(host, runtime, server)
        current = credfile.load_optional(path)
        if current is not None and current.get(server) is not None:
            removed.append(server)
        if not removed and not rt["changed"]:
            from regcred.cli.auth import validate_server

            validate_server(server)  # a key that is nowhere and could never be: bad input, not "not found"
        changes = FileChanges()
        if not dry_run:
            with _all_or_nothing(changes):
                stage_writes(changes, host, runtime_writes)
                if removed and current is not None:
                    backup = changes.write(path, dumps_file(without_entry(current, server)).encode(), shown=target,
                                           mode=0o600, backup=True)
                    owned = ownership.parse_ownership(host.read_text(record))
                    if owned.pop(server, None) is not None:
                        if owned:
                            changes.write(host.path(record), ownership.dumps_ownership(owned).encode(),
                                          shown=record, mode=0o600)
                        else:
                            changes.remove(host.path(record, follow_last=False), shown=record)
    restart = rt.pop("restart", [])
    return {"path": target, "removed": removed, "backup": host.node_path(backup) if backup else None,
            "runtime": rt, "restart_needed": restart, "dry_run": dry_run}


@node.command("remove")
@click.argument("server")
@placement_options
@click.option("--runtime", type=click.Choice(RUNTIME_CHOICES), default="auto", show_default=True,
              help="Also remove the runtime's credential for SERVER's host (auto: the runtime found).")
@click.option("--ignore-not-found", is_flag=True, help="Succeed when SERVER is found nowhere.")
@click.option("--dry-run", is_flag=True, help="Show what would change; write nothing.")
@output_option("table", "json")
def remove(server: str, host_root: str, root_dir: str | None, location: str, runtime: str, ignore_not_found: bool,
           dry_run: bool, output: str) -> None:
    """Remove SERVER's entry from every place `node install` writes to."""
    from regcred.shells.host import open_host_root

    host = open_host_root(host_root)
    settings = kubelet_settings_for(host, root_dir)
    from regcred.cli.node_report import remove_table

    result = remove_registry(host, settings, server, location=location, runtime=runtime, dry_run=dry_run)
    rt = result["runtime"]
    emit(result, output, remove_table(result, server))
    if not result["removed"] and not rt["changed"] and not ignore_not_found:
        places = " or ".join([result["path"]] + ([rt["config"]] if rt["config"] else []))
        raise OperationFailed(f"no entry for {server!r} in {places}", hint="see regcred node doctor")


def _register_subcommands() -> None:
    """doctor and daemonset live in their own modules (this one holds install and remove)."""
    from regcred.cli.node_daemonset import daemonset
    from regcred.cli.node_doctor import doctor

    node.add_command(doctor)
    node.add_command(daemonset)


_register_subcommands()

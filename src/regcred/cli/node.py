"""`regcred node`: the kubelet's node credential file, the runtime's own credentials, and a DaemonSet for all nodes.

The commands read and write a node's files through a host root (`/` by default, `/host` inside the
DaemonSet) and ask the pure core what the kubelet and the runtime will make of them.
"""

from __future__ import annotations

import posixpath
from pathlib import Path
from typing import Any

import click

from regcred.cli.options import output_option, password_options, resolve_password
from regcred.cli.output import emit
from regcred.core import nodesearch, runtimes
from regcred.core.errors import InputError, OperationFailed

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
                   password: str | None) -> list[tuple[str, str, str, str]]:
    """(key, username, password, email) to install, from --from-file or from the flags."""
    from regcred.cli.auth import validate_server
    from regcred.core.dockerconfig import parse_config_json
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
    assert password is not None
    return [(server, username, password, email)]


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
    """Merge `wanted` into the node file (and the runtime's config); the DaemonSet's sync calls this each loop."""
    from regcred.shells import credfile
    from regcred.shells.files import atomic_write, locked_directory

    target = _target(settings, location)
    path = host.path(target)
    record = target + nodesearch.OWNERSHIP_SUFFIX
    if not dry_run:  # a runtime config that cannot be edited refuses the install before any file is written
        apply_runtime(host, runtime, wanted, target, dry_run=True)
    lock = locked_directory(path.parent) if not dry_run else _NoLock()
    with lock:
        current = credfile.load_optional(path) or credfile.empty(path)
        owned = nodesearch.parse_ownership(host.read_text(record))
        plan = nodesearch.plan_install(current, wanted, owned, on_conflict=on_conflict, prune=prune)
        if plan.conflicts and on_conflict == "fail":
            raise InputError(
                f"{target}: {', '.join(map(repr, plan.conflicts))} already has other credentials; file left untouched",
                hint="--overwrite replaces them, --keep-existing leaves them",
            )
        backup = None
        if plan.document is not None and not dry_run:
            from regcred.core.dockerconfig import dumps_file

            backup = atomic_write(path, dumps_file(plan.document).encode(), backup=True)
        if (plan.owned_changed or plan.document is not None) and not dry_run:
            if plan.owned:
                atomic_write(host.path(record), nodesearch.dumps_ownership(plan.owned).encode())
            else:
                host.remove(record)
    restart: list[str] = []
    home_change = None if location == "root-dir" else _ensure_home(host, settings, dry_run=dry_run)
    if home_change:
        restart.append("kubelet")
    runtime_result = apply_runtime(host, runtime, wanted, target, dry_run=dry_run)
    restart.extend(runtime_result.pop("restart", []))
    return {
        "path": target,
        "added": plan.added,
        "replaced": plan.replaced,
        "kept": plan.kept,
        "removed": plan.removed,
        "skipped": plan.conflicts,
        "backup": str(Path(target).parent / backup.name) if backup else None,
        "changed": plan.document is not None,
        "home": home_change,
        "runtime": runtime_result,
        "restart_needed": restart,
        "dry_run": dry_run,
    }


class _NoLock:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def _ensure_home(host: Any, settings: Any, *, dry_run: bool) -> dict[str, Any] | None:
    """Make the kubelet's environment set HOME: kubeadm-flags.env when the unit reads it, else a drop-in."""
    from regcred.core import kubeletflags

    if settings.home:
        return None
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
    if new is not None and not dry_run:
        host.write(path, new, mode=mode)
    return {"path": path, "set": f"HOME={home}", "changed": new is not None,
            "daemon_reload": path == kubeletflags.REGCRED_HOME_DROPIN}


def apply_runtime(host: Any, runtime: str, wanted: list[tuple[str, str, str, str]], auth_file: str,
                  *, dry_run: bool) -> dict[str, Any]:
    """Give the runtime the credentials it needs for the sandbox image (auto) or for every registry (named)."""
    from regcred.shells.host import detect_runtime, runtime_facts

    name = detect_runtime(host) if runtime == "auto" else (None if runtime == "none" else runtime)
    result: dict[str, Any] = {"name": name, "config": None, "hosts": [], "changed": False, "notes": []}
    if name is None:
        if runtime == "auto":
            result["notes"].append("no container runtime found under the host root")
        return result
    facts = runtime_facts(host, name)
    creds = [runtimes.HostCredential(h, u, p) for k, u, p, _ in wanted if (h := runtimes.runtime_host(k))]
    if runtime == "auto":
        sandbox_host = runtimes.image_host(facts.sandbox_image) if facts.sandbox_image else None
        creds = [c for c in creds if c.host == sandbox_host]
        if not creds:
            result["notes"].append(
                f"{name}: the sandbox image {facts.sandbox_image or '(runtime default)'} is not on these registries; "
                "runtime config left as is (name the runtime with --runtime to give it every registry)"
            )
            return result
    result["hosts"] = sorted({c.host for c in creds})
    if name == runtimes.CRIO:
        path, new = _crio_change(host, facts, auth_file, result)
        mode = 0o644
    elif name == runtimes.CONTAINERD:
        path = runtimes.CONTAINERD_CONFIG
        new = runtimes.containerd_with_auth(host.read_text(path), creds)
        result["notes"].append(runtimes.CONTAINERD_DEPRECATION)
        mode = 0o600
    else:
        path = runtimes.REGISTRIES_YAML[name]
        new = runtimes.registries_yaml_with_auth(host.read_text(path), creds, name)
        mode = 0o600
    result["config"] = path
    if new is not None:
        result["changed"] = True
        result["restart"] = [runtimes.SERVICE[name]]
        if not dry_run:
            host.write(path, new, mode=mode, backup=host.exists(path))
    return result


def _crio_change(host: Any, facts: runtimes.RuntimeFacts, auth_file: str, result: dict[str, Any]) -> tuple[str, str | None]:
    path = runtimes.CRIO_DROPIN
    if facts.auth_file == auth_file:
        return path, None
    if facts.auth_file and host.read_text(path) is None:
        result["notes"].append(
            f"crio already uses auth file {facts.auth_file}; not changed (put the credentials there or remove that setting)"
        )
        return path, None
    return path, runtimes.crio_dropin(auth_file)


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
    password = None
    if from_file is None:
        if server is None:
            raise InputError("give SERVER (with --username and a password option) or --from-file")
        password = resolve_password(password_stdin, password_env, password_literal)
    wanted = wanted_entries(server, username, email, from_file, password)
    host = open_host_root(host_root)
    settings = kubelet_settings_for(host, root_dir)
    on_conflict = "overwrite" if overwrite else "keep" if keep_existing else "fail"
    result = install_entries(host, settings, wanted, location=location, runtime=runtime, on_conflict=on_conflict,
                             prune=prune, dry_run=dry_run)
    result["root_dir"] = settings.root_dir
    emit(result, output, _install_table(result, settings))
    if location == "home":  # the root dir and the working directory come first in the kubelet's search
        cands = nodesearch.candidate_paths(settings.root_dir, settings.cwd, settings.home or settings.user_home)
        earlier = nodesearch.shadowing_file(cands, {c.path: host.state(c.path) for c in cands}, result["path"])
        if earlier:
            click.echo(f"warning: {earlier} parses and comes first in the kubelet's search, so the kubelet never "
                       f"reads {result['path']}: remove it or install with --location root-dir", err=True)
    if restart_kubelet and not dry_run:
        home = result["home"] or {}
        restart_services(host, ["kubelet"], daemon_reload=bool(home.get("daemon_reload") and home.get("changed")))
        click.echo("restarted kubelet", err=True)


def _install_table(result: dict[str, Any], settings: Any) -> str:
    verb = "would be " if result["dry_run"] else ""
    lines = [f"{result['path']}  (kubelet root dir {settings.root_dir}, from {settings.root_dir_source})"]
    for label in ("added", "replaced", "removed", "skipped"):
        for key in result[label]:
            lines.append(f"  {verb}{label:<9} {key}" if label != "skipped" else
                         f"  skipped   {key} (has other credentials, left as is)")
    if result["kept"]:
        lines.append(f"  kept      {len(result['kept'])} entr{'y' if len(result['kept']) == 1 else 'ies'} unchanged")
    if not result["changed"]:
        lines.append("  no change to the file")
    if result["backup"]:
        lines.append(f"backup of the previous file: {result['backup']}")
    if result["home"] and result["home"]["changed"]:
        lines.append(f"{verb}set {result['home']['set']} in {result['home']['path']}")
    rt = result["runtime"]
    if rt["name"] and rt["config"]:
        state = "updated" if rt["changed"] else "already up to date"
        lines.append(f"runtime {rt['name']}: {rt['config']} {verb}{state} for {', '.join(rt['hosts'])}")
    lines.extend(f"note: {n}" for n in rt["notes"])
    if result["restart_needed"]:
        lines.append(f"restart needed: {', '.join(result['restart_needed'])}")
    elif result["changed"]:
        lines.append("the kubelet re-reads this file within 5 minutes; no restart needed")
    return "\n".join(lines)


# --- remove -------------------------------------------------------------------------------------------------


def remove_registry(host: Any, settings: Any, server: str, *, location: str = "root-dir", runtime: str = "auto",
                    dry_run: bool = False) -> dict[str, Any]:
    """Remove SERVER's entry from the node file, the ownership record and the runtime's config."""
    from regcred.core.dockerconfig import dumps_file, without_entry
    from regcred.shells import credfile
    from regcred.shells.files import atomic_write, locked_directory
    from regcred.shells.host import detect_runtime

    target = _target(settings, location)
    path = host.path(target)
    record = target + nodesearch.OWNERSHIP_SUFFIX
    removed: list[str] = []
    backup = None
    # The runtime edit is computed first: when it is refused, no file has been written yet.
    name = detect_runtime(host) if runtime == "auto" else (None if runtime == "none" else runtime)
    rt: dict[str, Any] = {"name": name, "config": None, "hosts": [], "changed": False, "notes": []}
    restart: list[str] = []
    run_host = runtimes.runtime_host(server)
    runtime_edit: tuple[str, str] | None = None
    if name in (runtimes.CONTAINERD, runtimes.K3S, runtimes.RKE2) and run_host:
        cfg = runtimes.CONTAINERD_CONFIG if name == runtimes.CONTAINERD else runtimes.REGISTRIES_YAML[name]
        text = host.read_text(cfg)
        new = (runtimes.containerd_without_auth(text, [run_host]) if name == runtimes.CONTAINERD
               else runtimes.registries_yaml_without_auth(text, [run_host], name))
        rt.update(config=cfg, hosts=[run_host], changed=new is not None)
        if new is not None:
            restart.append(runtimes.SERVICE[name])
            runtime_edit = (cfg, new)
    with locked_directory(path.parent) if not dry_run and path.parent.exists() else _NoLock():
        current = credfile.load_optional(path)
        if current is not None and current.get(server) is not None:
            removed.append(server)
            if not dry_run:
                backup = atomic_write(path, dumps_file(without_entry(current, server)).encode(), backup=True)
                owned = nodesearch.parse_ownership(host.read_text(record))
                if owned.pop(server, None) is not None:
                    if owned:
                        atomic_write(host.path(record), nodesearch.dumps_ownership(owned).encode())
                    else:
                        host.remove(record)
    if runtime_edit is not None and not dry_run:
        cfg, new = runtime_edit
        host.write(cfg, new, mode=host.path(cfg).stat().st_mode & 0o777, backup=True)
    if name == runtimes.CRIO:
        rt["notes"].append("crio reads the kubelet's file through global_auth_file: nothing else to remove")
    return {"path": target, "removed": removed, "backup": str(Path(target).parent / backup.name) if backup else None,
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
    result = remove_registry(host, settings, server, location=location, runtime=runtime, dry_run=dry_run)
    verb = "would remove" if dry_run else "removed"
    lines = [f"{verb} {server} from {result['path']}" if result["removed"] else f"no entry for {server} in {result['path']}"]
    rt = result["runtime"]
    if rt["changed"]:
        lines.append(f"{verb} the {rt['name']} credential for {', '.join(rt['hosts'])} from {rt['config']}")
    lines.extend(f"note: {n}" for n in rt["notes"])
    if result["restart_needed"]:
        lines.append(f"restart needed: {', '.join(result['restart_needed'])}")
    emit(result, output, "\n".join(lines))
    if not result["removed"] and not rt["changed"] and not ignore_not_found:
        raise OperationFailed(f"{server!r} was found in no credential file", hint="see regcred node doctor")


def _register_subcommands() -> None:
    """doctor and daemonset live in their own modules (this one holds install and remove)."""
    from regcred.cli.node_daemonset import daemonset
    from regcred.cli.node_doctor import doctor

    node.add_command(doctor)
    node.add_command(daemonset)


_register_subcommands()

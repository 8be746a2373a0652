"""The node level: install and remove registry credentials in the kubelet's node file and the runtime's config.

The node is reached through a host root (`/`, or `/host` inside the DaemonSet); the file transaction (plan
every file, write inert-first, restore on failure) is `shells.nodefiles`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from regcred.core.errors import InputError

Entry = tuple[str, str, str, str]  # (key, username, password, email)


@dataclass(frozen=True, slots=True)
class NodePlacement:
    """Where the node's credential file is: the host root, the kubelet's --root-dir (None: read its flags), and
    root-dir (<root-dir>/config.json) or home ($HOME/.docker/config.json of the kubelet's user)."""

    host_root: str = "/"
    root_dir: str | None = None
    location: str = "root-dir"


def entries_to_install(server: str | None, username: str | None, email: str, from_file: Path | None,
                       password: Callable[[], str]) -> list[Entry]:
    """(key, username, password, email) to install, from a config.json file or from SERVER and a user.

    `password` is asked for only once SERVER and the user name are known to be right (no prompt for nothing).
    """
    from regcred.core.credentials.dockerconfig import parse_config_json
    from regcred.core.credentials.registrykey import validate_server
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


def install_node_credentials(placement: NodePlacement, wanted: list[Entry], *, runtime: str, on_conflict: str,
                             prune: bool, dry_run: bool, keep_backup: bool = False) -> tuple[dict[str, Any], Any]:
    """Merge `wanted` into the node file (and the runtime's config), keeping every other entry.

    Returns the result (the JSON of `node install -o json`, with `root_dir`) and the kubelet settings found.
    """
    from regcred.shells.host import open_host_root
    from regcred.shells.nodefiles import install_entries, kubelet_settings_for

    host = open_host_root(placement.host_root)
    settings = kubelet_settings_for(host, placement.root_dir)
    result = install_entries(host, settings, wanted, location=placement.location, runtime=runtime,
                             on_conflict=on_conflict, prune=prune, dry_run=dry_run, keep_backup=keep_backup)
    result["root_dir"] = settings.root_dir
    return result, settings


def restart_kubelet(placement: NodePlacement, installed: dict[str, Any]) -> None:
    """Restart the kubelet through systemd (with a daemon-reload when the install changed its environment)."""
    from regcred.shells.host import open_host_root, restart_services

    home = installed["home"] or {}
    restart_services(open_host_root(placement.host_root), ["kubelet"],
                     daemon_reload=bool(home.get("daemon_reload") and home.get("changed")))


def remove_node_credentials(placement: NodePlacement, server: str, *, runtime: str, dry_run: bool,
                            keep_backup: bool = False) -> dict[str, Any]:
    """Remove SERVER's entry from every place `install_node_credentials` writes to."""
    from regcred.shells.host import open_host_root
    from regcred.shells.nodefiles import kubelet_settings_for, remove_registry

    host = open_host_root(placement.host_root)
    settings = kubelet_settings_for(host, placement.root_dir)
    return remove_registry(host, settings, server, location=placement.location, runtime=runtime, dry_run=dry_run,
                           keep_backup=keep_backup)

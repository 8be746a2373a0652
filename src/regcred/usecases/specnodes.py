"""The node level of a RegistryCredential, through `regcred node install`'s own merge.

plan = what `node install --prune --keep-existing --dry-run` would change under --host-root; apply = the same
without --dry-run. Entries another writer put in config.json for the same registry are kept and shown as
conflicts; entries regcred installed before and the specs no longer list are pruned (ownership record).
Every runtime a spec lists (`nodes.runtimes`) gets the credentials of that spec's registries in its own
config, one change per runtime config file (the runtime reads it at start: a restart is needed). A registry
host regcred gave a runtime earlier and no spec lists for it any more (dropped registry, runtime taken out of
`nodes.runtimes`) loses its auth there, while it is still what regcred wrote (the runtime's ownership record).
"""

from __future__ import annotations

import posixpath
from collections.abc import Sequence
from typing import Any

from regcred.core.spec.planner import Change, DesiredCredential
from regcred.usecases.rows import RowStatus, TargetResult

Entry = tuple[str, str, str, str]  # (key, username, password, email)


def _add(entries: list[Entry], d: DesiredCredential) -> None:
    keys = {e[0] for e in entries}
    entries += [(e.key, e.username, e.password, e.email) for e in d.config.entries if e.key not in keys]


def _file_groups(desired: Sequence[DesiredCredential]) -> dict[str, list[Entry]]:
    """rootDir -> the entries every spec with nodes enabled wants in `<rootDir>/config.json`."""
    groups: dict[str, list[Entry]] = {}
    for d in desired:
        if d.spec.nodes.enabled:
            _add(groups.setdefault(d.spec.nodes.root_dir, []), d)
    return groups


def _runtime_groups(desired: Sequence[DesiredCredential], host_root: str) -> dict[str, tuple[str, list[Entry]]]:
    """runtime -> (rootDir of the first spec naming it, entries of every spec naming it).

    A runtime no spec names but whose config holds auth regcred wrote (its ownership record), or CRI-O
    with regcred's drop-in, is in the list with no entries: what regcred wrote there is pruned.
    """
    from regcred.core.node import runtimes
    from regcred.core.node.ownership import OWNERSHIP_SUFFIX, parse_ownership
    from regcred.shells.host import open_host_root

    groups: dict[str, tuple[str, list[Entry]]] = {}
    for d in desired:
        if not d.spec.nodes.enabled:
            continue
        for runtime in dict.fromkeys(d.spec.nodes.runtimes):
            _add(groups.setdefault(runtime, (d.spec.nodes.root_dir, []))[1], d)
    host = open_host_root(host_root)
    for runtime in (runtimes.CONTAINERD, runtimes.K3S, runtimes.RKE2):
        if runtime not in groups and parse_ownership(host.read_text(runtimes.config_path(runtime) + OWNERSHIP_SUFFIX)):
            groups[runtime] = (_default_root_dir(desired), [])
    if runtimes.CRIO not in groups and host.exists(runtimes.CRIO_DROPIN):  # regcred's own drop-in
        groups[runtimes.CRIO] = (_default_root_dir(desired), [])
    return groups


def _default_root_dir(desired: Sequence[DesiredCredential]) -> str:
    from regcred.core.node.kubeletflags import DEFAULT_ROOT_DIR

    return next((d.spec.nodes.root_dir for d in desired if d.spec.nodes.enabled), DEFAULT_ROOT_DIR)


def _host_and_settings(host_root: str, root_dir: str) -> tuple[Any, Any]:
    from regcred.shells.host import open_host_root
    from regcred.shells.nodefiles import kubelet_settings_for

    host = open_host_root(host_root)
    return host, kubelet_settings_for(host, root_dir)


def _install(host_root: str, root_dir: str, wanted: list[Entry], *, dry_run: bool) -> dict[str, Any]:
    """The kubelet's file only (runtime "none"): each runtime is its own change."""
    from regcred.shells.nodefiles import install_entries

    host, settings = _host_and_settings(host_root, root_dir)
    return install_entries(host, settings, wanted, runtime="none", on_conflict="keep", prune=True, dry_run=dry_run)


def _runtime(host_root: str, runtime: str, root_dir: str, wanted: list[Entry], *, dry_run: bool) -> dict[str, Any]:
    """Give one named runtime every registry of the specs naming it (CRI-O: point it at the kubelet's file)."""
    from regcred.shells.nodefiles import apply_runtime

    host, settings = _host_and_settings(host_root, root_dir)
    auth_file = posixpath.join(settings.root_dir, "config.json")
    return apply_runtime(host, runtime, wanted, auth_file, prune=True, dry_run=dry_run)


def _restart_note(result: dict[str, Any]) -> str:
    services = result.get("restart") or []
    return f"restart {', '.join(services)} on the node to load it" if services else ""


def plan_nodes(desired: Sequence[DesiredCredential], host_root: str) -> list[Change]:
    """Node changes for the node mounted at host_root: config.json, then each runtime's config (nothing written)."""
    from regcred.core.node.runtimes import CONTAINERD_DEPRECATION

    changes: list[Change] = []
    owners = ",".join(sorted(d.spec.name for d in desired if d.spec.nodes.enabled))
    for root_dir, wanted in sorted(_file_groups(desired).items()):
        result = _install(host_root, root_dir, wanted, dry_run=True)
        path = str(result["path"])
        if result["changed"]:
            changes.append(Change("Node", "update", "", path, owners, added=tuple(result["added"]),
                                  removed=tuple(result["removed"]), updated=tuple(result["replaced"]),
                                  obj={"rootDir": root_dir, "wanted": wanted}))
        for key in result["skipped"]:
            changes.append(Change("Node", "conflict", "", path, owners, reason=f"{key!r} has other credentials "
                                  "written by someone else: left as is"))
    for runtime, (root_dir, wanted) in _runtime_groups(desired, host_root).items():
        result = _runtime(host_root, runtime, root_dir, wanted, dry_run=True)
        path = str(result["config"] or runtime)
        if result["changed"]:
            changes.append(Change("Node", "update", "", path, owners, added=tuple(result["added"]),
                                  updated=tuple(result["replaced"]), removed=tuple(result["removed"]),
                                  reason=f"runtime {runtime}: {_restart_note(result)}",
                                  obj={"rootDir": root_dir, "wanted": wanted, "runtime": runtime}))
        else:
            changes += [Change("Node", "conflict", "", path, owners, reason=f"runtime {runtime}: {note}")
                        for note in result["notes"] if note != CONTAINERD_DEPRECATION]
        changes += [Change("Node", "conflict", "", path, owners, reason=f"runtime {runtime}: {host!r} has other "
                           "auth written by someone else: left as is") for host in result["skipped"]]
    return changes


def apply_nodes(changes: Sequence[Change], host_root: str, *, dry_run: bool) -> list[TargetResult]:
    """Write the node files the plan said would change (the merge runs again, under the file lock)."""
    from regcred.core.errors import RegcredError

    rows: list[TargetResult] = []
    status = RowStatus.WOULD_UPDATE if dry_run else RowStatus.UPDATED
    for change in changes:
        if change.action != "update" or change.obj is None:
            continue
        root_dir, wanted = str(change.obj["rootDir"]), list(change.obj["wanted"])
        runtime = change.obj.get("runtime")
        try:  # planned afresh: another writer's entry is never dropped
            if runtime is None:
                result = _install(host_root, root_dir, wanted, dry_run=dry_run)
            else:
                result = _runtime(host_root, str(runtime), root_dir, wanted, dry_run=dry_run)
        except RegcredError as exc:
            rows.append(TargetResult("(node)", change.name, RowStatus.FAILED, exc.line()))
            continue
        if runtime is None:
            summary = " ".join([*(f"+{k}" for k in result["added"]), *(f"~{k}" for k in result["replaced"]),
                                *(f"-{k}" for k in result["removed"])])
        elif not result["changed"]:
            rows.append(TargetResult("(node)", change.name, RowStatus.SKIPPED, f"{runtime}: already up to date"))
            continue
        else:
            hosts = [*(f"+{h}" for h in result["added"]), *(f"~{h}" for h in result["replaced"]),
                     *(f"-{h}" for h in result["removed"])]
            summary = f"{runtime}: {' '.join(hosts)}; {_restart_note(result)}"
        rows.append(TargetResult("(node)", change.name, status, summary))
    return rows

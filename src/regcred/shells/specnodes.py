"""The node level of a RegistryCredential, through `regcred node install`'s own merge (issue 3's machinery).

plan = what `node install --prune --keep-existing --dry-run` would change under --host-root; apply = the same
without --dry-run. Entries another writer put in config.json for the same registry are kept and shown as
conflicts; entries regcred installed before and the specs no longer list are pruned (ownership record).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from regcred.cli.clusteropts import TargetResult
from regcred.core.planner import Change, DesiredCredential


def _wanted(desired: Sequence[DesiredCredential]) -> dict[tuple[str, str], list[tuple[str, str, str, str]]]:
    """(rootDir, runtime) -> (key, username, password, email) for every spec with nodes enabled."""
    groups: dict[tuple[str, str], list[tuple[str, str, str, str]]] = {}
    for d in desired:
        if not d.spec.nodes.enabled:
            continue
        runtime = d.spec.nodes.runtimes[0] if d.spec.nodes.runtimes else "none"
        entries = groups.setdefault((d.spec.nodes.root_dir, runtime), [])
        entries += [(e.key, e.username, e.password, e.email) for e in d.config.entries
                    if e.key not in {w[0] for w in entries}]
    return groups


def _install(host_root: str, root_dir: str, runtime: str, wanted: list[tuple[str, str, str, str]],
             *, dry_run: bool) -> dict[str, Any]:
    from regcred.cli.node import _settings, install_entries
    from regcred.shells.host import open_host_root

    host = open_host_root(host_root)
    settings = _settings(host, root_dir)
    return install_entries(host, settings, wanted, runtime=runtime, on_conflict="keep", prune=True,
                           dry_run=dry_run)


def plan_nodes(desired: Sequence[DesiredCredential], host_root: str) -> list[Change]:
    """Node changes for the node mounted at host_root (nothing is written)."""
    changes: list[Change] = []
    owners = ",".join(sorted(d.spec.name for d in desired if d.spec.nodes.enabled))
    for (root_dir, runtime), wanted in sorted(_wanted(desired).items()):
        result = _install(host_root, root_dir, runtime, wanted, dry_run=True)
        path = str(result["path"])
        if result["changed"]:
            changes.append(Change("Node", "update", "", path, owners, added=tuple(result["added"]),
                                  removed=tuple(result["removed"]), updated=tuple(result["replaced"]),
                                  obj={"rootDir": root_dir, "runtime": runtime, "wanted": wanted}))
        for key in result["skipped"]:
            changes.append(Change("Node", "conflict", "", path, owners, reason=f"{key!r} has other credentials "
                                  "written by someone else: left as is"))
    return changes


def apply_nodes(changes: Sequence[Change], host_root: str, *, dry_run: bool) -> list[TargetResult]:
    """Write the node files the plan said would change (the merge runs again under the file lock)."""
    from regcred.core.errors import RegcredError

    rows: list[TargetResult] = []
    for change in changes:
        if change.action != "update" or change.obj is None:
            continue
        try:  # the merge runs again under the file lock: another writer's entry is never dropped
            result = _install(host_root, str(change.obj["rootDir"]), str(change.obj["runtime"]),
                              list(change.obj["wanted"]), dry_run=dry_run)
        except RegcredError as exc:
            rows.append(TargetResult("(node)", change.name, "failed", exc.line()))
            continue
        summary = " ".join([*(f"+{k}" for k in result["added"]), *(f"~{k}" for k in result["replaced"]),
                            *(f"-{k}" for k in result["removed"])])
        rows.append(TargetResult("(node)", change.name, "would-update" if dry_run else "updated", summary))
    return rows

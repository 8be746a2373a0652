"""The node's credential files, read-modify-write: config.json, its ownership record, the kubelet's HOME, the
runtime's config — every file planned before the first is written, all written or none (shells/filechanges).

`regcred node install/remove`, the node DaemonSet's sync loop and the node level of `regcred apply` all go
through here.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import posixpath
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from regcred.core.credentials.dockerconfig import dumps_file, raw_entries, without_entry
from regcred.core.credentials.registrykey import validate_server
from regcred.core.errors import InputError, OperationFailed, RegcredError
from regcred.core.node import kubeletflags, ownership
from regcred.core.node import search as nodesearch
from regcred.shells import credfile
from regcred.shells.filechanges import FileChanges, failed_line
from regcred.shells.files import locked_directory
from regcred.shells.host import kubelet_settings
from regcred.shells.noderuntime import (
    NodeWrite,
    paired_writes,
    plan_runtime,
    plan_runtime_removal,
    stage_writes,
)

_P = ParamSpec("_P")
_R = TypeVar("_R")


def in_node_terms(func: Callable[_P, _R]) -> Callable[_P, _R]:
    """Errors from any layer below name files the node's way (HostRoot.in_node_terms), never half host-side."""

    @functools.wraps(func)
    def run(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        try:
            return func(*args, **kwargs)
        except RegcredError as exc:
            exc.message = args[0].in_node_terms(exc.message)  # type: ignore[attr-defined]  # the host comes first
            raise

    return run


def _target(settings: Any, location: str) -> str:
    if location == "home":
        return posixpath.join(settings.home or settings.user_home, ".docker", "config.json")
    return posixpath.join(settings.root_dir, "config.json")


def kubelet_settings_for(host: Any, root_dir: str | None) -> Any:
    """The kubelet's settings as read from the node (unit, env files), with an explicit root dir winning.

    One place for "where does this node's kubelet read config.json": `node install`, `node remove` and
    the node level of `regcred apply` all ask here.
    """
    if root_dir is not None and not root_dir.startswith("/"):
        raise InputError(f"--root-dir {root_dir!r}: not an absolute path",
                         hint="give the kubelet's --root-dir as the node sees it, e.g. /var/lib/kubelet")
    settings = kubelet_settings(host)
    if root_dir:
        settings = dataclasses.replace(settings, root_dir=posixpath.normpath(root_dir), root_dir_source="--root-dir")
    return settings


@in_node_terms
def install_entries(
    host: Any, settings: Any, wanted: list[tuple[str, str, str, str]], *, location: str = "root-dir",
    runtime: str = "auto", on_conflict: str = "fail", prune: bool = False, dry_run: bool = False,
    keep_backup: bool = False,
) -> dict[str, Any]:
    """Merge `wanted` into the node file (and the runtime's config); the DaemonSet's sync calls this each loop.

    Every file is planned before the first is written. The writes go inert-first: the runtime's config
    and the kubelet's environment (read only after a restart), then config.json (read live by the
    kubelet); each config between its ownership record's two steps (crash-safe pairs). A failed write
    restores the files already written. `prune` applies to both config.json and the runtime's config.
    `keep_backup` keeps the previous content as `NAME.regcred-bak`; without it an old one goes.
    """
    target = _target(settings, location)
    path = host.path(target)
    record = target + ownership.OWNERSHIP_SUFFIX
    with locked_directory(path.parent) if not dry_run else contextlib.nullcontext():  # every file read under it
        runtime_result, runtime_writes = plan_runtime(host, runtime, wanted, target, on_conflict=on_conflict,
                                                      prune=prune)
        current = credfile.load_optional(path) or credfile.empty(path)
        on_disk = ownership.read_record(host.read_text(record))
        owned = on_disk.settled(raw_entries(current))
        plan = ownership.plan_install(current, wanted, owned, on_conflict=on_conflict, prune=prune)
        if plan.conflicts and on_conflict == "fail":
            raise InputError(
                f"{target}: {', '.join(map(repr, plan.conflicts))} already has other credentials; file left untouched",
                hint="--overwrite replaces them, --keep-existing leaves them",
            )
        home_change, home_write = (None, None) if location == "root-dir" else _plan_home(host, settings)
        backup = None
        if not dry_run:
            changes = FileChanges()
            with AllOrNothing(changes):
                stage_writes(changes, host, runtime_writes, keep_backup=keep_backup)
                if home_write is not None:
                    changes.write(host.path(home_write[0]), home_write[1].encode(), shown=home_write[0],
                                  mode=home_write[2])
                file = None if plan.document is None else _config_json(host, target, dumps_file(plan.document))
                writes = paired_writes(target, file, on_disk, owned, plan.owned)
                backup = stage_writes(changes, host, writes, keep_backup=keep_backup).get(target)
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


def _config_json(host: Any, target: str, text: str) -> Any:
    """config.json's planned write: its owner bits kept (credfile.credential_mode), a backup allowed."""
    return NodeWrite(target, text, credfile.credential_mode(host.path(target)), True)


class AllOrNothing:
    """On a failed write, restore what `changes` wrote and raise one line saying what was and was not changed."""

    def __init__(self, changes: Any) -> None:
        self.changes = changes

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: Any, exc: Any, _tb: object) -> None:
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


@in_node_terms
def apply_runtime(host: Any, runtime: str, wanted: list[tuple[str, str, str, str]], auth_file: str,
                  *, on_conflict: str = "keep", prune: bool = False, dry_run: bool) -> dict[str, Any]:
    """The runtime's credentials on their own (`regcred apply`): its config and ownership record, all or nothing."""
    if dry_run:
        return plan_runtime(host, runtime, wanted, auth_file, on_conflict=on_conflict, prune=prune)[0]
    # the kubelet's directory lock: `node install` (and the DaemonSet) edit the runtime config under it too
    with locked_directory(host.path(auth_file).parent):
        result, writes = plan_runtime(host, runtime, wanted, auth_file, on_conflict=on_conflict, prune=prune)
        changes = FileChanges()
        with AllOrNothing(changes):
            stage_writes(changes, host, writes)
    return result


@in_node_terms
def remove_registry(host: Any, settings: Any, server: str, *, location: str = "root-dir", runtime: str = "auto",
                    dry_run: bool = False, keep_backup: bool = False) -> dict[str, Any]:
    """Remove SERVER's entry from the node file, the ownership record and the runtime's config (all or nothing).

    Removal removes: no backup keeps the credential unless `keep_backup` asks for one.
    """
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
            validate_server(server)  # a key that is nowhere and could never be: bad input, not "not found"
        changes = FileChanges()
        if not dry_run:
            with AllOrNothing(changes):
                stage_writes(changes, host, runtime_writes, keep_backup=keep_backup)
                if removed and current is not None:
                    on_disk = ownership.read_record(host.read_text(record))
                    settled = on_disk.settled(raw_entries(current))  # an interrupted write's entries stay ours
                    owned = {k: fp for k, fp in settled.items() if k != server}
                    file = _config_json(host, target, dumps_file(without_entry(current, server)))
                    writes = paired_writes(target, file, on_disk, settled, owned)
                    backup = stage_writes(changes, host, writes, keep_backup=keep_backup).get(target)
    restart = rt.pop("restart", [])
    return {"path": target, "removed": removed, "backup": host.node_path(backup) if backup else None,
            "runtime": rt, "restart_needed": restart, "dry_run": dry_run}

"""The kubelet's credential-provider config and flags on a node, read-modify-write (`regcred node provider`).

Every file is planned before the first is written, then written all or nothing (shells/filechanges): the
config file between its ownership record's two steps (`<config>.regcred-owned`: provider name ->
fingerprint of the entry regcred wrote, ownership.record_steps), then the file that carries the kubelet's
flags. The kubelet reads both only at start: nothing takes effect before a restart, so a run killed between
two renames never leaves a kubelet half configured.
"""

from __future__ import annotations

import contextlib
import posixpath
import stat
from dataclasses import dataclass
from typing import Any

from regcred.core.errors import ConfigFormatError, InputError
from regcred.core.node import credproviders as cp
from regcred.core.node import flagsources, ownership
from regcred.shells.filechanges import FileChanges
from regcred.shells.files import locked_directory
from regcred.shells.host import HostRoot, kubelet_sources, open_host_root
from regcred.shells.nodefiles import AllOrNothing, in_node_terms
from regcred.shells.noderuntime import NodeWrite, paired_writes, stage_writes

__all__ = ["install_provider", "open_host_root", "provider_report", "remove_provider"]

REGCRED_FILE = "regcred.yaml"  # regcred's file inside a config *directory*


@dataclass(frozen=True, slots=True)
class ProviderSetup:
    """What the kubelet is (or would be) started with: flag values, where they come from, the parsed configs."""

    config: str | None
    config_source: str | None
    bin_dir: str | None
    bin_dir_source: str | None
    unit: Any
    env_files: list[tuple[str, str | None]]


def read_setup(host: HostRoot) -> ProviderSetup:
    unit, env_files = kubelet_sources(host)
    found = flagsources.flag_sources(unit, env_files, [cp.CONFIG_FLAG, cp.BIN_DIR_FLAG])
    (config, config_src), (bin_dir, bin_src) = found[cp.CONFIG_FLAG], found[cp.BIN_DIR_FLAG]
    return ProviderSetup(config, config_src, bin_dir, bin_src, unit, env_files)


def config_files(host: HostRoot, config: str) -> list[str]:
    """The files the kubelet reads for `--image-credential-provider-config` (a file, or a directory's files)."""
    if host.path(config).is_dir():
        return [posixpath.join(config, n) for n in host.listdir(config) if n.endswith(cp.CONFIG_SUFFIXES)
                and not host.path(posixpath.join(config, n)).is_dir()]
    return [config]


def load_configs(host: HostRoot, files: list[str]) -> list[cp.ProviderConfig]:
    """Every file parsed and validated as the kubelet does; a missing or bad one is one line (InputError)."""
    configs = []
    for path in files:
        text = host.read_text(path)
        if text is None:
            raise InputError(f"{path}: the kubelet's credential-provider config is missing: the kubelet does not start")
        configs.append(cp.parse_config(text, path))
    dups = cp.duplicate_names(configs)
    if dups:
        raise ConfigFormatError(files[0], f"provider name {dups[0]!r} appears in more than one file: "
                                          "the kubelet refuses this config and does not start")
    return configs


def _choose(current: str | None, given: str | None, default: str, flag: str) -> str:
    if given is not None:
        flagsources.check_value(flag, given)
        if current is not None and posixpath.normpath(current) != posixpath.normpath(given):
            raise InputError(f"the kubelet already runs with {flag}={current}; regcred adds to that "
                             f"(omit the option, or change the kubelet's flag yourself)")
        return posixpath.normpath(given)
    return current or default


@in_node_terms
def install_provider(host: HostRoot, obj: dict[str, Any], *, config: str | None, bin_dir: str | None,
                     overwrite: bool, dry_run: bool) -> dict[str, Any]:
    """Add (or update) one provider in the kubelet's config and give the kubelet both flags; all or nothing.

    `obj` has passed credproviders.check_new_provider (the use case checks it before any file is read)."""
    setup = read_setup(host)
    config_path = _choose(setup.config, config, cp.DEFAULT_CONFIG, cp.CONFIG_FLAG)
    bin_path = _choose(setup.bin_dir, bin_dir, cp.DEFAULT_BIN_DIR, cp.BIN_DIR_FLAG)
    is_dir = host.path(config_path).is_dir()
    target = posixpath.join(config_path, REGCRED_FILE) if is_dir else config_path
    name = obj["name"]
    warnings: list[str] = []
    if not _executable(host, posixpath.join(bin_path, name)):
        raise InputError(f"{posixpath.join(bin_path, name)}: no such plugin executable: the kubelet refuses to start "
                         "without it", hint="install the plugin there first, mode 0755 (its file name is the provider "
                                            "name)")
    with locked_directory(host.path(target).parent) if not dry_run else contextlib.nullcontext():
        others = [f for f in (config_files(host, config_path) if host.exists(config_path) else []) if f != target]
        other_names = {p.name for c in load_configs(host, others) for p in c.providers}
        if name in other_names:
            raise InputError(f"provider {name!r} is already defined in another file of {config_path}")
        text = host.read_text(target)
        current = cp.parse_config(text, target) if text is not None and text.strip() else None
        existing = {p.name: p.obj for p in current.providers} if current else {}
        on_disk = ownership.read_record(host.read_text(target + ownership.OWNERSHIP_SUFFIX))
        owned = on_disk.settled(existing)
        wanted_fp = ownership.entry_fingerprint(obj)
        action = "added"
        if name in existing:
            mine = owned.get(name) == ownership.entry_fingerprint(existing[name])
            if ownership.entry_fingerprint(existing[name]) == wanted_fp:
                action = "unchanged"
            elif not mine and not overwrite:
                raise InputError(f"{target}: provider {name!r} exists and regcred did not write it; file left "
                                 "untouched", hint="--overwrite replaces it")
            else:
                action = "replaced"
        new_owned = {**owned, name: wanted_fp} if action != "unchanged" or name in owned else owned
        new_text = None if action == "unchanged" else cp.with_provider(text, obj)
        if new_text is not None:
            cp.parse_config(new_text, target)  # what is written is what the kubelet accepts
        for missing in _missing_binaries(host, bin_path, current, name):
            warnings.append(f"provider {missing!r} has no executable in {bin_path}: the kubelet will not start")
        flags = {cp.CONFIG_FLAG: config_path, cp.BIN_DIR_FLAG: bin_path}
        edit = flagsources.plan_flags(setup.unit, setup.env_files, flags)
        writes = paired_writes(target, None if new_text is None else NodeWrite(
            target, new_text, _mode(host, target, 0o600)), on_disk, owned, new_owned)
        if edit is not None and edit.text is not None:
            writes.append(NodeWrite(edit.path, edit.text, _mode(host, edit.path, 0o644)))
        if not dry_run and writes:
            changes = FileChanges()
            with AllOrNothing(changes):
                stage_writes(changes, host, writes)
    flags_changed = edit is not None and edit.text is not None
    return {
        "provider": name, "action": action, "config": target, "config_flag": config_path, "bin_dir": bin_path,
        "flags": {"path": edit.path if edit else None, "variable": edit.variable if edit else None,
                  "changed": flags_changed, "daemon_reload": bool(edit and edit.daemon_reload and flags_changed)},
        "changed": new_text is not None or flags_changed,
        "restart_needed": ["kubelet"] if new_text is not None or flags_changed else [], "dry_run": dry_run,
        "warnings": warnings,
    }


@in_node_terms
def remove_provider(host: HostRoot, name: str, *, dry_run: bool) -> dict[str, Any]:
    """Take provider NAME out of the kubelet's config; when none is left, the file and both flags go too (the
    kubelet refuses an empty provider list and a config path that names nothing). All or nothing."""
    setup = read_setup(host)
    result: dict[str, Any] = {"provider": name, "removed": False, "config": None, "config_removed": False,
                              "flags": [], "restart_needed": [], "daemon_reload": False, "dry_run": dry_run,
                              "warnings": []}
    if not setup.config or not host.exists(setup.config):
        return result
    is_dir = host.path(setup.config).is_dir()
    target = posixpath.join(setup.config, REGCRED_FILE) if is_dir else setup.config
    files = config_files(host, setup.config)
    with locked_directory(host.path(target).parent) if not dry_run else contextlib.nullcontext():
        configs = load_configs(host, files)
        holder = next((c for c in configs if any(p.name == name for p in c.providers)), None)
        if holder is None:
            return result
        target = holder.source
        text = host.read_text(target) or ""
        new_text = cp.without_provider(text, name)
        on_disk = ownership.read_record(host.read_text(target + ownership.OWNERSHIP_SUFFIX))
        owned = on_disk.settled({p.name: p.obj for p in holder.providers})
        new_owned = {k: v for k, v in owned.items() if k != name}
        writes = paired_writes(target, NodeWrite(target, new_text, _mode(host, target, 0o600)), on_disk, owned,
                               new_owned)
        result.update(removed=True, config=target, config_removed=new_text is None)
        if new_text is None and len(files) == 1:
            dropin = host.read_text(flagsources.REGCRED_FLAGS_DROPIN)
            edits, stuck = flagsources.plan_unset_flags(setup.unit, setup.env_files,
                                                        [cp.CONFIG_FLAG, cp.BIN_DIR_FLAG], dropin)
            if stuck:
                raise InputError(f"the kubelet's credential-provider flags are set in {stuck}, which regcred does "
                                 f"not edit: {target} left untouched", hint="remove the flags there first")
            writes.extend(NodeWrite(e.path, e.text, _mode(host, e.path, 0o644)) for e in edits)
            result.update(flags=[e.path for e in edits], daemon_reload=any(e.daemon_reload for e in edits))
        if not dry_run:
            changes = FileChanges()
            with AllOrNothing(changes):
                stage_writes(changes, host, writes)
    result["restart_needed"] = ["kubelet"]
    return result


def _missing_binaries(host: HostRoot, bin_dir: str, config: cp.ProviderConfig | None, skip: str) -> list[str]:
    names = [p.name for p in config.providers] if config else []
    return [n for n in names if n != skip and not _executable(host, posixpath.join(bin_dir, n))]


def _executable(host: HostRoot, node_path: str) -> bool:
    """exec.LookPath's test: a regular file with an execute bit."""
    try:
        st = host.path(node_path).stat()
    except (OSError, InputError):
        return False
    return stat.S_ISREG(st.st_mode) and bool(st.st_mode & 0o111)


def _mode(host: HostRoot, node_path: str, default: int) -> int:
    try:
        return host.path(node_path).stat().st_mode & 0o777
    except OSError:
        return default


def provider_report(host: HostRoot, repositories: list[str]) -> dict[str, Any]:
    """What the kubelet will make of its credential-provider flags and config at its next start (never runs a plugin)."""
    setup = read_setup(host)
    out: dict[str, Any] = {"config": setup.config, "config_source": setup.config_source, "bin_dir": setup.bin_dir,
                           "bin_dir_source": setup.bin_dir_source, "providers": [], "problems": [], "notes": [],
                           "asked": [[] for _ in repositories]}
    if setup.config is None and setup.bin_dir is None:
        out["notes"].append("no credential-provider plugins: the kubelet has neither "
                            f"{cp.CONFIG_FLAG} nor {cp.BIN_DIR_FLAG}")
        return out
    for flag, value in ((cp.CONFIG_FLAG, setup.config), (cp.BIN_DIR_FLAG, setup.bin_dir)):
        if not value:
            out["problems"].append(f"the kubelet has {cp.CONFIG_FLAG if flag == cp.BIN_DIR_FLAG else cp.BIN_DIR_FLAG}"
                                   f" but no {flag}: it refuses to start")
    if setup.bin_dir and not host.path(setup.bin_dir).is_dir():
        out["problems"].append(f"{cp.BIN_DIR_FLAG} {setup.bin_dir} is not a directory: the kubelet refuses to start")
    if not setup.config:
        return out
    if not host.exists(setup.config):
        out["problems"].append(f"{cp.CONFIG_FLAG} {setup.config} does not exist: the kubelet refuses to start")
        return out
    files = config_files(host, setup.config)
    if not files:
        out["problems"].append(f"{cp.CONFIG_FLAG} {setup.config} is a directory without *.json, *.yaml or *.yml "
                               "files: the kubelet refuses to start")
        return out
    try:
        configs = load_configs(host, files)
    except InputError as exc:
        out["problems"].append(host.in_node_terms(exc.line()))
        return out
    for config in configs:
        for p in config.providers:
            executable = posixpath.join(setup.bin_dir or "", p.name)
            present = bool(setup.bin_dir) and _executable(host, executable)
            out["providers"].append({"name": p.name, "match_images": list(p.match_images), "config": config.source,
                                     "default_cache_duration": p.default_cache_duration,
                                     "api_version": p.api_version, "executable": executable, "present": present})
            if setup.bin_dir and not present:
                out["problems"].append(f"provider {p.name!r}: {executable} is missing or not executable: the kubelet "
                                       "refuses to start")
    out["asked"] = [cp.providers_for(configs, repo) for repo in repositories]
    return out

"""The runtime's own credentials for `regcred node install/remove`: plan the edit first, write it as one change.

The pause (sandbox) image is pulled by the runtime with its own credentials, not the kubelet's. These
functions decide what containerd, CRI-O or k3s/rke2 needs (no write), so that an install can check
every file it will touch before it writes the first one. Beside a containerd or k3s/rke2 config regcred
keeps an ownership record (`config.toml.regcred-owned`, `registries.yaml.regcred-owned`: host -> SHA-256 of
the auth it wrote), so that a prune removes only the auth regcred wrote and nobody changed since.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from regcred.core.errors import InputError
from regcred.core.node.ownership import (
    OWNERSHIP_SUFFIX,
    OwnershipRecord,
    plan_runtime_auth,
    read_record,
    record_steps,
)
from regcred.core.node.runtimes.common import (
    CONTAINERD,
    CRIO,
    K3S,
    RKE2,
    SERVICE,
    HostCredential,
    RuntimeFacts,
    image_host,
    runtime_host,
)
from regcred.core.node.runtimes.configfile import config_facts, config_path
from regcred.core.node.runtimes.containerd import (
    CONTAINERD_DEPRECATION,
    containerd_with_auth,
    containerd_without_auth,
)
from regcred.core.node.runtimes.crio import CRIO_DROPIN, crio_dropin
from regcred.core.node.runtimes.k3s import registries_yaml_with_auth, registries_yaml_without_auth
from regcred.shells.host import detect_runtime, runtime_facts

Wanted = list[tuple[str, str, str, str]]


@dataclass(frozen=True, slots=True)
class NodeWrite:
    """One node file to write (node path, new text, mode, whether it may be backed up); text None removes it."""

    path: str
    text: str | None
    mode: int = 0o600
    backup: bool = False


def runtime_name(host: Any, runtime: str) -> str | None:
    return detect_runtime(host) if runtime == "auto" else (None if runtime == "none" else runtime)


def _with_auth(name: str, text: str | None, creds: list[HostCredential]) -> str | None:
    if not creds:
        return None
    if name == CONTAINERD:
        return containerd_with_auth(text, creds)
    return registries_yaml_with_auth(text, creds, name)


def _without_auth(name: str, text: str | None, hosts: list[str]) -> str | None:
    if name == CONTAINERD:
        return containerd_without_auth(text, hosts)
    return registries_yaml_without_auth(text, hosts, name)


def paired_writes(path: str, config: NodeWrite | None, on_disk: OwnershipRecord, settled: dict[str, str],
                  new: dict[str, str]) -> list[NodeWrite]:
    """A file's write between its ownership record's two steps (ownership.record_steps): a kill between any two
    renames leaves a record that still names the file's entries as regcred's. config.json's pair uses it too."""
    record = path + OWNERSHIP_SUFFIX
    steps = record_steps(on_disk, settled, new)
    before = [NodeWrite(record, steps.before)] if steps.before else []
    after = [NodeWrite(record, steps.after)] if steps.after else [NodeWrite(record, None)] if steps.remove else []
    return [*before, *([config] if config else []), *after]


def plan_runtime(host: Any, runtime: str, wanted: Wanted, auth_file: str, *, on_conflict: str = "fail",
                 prune: bool = False) -> tuple[dict[str, Any], list[NodeWrite]]:
    """What the runtime gets for the sandbox image (auto) or for every registry (named); nothing is written.

    Other auth someone else wrote for a wanted host is a conflict, as in config.json (`on_conflict`).
    With `prune`, hosts regcred gave the runtime earlier that no `wanted` entry names any more lose
    their auth, while it is still what regcred wrote.
    """
    name = runtime_name(host, runtime)
    result: dict[str, Any] = {"name": name, "config": None, "hosts": [], "added": [], "replaced": [], "removed": [],
                              "skipped": [], "changed": False, "notes": []}
    if name is None:
        if runtime == "auto":
            result["notes"].append("no container runtime found under the host root")
        return result, []
    if name == CRIO:
        text, facts = None, runtime_facts(host, name)
    else:  # one read: the conflicts are judged on the very text that is edited
        text = host.read_text(config_path(name))
        facts = config_facts(name, text)
    creds = [HostCredential(h, u, p) for k, u, p, _ in wanted if (h := runtime_host(k))]
    wanted_hosts = {c.host for c in creds}
    if runtime == "auto":
        sandbox_host = image_host(facts.sandbox_image) if facts.sandbox_image else None
        creds = [c for c in creds if c.host == sandbox_host]
        if not creds:
            result["notes"].append(
                f"{name}: the sandbox image {facts.sandbox_image or '(runtime default)'} is not on these registries; "
                "runtime config left as is (name the runtime with --runtime to give it every registry)"
            )
    result["hosts"] = sorted({c.host for c in creds})
    if name == CRIO:
        return _crio_plan(host, facts, auth_file, result, give=bool(creds), prune=prune and not wanted_hosts)
    path = result["config"] = config_path(name)
    if name == CONTAINERD:
        result["notes"].append(CONTAINERD_DEPRECATION)
    on_disk = read_record(host.read_text(path + OWNERSHIP_SUFFIX))
    owned = on_disk.settled(facts.auths)
    auth = {c.host: {"username": c.username, "password": c.password} for c in creds}
    plan = plan_runtime_auth(owned, facts.auths, auth, wanted_hosts, on_conflict=on_conflict, prune=prune)
    if plan.conflicts and on_conflict == "fail":
        raise InputError(f"{path}: {', '.join(map(repr, plan.conflicts))} already has other auth that regcred did "
                         "not write; nothing written", hint="--overwrite replaces it, --keep-existing leaves it")
    new = _with_auth(name, text, [c for c in creds if c.host in plan.write])
    if plan.remove:
        new = _without_auth(name, new if new is not None else text, plan.remove) or new
    result.update(hosts=[h for h in result["hosts"] if h not in plan.conflicts],
                  added=[h for h in plan.write if not facts.auths.get(h)],
                  replaced=[h for h in plan.write if facts.auths.get(h)], removed=plan.remove, skipped=plan.conflicts)
    if new is not None:
        result.update(changed=True, restart=[SERVICE[name]])
    config = NodeWrite(path, new, 0o600, host.exists(path)) if new is not None else None
    return result, paired_writes(path, config, on_disk, owned, plan.owned)


def _crio_plan(host: Any, facts: RuntimeFacts, auth_file: str, result: dict[str, Any], *,
               give: bool, prune: bool) -> tuple[dict[str, Any], list[NodeWrite]]:
    """CRI-O reads the kubelet's own file through regcred's drop-in: nothing per host to add or prune.

    `give`: CRI-O should get the credentials. `prune` (no registry left at all): the drop-in goes, while
    it is still exactly what regcred wrote.
    """
    path = result["config"] = CRIO_DROPIN
    if not give:
        if prune and host.read_text(path) == crio_dropin(auth_file):
            result.update(changed=True, removed=["global_auth_file"], restart=[SERVICE[CRIO]])
            return result, [NodeWrite(path, None)]
        return result, []
    if facts.auth_file == auth_file:
        return result, []
    if facts.auth_file and host.read_text(path) is None:
        result["notes"].append(
            f"crio already uses auth file {facts.auth_file}; not changed (put the credentials there or remove that setting)"
        )
        return result, []
    result.update(changed=True, added=result["hosts"], restart=[SERVICE[CRIO]])
    return result, [NodeWrite(path, crio_dropin(auth_file), 0o644, host.exists(path))]


def plan_runtime_removal(host: Any, runtime: str, server: str) -> tuple[dict[str, Any], list[NodeWrite]]:
    """What `node remove` takes out of the runtime's config for SERVER's host; nothing is written."""
    name = runtime_name(host, runtime)
    rt: dict[str, Any] = {"name": name, "config": None, "hosts": [], "changed": False, "notes": []}
    run_host = runtime_host(server)
    if name in (CONTAINERD, K3S, RKE2) and run_host:
        cfg = rt["config"] = config_path(name)
        text = host.read_text(cfg)
        new = _without_auth(name, text, [run_host])
        on_disk = read_record(host.read_text(cfg + OWNERSHIP_SUFFIX))
        owned = on_disk.settled(config_facts(name, text).auths)  # an interrupted write's hosts stay ours
        rt.update(hosts=[run_host], changed=new is not None)
        if new is not None:
            rt["restart"] = [SERVICE[name]]
        config = NodeWrite(cfg, new, 0o600, True) if new is not None else None  # other hosts' passwords: 0600
        return rt, paired_writes(cfg, config, on_disk, owned, {h: f for h, f in owned.items() if h != run_host})
    if name == CRIO:
        rt["notes"].append("crio reads the kubelet's file through global_auth_file: nothing else to remove")
    return rt, []


def stage_writes(changes: Any, host: Any, writes: list[NodeWrite], *, keep_backup: bool = False) -> dict[str, Any]:
    """Write (or remove) each planned file through `changes`, so a later failure can roll it back; returns
    node path -> the backup kept (`keep_backup`)."""
    backups = {}
    for write in writes:
        if write.text is None:
            changes.remove(host.path(write.path, follow_last=False), shown=write.path)
            continue
        # surrogateescape: config.json's text keeps another entry's invalid UTF-8 as it was (credfile._faithful)
        saved = changes.write(host.path(write.path), write.text.encode("utf-8", "surrogateescape"), shown=write.path,
                              mode=write.mode, backup=write.backup and keep_backup)
        if saved is not None:
            backups[write.path] = saved
    return backups

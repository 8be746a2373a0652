"""The runtime's own credentials for `regcred node install/remove`: plan the edit first, write it as one change.

The pause (sandbox) image is pulled by the runtime with its own credentials, not the kubelet's. These
functions decide what containerd, CRI-O or k3s/rke2 needs (no write), so that an install can check
every file it will touch before it writes the first one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from regcred.core.node import runtimes

Wanted = list[tuple[str, str, str, str]]


@dataclass(frozen=True, slots=True)
class RuntimeWrite:
    """One runtime config file to write: node path, new text, mode, whether to keep a .bak."""

    path: str
    text: str
    mode: int
    backup: bool


def runtime_name(host: Any, runtime: str) -> str | None:
    from regcred.shells.host import detect_runtime

    return detect_runtime(host) if runtime == "auto" else (None if runtime == "none" else runtime)


def plan_runtime(host: Any, runtime: str, wanted: Wanted, auth_file: str) -> tuple[dict[str, Any], RuntimeWrite | None]:
    """What the runtime gets for the sandbox image (auto) or for every registry (named); nothing is written."""
    from regcred.shells.host import runtime_facts

    name = runtime_name(host, runtime)
    result: dict[str, Any] = {"name": name, "config": None, "hosts": [], "changed": False, "notes": []}
    if name is None:
        if runtime == "auto":
            result["notes"].append("no container runtime found under the host root")
        return result, None
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
            return result, None
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
    if new is None:
        return result, None
    result["changed"] = True
    result["restart"] = [runtimes.SERVICE[name]]
    return result, RuntimeWrite(path, new, mode, host.exists(path))


def apply_runtime(host: Any, runtime: str, wanted: Wanted, auth_file: str, *, dry_run: bool) -> dict[str, Any]:
    """Plan and (unless dry_run) write the runtime's config on its own (`regcred apply` runtimes)."""
    result, write = plan_runtime(host, runtime, wanted, auth_file)
    if write is not None and not dry_run:
        host.write(write.path, write.text, mode=write.mode, backup=write.backup)
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


def plan_runtime_removal(host: Any, runtime: str, server: str) -> tuple[dict[str, Any], RuntimeWrite | None]:
    """What `node remove` takes out of the runtime's config for SERVER's host; nothing is written."""
    name = runtime_name(host, runtime)
    rt: dict[str, Any] = {"name": name, "config": None, "hosts": [], "changed": False, "notes": []}
    run_host = runtimes.runtime_host(server)
    if name in (runtimes.CONTAINERD, runtimes.K3S, runtimes.RKE2) and run_host:
        cfg = runtimes.CONTAINERD_CONFIG if name == runtimes.CONTAINERD else runtimes.REGISTRIES_YAML[name]
        text = host.read_text(cfg)
        new = (runtimes.containerd_without_auth(text, [run_host]) if name == runtimes.CONTAINERD
               else runtimes.registries_yaml_without_auth(text, [run_host], name))
        rt.update(config=cfg, hosts=[run_host], changed=new is not None)
        if new is not None:
            rt["restart"] = [runtimes.SERVICE[name]]
            return rt, RuntimeWrite(cfg, new, host.path(cfg).stat().st_mode & 0o777, True)
    elif name == runtimes.CRIO:
        rt["notes"].append("crio reads the kubelet's file through global_auth_file: nothing else to remove")
    return rt, None

"""What every runtime module shares: the runtime names, the records they return, and host naming.

Hosts are named as the runtime contacts them (Docker Hub: registry-1.docker.io), not as the kubelet's keys.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from regcred.core.credentials.imageref import parse_image
from regcred.core.credentials.registrykey import client_key
from regcred.core.errors import ConfigFormatError

CONTAINERD = "containerd"
CRIO = "crio"
K3S = "k3s"
RKE2 = "rke2"

SERVICE = {CONTAINERD: "containerd", CRIO: "crio", K3S: "k3s", RKE2: "rke2-server"}


@dataclass(frozen=True, slots=True)
class HostCredential:
    """A username/password for one registry host as the runtime contacts it."""

    host: str
    username: str
    password: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class RuntimeFacts:
    """What a runtime's configuration says about credentials and the sandbox image."""

    runtime: str
    config: str | None
    sandbox_image: str | None
    auth_hosts: tuple[str, ...] = ()
    auth_file: str | None = None
    notes: tuple[str, ...] = ()
    auths: Mapping[str, Any] = field(default_factory=dict)  # host -> its `auth` table as plain data


def runtime_host(key: str) -> str | None:
    """The host[:port] a runtime contacts for a credential key (Docker Hub: registry-1.docker.io)."""
    parsed = client_key(key)
    return parsed.hostport if parsed is not None else None


def image_host(image: str) -> str:
    """The host a runtime contacts to pull `image`."""
    return parse_image(image).registry


def runtime_has_credentials(facts: RuntimeFacts, host: str, auth_file_hosts: Sequence[str] = ()) -> bool:
    """Whether the runtime has its own credential for `host` (CRI-O: through its auth file's keys)."""
    if facts.runtime == CRIO:
        return host in auth_file_hosts
    return host in facts.auth_hosts or (facts.runtime in (K3S, RKE2) and "*" in facts.auth_hosts)


def auth_tables(configs: Any) -> dict[str, Any]:
    """host -> its `auth` table, from plain (tomllib / YAML) registry configs."""
    if not isinstance(configs, dict):
        return {}
    return {str(host): dict(cfg["auth"]) for host, cfg in configs.items()
            if isinstance(cfg, dict) and isinstance(cfg.get("auth"), dict)}


def parse_toml(text: str, source: str) -> Any:
    """A tomlkit document (keeps comments and layout for editing), or a ConfigFormatError naming `source`."""
    import tomlkit  # lazy: tomlkit costs ~15 ms at import
    from tomlkit.exceptions import TOMLKitError  # lazy: tomlkit costs ~15 ms at import

    try:
        return tomlkit.parse(text)
    except TOMLKitError as exc:
        raise ConfigFormatError(source, f"is not valid TOML: {exc}") from None


def get_path(doc: Any, keys: Sequence[str]) -> Any:
    """The value at `keys` in nested tables, or None where any step is missing or not a table."""
    cur = doc
    for key in keys:
        if not hasattr(cur, "get"):
            return None
        cur = cur.get(key)
        if cur is None:
            return None
    return cur

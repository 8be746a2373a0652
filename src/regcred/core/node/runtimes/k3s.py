"""k3s and rke2's runtime-level credentials: `configs."HOST".auth` in registries.yaml.

k3s and rke2 render registries.yaml into their embedded containerd at start
(docs/concepts/kubelet-rules.md#k3s-and-rke2-registriesyaml), so an edit needs a service restart. Edits keep
mirrors, tls settings and comments (ruamel.yaml round trip).
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from typing import Any

from regcred.core.errors import ConfigFormatError
from regcred.core.node.runtimes.common import K3S, RKE2, HostCredential, RuntimeFacts, auth_tables
from regcred.core.safeload import check_yaml, describe_yaml_error

REGISTRIES_YAML = {K3S: "/etc/rancher/k3s/registries.yaml", RKE2: "/etc/rancher/rke2/registries.yaml"}


def _yaml() -> Any:
    from ruamel.yaml import YAML  # lazy: ruamel.yaml costs ~19 ms at import

    yaml = YAML()
    yaml.preserve_quotes = True
    return yaml


def _load_yaml(text: str | None, source: str) -> Any:
    from ruamel.yaml.comments import CommentedMap  # lazy: ruamel.yaml costs ~19 ms at import
    from ruamel.yaml.error import YAMLError  # lazy: ruamel.yaml costs ~19 ms at import
    from yaml import YAMLError as BoundsError  # lazy: PyYAML costs ~14 ms at import

    if text is None or not text.strip():
        return CommentedMap()
    try:
        check_yaml(text)  # ruamel has no depth or alias bound of its own
        doc = _yaml().load(text)
    except (YAMLError, BoundsError) as exc:
        raise ConfigFormatError(source, f"is not valid YAML: {describe_yaml_error(exc)}") from None
    if doc is None:
        return CommentedMap()
    if not isinstance(doc, dict):
        raise ConfigFormatError(source, "must be a YAML mapping")
    return doc


def _dump_yaml(doc: Any) -> str:
    out = io.StringIO()
    _yaml().dump(doc, out)
    return out.getvalue()


def registries_yaml_facts(text: str | None, runtime: str = K3S) -> RuntimeFacts:
    """The hosts with `configs."HOST".auth` in a k3s or rke2 registries.yaml."""
    source = REGISTRIES_YAML[runtime]
    doc = _load_yaml(text, source)
    configs = doc.get("configs") or {}
    hosts = tuple(str(h) for h, cfg in configs.items() if isinstance(cfg, dict) and cfg.get("auth"))
    return RuntimeFacts(runtime, source if text is not None else None, None, hosts, auths=auth_tables(configs))


def registries_yaml_with_auth(text: str | None, creds: Iterable[HostCredential], runtime: str = K3S) -> str | None:
    """registries.yaml with `configs."HOST".auth` set; mirrors, tls and comments kept."""
    from ruamel.yaml.comments import CommentedMap  # lazy: ruamel.yaml costs ~19 ms at import

    doc = _load_yaml(text, REGISTRIES_YAML[runtime])
    configs = doc.get("configs")
    if not isinstance(configs, dict):
        configs = CommentedMap()
        doc["configs"] = configs
    changed = False
    for cred in creds:
        entry = configs.get(cred.host)
        if not isinstance(entry, dict):
            entry = CommentedMap()
            configs[cred.host] = entry
        wanted = {"username": cred.username, "password": cred.password}
        if dict(entry.get("auth") or {}) == wanted:
            continue
        entry["auth"] = CommentedMap(wanted)
        changed = True
    return _dump_yaml(doc) if changed else None


def registries_yaml_without_auth(text: str | None, hosts: Iterable[str], runtime: str = K3S) -> str | None:
    """registries.yaml with the `auth` of each host removed (its mirrors and tls kept); None when none had one."""
    if text is None:
        return None
    doc = _load_yaml(text, REGISTRIES_YAML[runtime])
    configs = doc.get("configs")
    changed = False
    for host in hosts:
        entry = configs.get(host) if isinstance(configs, dict) else None
        if not isinstance(entry, dict) or "auth" not in entry:
            continue
        del entry["auth"]
        if not entry:
            del configs[host]
        changed = True
    return _dump_yaml(doc) if changed else None

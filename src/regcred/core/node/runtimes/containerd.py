"""containerd's runtime-level credentials: `registry.configs."HOST".auth` in /etc/containerd/config.toml.

containerd pulls the sandbox image with these (docs/concepts/kubelet-rules.md#containerd); they are deprecated
upstream since 1.5 and still read. Edits keep every other table, key and comment (tomlkit), and each result is
checked against the intended data (tomllib), because tomlkit can mis-write new tables under dotted keys.
"""

from __future__ import annotations

import copy
import tomllib
from collections.abc import Iterable, Sequence
from typing import Any

from regcred.core.errors import ConfigFormatError
from regcred.core.node.runtimes.common import (
    CONTAINERD,
    HostCredential,
    RuntimeFacts,
    auth_tables,
    get_path,
    parse_toml,
)

CONTAINERD_CONFIG = "/etc/containerd/config.toml"
CONTAINERD_DEPRECATION = (
    "containerd's registry.configs auth is deprecated upstream since 1.5 (its notice says removal in v2.4); "
    "it is still read, and it is the only runtime-level credential containerd has for the sandbox image"
)



def _containerd_layout(doc: Any) -> tuple[int, list[str], list[str]]:
    """(config version, path to `registry.configs`, path to the sandbox image key)."""
    version = int(doc.get("version", 1) or 1)
    if version >= 3:
        return version, ["plugins", "io.containerd.cri.v1.images", "registry", "configs"], [
            "plugins", "io.containerd.cri.v1.images", "pinned_images", "sandbox"]
    if version == 2:
        return version, ["plugins", "io.containerd.grpc.v1.cri", "registry", "configs"], [
            "plugins", "io.containerd.grpc.v1.cri", "sandbox_image"]
    return version, ["plugins", "cri", "registry", "configs"], ["plugins", "cri", "sandbox_image"]


def _table(doc: Any, keys: Sequence[str], source: str) -> Any:
    """The table at `keys`, created as implicit (header-less) tables where missing."""
    import tomlkit  # lazy: tomlkit costs ~15 ms at import

    cur = doc
    for key in keys:
        nxt = cur.get(key)
        if nxt is None:
            nxt = tomlkit.table(is_super_table=True)
            cur[key] = nxt
        elif not hasattr(nxt, "get"):
            raise ConfigFormatError(source, f"{'.'.join(keys)}: {key!r} is not a table")
        cur = nxt
    return cur


def containerd_facts(text: str | None, source: str = CONTAINERD_CONFIG) -> RuntimeFacts:
    """The sandbox image and the hosts with `registry.configs` auth in a containerd config."""
    if text is None:
        return RuntimeFacts(CONTAINERD, None, None, notes=("no config file: containerd uses its built-in defaults",))
    doc = parse_toml(text, source)
    _, configs_path, sandbox_path = _containerd_layout(doc)
    configs = get_path(doc, configs_path) or {}
    hosts = tuple(
        str(host) for host, cfg in configs.items()
        if hasattr(cfg, "get") and any((get_path(cfg, ["auth"]) or {}).get(k) for k in ("username", "auth", "identitytoken"))
    )
    sandbox = get_path(doc, sandbox_path)
    return RuntimeFacts(CONTAINERD, source, str(sandbox) if sandbox else None, hosts,
                        auths=auth_tables(get_path(_toml_data(text), configs_path)))


def containerd_with_auth(text: str | None, creds: Iterable[HostCredential], source: str = CONTAINERD_CONFIG) -> str | None:
    """The config with `registry.configs."HOST".auth` set for each credential; None when already so.

    tomlkit mis-writes new tables under dotted keys (`[plugins] "io.containerd.grpc.v1.cri".x = 1`), so
    every result is checked with tomllib against the intended data; when the check fails, the auth tables
    are appended as explicit `[...auth]` sections instead, and when that fails too the edit is refused.
    """
    import tomlkit  # lazy: tomlkit costs ~15 ms at import

    creds = list(creds)
    doc = parse_toml(text, source) if text is not None else tomlkit.document()
    if text is None:
        doc["version"] = 2
    _, configs_path, _ = _containerd_layout(doc)
    expected = _expected_data(text, source, configs_path, creds)
    if expected is None:
        return None
    candidates: list[str] = []
    try:
        configs = _table(doc, configs_path, source)
        for cred in creds:
            host = configs.get(cred.host)
            if host is None:
                host = tomlkit.table(is_super_table=True)
                configs[cred.host] = host
            new_auth = tomlkit.table()
            new_auth["username"] = cred.username
            new_auth["password"] = cred.password
            host["auth"] = new_auth
        candidates.append(tomlkit.dumps(doc))
    except (ValueError, TypeError, KeyError):  # tomlkit refuses, e.g. a table inside an inline table
        pass
    candidates.append(_appended_sections(text, doc, configs_path, creds))
    for new in candidates:
        if _toml_data(new) == expected:
            return new
    raise ConfigFormatError(
        source, "cannot add registry auth without changing other settings (inline or dotted registry tables)",
        hint="write the [...registry.configs.\"HOST\".auth] section by hand",
    )


def _toml_data(text: str | None) -> Any:
    try:
        return tomllib.loads(text or "")
    except tomllib.TOMLDecodeError:
        return None


def _expected_data(text: str | None, source: str, path: Sequence[str], creds: Sequence[HostCredential]) -> Any:
    """The plain data the edited file must hold; None when it already holds it."""
    data = _toml_data(text) if text is not None else {"version": 2}
    if data is None:
        raise ConfigFormatError(source, "is not valid TOML")
    want = copy.deepcopy(data)
    cur = want
    for key in path:
        cur = cur.setdefault(key, {})
        if not isinstance(cur, dict):
            raise ConfigFormatError(source, f"{'.'.join(path)}: {key!r} is not a table")
    for cred in creds:
        host = cur.setdefault(cred.host, {})
        if not isinstance(host, dict):
            raise ConfigFormatError(source, f"registry.configs.{cred.host!r} is not a table")
        host["auth"] = {"username": cred.username, "password": cred.password}
    return None if text is not None and want == data else want


def _appended_sections(text: str | None, doc: Any, path: Sequence[str], creds: Sequence[HostCredential]) -> str:
    import tomlkit  # lazy: tomlkit costs ~15 ms at import

    base = text if text is not None else "version = 2\n"
    if base and not base.endswith("\n"):
        base += "\n"
    parts = [base]
    for cred in creds:
        header = ".".join(tomlkit.key(k).as_string() for k in [*path, cred.host, "auth"])
        parts.append(f"\n[{header}]\nusername = {tomlkit.string(cred.username).as_string()}\n"
                     f"password = {tomlkit.string(cred.password).as_string()}\n")
    return "".join(parts)


def _without_empty_tables(data: Any) -> Any:
    """`data` with every table that is (or becomes) empty left out, for comparing TOML documents."""
    if not isinstance(data, dict):
        return data
    kept = {key: _without_empty_tables(value) for key, value in data.items()}
    return {key: value for key, value in kept.items() if value != {}}


def containerd_without_auth(text: str | None, hosts: Iterable[str], source: str = CONTAINERD_CONFIG) -> str | None:
    """The config with the `auth` of each host removed (the host's other settings, e.g. tls, kept)."""
    if text is None:
        return None
    doc = parse_toml(text, source)
    _, configs_path, _ = _containerd_layout(doc)
    configs = get_path(doc, configs_path)
    expected = _toml_data(text)
    want_configs = get_path(expected, configs_path) if expected is not None else None
    changed = False
    for name in hosts:
        host = configs.get(name) if configs is not None else None
        if host is None or "auth" not in host:
            continue
        del host["auth"]
        if not host:
            del configs[name]
        if isinstance(want_configs, dict) and isinstance(want_configs.get(name), dict):
            want_configs[name].pop("auth", None)
            if not want_configs[name]:
                del want_configs[name]
        changed = True
    if not changed:
        return None
    import tomlkit  # lazy: tomlkit costs ~15 ms at import

    new = tomlkit.dumps(doc)
    # Removing the last host also drops the implicit `registry.configs` tables around it: empty tables mean nothing.
    if _without_empty_tables(_toml_data(new)) != _without_empty_tables(expected):
        raise ConfigFormatError(source, "cannot remove registry auth without changing other settings",
                                hint="remove the [...registry.configs.\"HOST\".auth] section by hand")
    return new

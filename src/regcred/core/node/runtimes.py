"""Container-runtime credential settings as data: what to change in containerd, CRI-O and k3s/rke2 files.

The runtime, not the kubelet, pulls the pause (sandbox) image, with its own credentials (reference §j).
containerd reads `registry.configs."HOST".auth` in its TOML (deprecated upstream since 1.5, still read);
CRI-O reads `global_auth_file`, which can point at the kubelet's config.json; k3s/rke2 render
`registries.yaml` `configs` into containerd at start. Edits keep every other table, key and comment
(tomlkit, ruamel.yaml round trip). Every function takes text and returns new text, or None for no change.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from regcred.core.credentials.imageref import parse_image
from regcred.core.credentials.registrykey import client_key
from regcred.core.errors import ConfigFormatError

CONTAINERD = "containerd"
CRIO = "crio"
K3S = "k3s"
RKE2 = "rke2"

CONTAINERD_CONFIG = "/etc/containerd/config.toml"
CRIO_CONFIG = "/etc/crio/crio.conf"
CRIO_DROPIN_DIR = "/etc/crio/crio.conf.d"
CRIO_DROPIN = "/etc/crio/crio.conf.d/90-regcred-auth.conf"
REGISTRIES_YAML = {K3S: "/etc/rancher/k3s/registries.yaml", RKE2: "/etc/rancher/rke2/registries.yaml"}
SERVICE = {CONTAINERD: "containerd", CRIO: "crio", K3S: "k3s", RKE2: "rke2-server"}
CONTAINERD_DEPRECATION = (
    "containerd's registry.configs auth is deprecated upstream since 1.5 (its notice says removal in v2.4); "
    "it is still read, and it is the only runtime-level credential containerd has for the sandbox image"
)


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


def config_path(runtime: str) -> str:
    """The file holding per-host auth for containerd, k3s or rke2."""
    return CONTAINERD_CONFIG if runtime == CONTAINERD else REGISTRIES_YAML[runtime]


def config_facts(runtime: str, text: str | None) -> RuntimeFacts:
    """What the config text of containerd, k3s or rke2 (`config_path`) says."""
    return containerd_facts(text) if runtime == CONTAINERD else registries_yaml_facts(text, runtime)


def runtime_host(key: str) -> str | None:
    """The host[:port] a runtime contacts for a credential key (Docker Hub: registry-1.docker.io)."""
    parsed = client_key(key)
    return parsed.hostport if parsed is not None else None


def image_host(image: str) -> str:
    """The host a runtime contacts to pull `image`."""
    return parse_image(image).registry


# --- containerd ---------------------------------------------------------------------------------------------


def _toml(text: str, source: str) -> Any:
    import tomlkit
    from tomlkit.exceptions import TOMLKitError

    try:
        return tomlkit.parse(text)
    except TOMLKitError as exc:
        raise ConfigFormatError(source, f"is not valid TOML: {exc}") from None


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


def _get(doc: Any, keys: Sequence[str]) -> Any:
    cur = doc
    for key in keys:
        if not hasattr(cur, "get"):
            return None
        cur = cur.get(key)
        if cur is None:
            return None
    return cur


def _table(doc: Any, keys: Sequence[str], source: str) -> Any:
    """The table at `keys`, created as implicit (header-less) tables where missing."""
    import tomlkit

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
    doc = _toml(text, source)
    _, configs_path, sandbox_path = _containerd_layout(doc)
    configs = _get(doc, configs_path) or {}
    hosts = tuple(
        str(host) for host, cfg in configs.items()
        if hasattr(cfg, "get") and any((_get(cfg, ["auth"]) or {}).get(k) for k in ("username", "auth", "identitytoken"))
    )
    sandbox = _get(doc, sandbox_path)
    return RuntimeFacts(CONTAINERD, source, str(sandbox) if sandbox else None, hosts,
                        auths=_auth_tables(_get(_toml_data(text), configs_path)))


def _auth_tables(configs: Any) -> dict[str, Any]:
    """host -> its `auth` table, from plain (tomllib / YAML) registry configs."""
    if not isinstance(configs, dict):
        return {}
    return {str(host): dict(cfg["auth"]) for host, cfg in configs.items()
            if isinstance(cfg, dict) and isinstance(cfg.get("auth"), dict)}


def containerd_with_auth(text: str | None, creds: Iterable[HostCredential], source: str = CONTAINERD_CONFIG) -> str | None:
    """The config with `registry.configs."HOST".auth` set for each credential; None when already so.

    tomlkit mis-writes new tables under dotted keys (`[plugins] "io.containerd.grpc.v1.cri".x = 1`), so
    every result is checked with tomllib against the intended data; when the check fails, the auth tables
    are appended as explicit `[...auth]` sections instead, and when that fails too the edit is refused.
    """
    import tomlkit

    creds = list(creds)
    doc = _toml(text, source) if text is not None else tomlkit.document()
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
    import tomllib

    try:
        return tomllib.loads(text or "")
    except tomllib.TOMLDecodeError:
        return None


def _expected_data(text: str | None, source: str, path: Sequence[str], creds: Sequence[HostCredential]) -> Any:
    """The plain data the edited file must hold; None when it already holds it."""
    data = _toml_data(text) if text is not None else {"version": 2}
    if data is None:
        raise ConfigFormatError(source, "is not valid TOML")
    import copy

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
    import tomlkit

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
    doc = _toml(text, source)
    _, configs_path, _ = _containerd_layout(doc)
    configs = _get(doc, configs_path)
    expected = _toml_data(text)
    want_configs = _get(expected, configs_path) if expected is not None else None
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
    import tomlkit

    new = tomlkit.dumps(doc)
    # Removing the last host also drops the implicit `registry.configs` tables around it: empty tables mean nothing.
    if _without_empty_tables(_toml_data(new)) != _without_empty_tables(expected):
        raise ConfigFormatError(source, "cannot remove registry auth without changing other settings",
                                hint="remove the [...registry.configs.\"HOST\".auth] section by hand")
    return new


# --- CRI-O --------------------------------------------------------------------------------------------------


def crio_facts(files: Sequence[tuple[str, str]]) -> RuntimeFacts:
    """Effective `[crio.image]` settings from crio.conf then its drop-ins (lexical order, later wins)."""
    settings: dict[str, str] = {}
    for path, text in files:
        image = _get(_toml(text, path), ["crio", "image"]) or {}
        for key in ("global_auth_file", "pause_image", "pause_image_auth_file"):
            if key in image:
                settings[key] = str(image[key])
    notes = []
    if settings.get("pause_image_auth_file"):
        notes.append(f"pause_image_auth_file = {settings['pause_image_auth_file']} is used for the pause image")
    return RuntimeFacts(
        CRIO,
        files[0][0] if files else None,
        settings.get("pause_image") or None,
        (),
        settings.get("pause_image_auth_file") or settings.get("global_auth_file") or None,
        tuple(notes),
    )


def crio_dropin(auth_file: str) -> str:
    """A CRI-O drop-in pointing `global_auth_file` at the kubelet's credential file."""
    return (
        "# Written by regcred: CRI-O pulls the pause image and credential-less pulls with this auth file,\n"
        "# the same file the kubelet reads. Remove this file to undo.\n"
        f'[crio.image]\nglobal_auth_file = "{auth_file}"\n'
    )


# --- k3s / rke2 ---------------------------------------------------------------------------------------------


def _yaml() -> Any:
    from ruamel.yaml import YAML

    yaml = YAML()
    yaml.preserve_quotes = True
    return yaml


def _load_yaml(text: str | None, source: str) -> Any:
    from ruamel.yaml.comments import CommentedMap
    from ruamel.yaml.error import YAMLError
    from yaml import YAMLError as BoundsError

    from regcred.core.safeload import check_yaml, describe_yaml_error

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
    source = REGISTRIES_YAML[runtime]
    doc = _load_yaml(text, source)
    configs = doc.get("configs") or {}
    hosts = tuple(str(h) for h, cfg in configs.items() if isinstance(cfg, dict) and cfg.get("auth"))
    return RuntimeFacts(runtime, source if text is not None else None, None, hosts, auths=_auth_tables(configs))


def registries_yaml_with_auth(text: str | None, creds: Iterable[HostCredential], runtime: str = K3S) -> str | None:
    """registries.yaml with `configs."HOST".auth` set; mirrors, tls and comments kept."""
    from ruamel.yaml.comments import CommentedMap

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


def runtime_has_credentials(facts: RuntimeFacts, host: str, auth_file_hosts: Sequence[str] = ()) -> bool:
    """Whether the runtime has its own credential for `host` (CRI-O: through its auth file's keys)."""
    if facts.runtime == CRIO:
        return host in auth_file_hosts
    return host in facts.auth_hosts or (facts.runtime in (K3S, RKE2) and "*" in facts.auth_hosts)

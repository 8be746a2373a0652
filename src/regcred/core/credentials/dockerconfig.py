"""Docker credential files and Secret payloads, read exactly as the kubelet reads them.

Two layouts exist: `config.json` (`{"auths": {...}}`, also the `.dockerconfigjson` Secret key) and
the legacy `.dockercfg` (the entries at top level). Reading follows Go's encoding/json rules
(case-insensitive field names, last duplicate wins, wrong types are errors, `null` is empty) and the
kubelet's `auth` decoding. Writing keeps every other entry and unknown key as it was.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from regcred.core.credentials.gobase64 import AuthDecodeError, decode_auth, encode_auth
from regcred.core.credentials.gojson import Pairs, fold_field_name, go_type_name, loads_pairs
from regcred.core.errors import ConfigFormatError


class Layout(Enum):
    """Which of the two file layouts a document uses."""

    CONFIG_JSON = "config.json"
    DOCKERCFG = ".dockercfg"


# Fields the kubelet never uses but that other clients write; reported, preserved, never matched.
IGNORED_ENTRY_FIELDS = ("identitytoken", "registrytoken")
IGNORED_TOP_LEVEL_FIELDS = ("credsStore", "credHelpers", "credentialHelpers")
_ENTRY_FIELDS = ("username", "password", "email", "auth")


@dataclass(frozen=True, slots=True)
class Entry:
    """One registry entry after the kubelet's decoding: `auth`, when set, overrides username/password."""

    key: str
    username: str = ""
    password: str = field(default="", repr=False)
    email: str = ""
    ignored_fields: tuple[str, ...] = ()

    @property
    def has_password(self) -> bool:
        return self.password != ""


@dataclass(frozen=True, slots=True)
class DockerConfig:
    """A parsed credential document: decoded entries plus the raw object for faithful rewriting."""

    layout: Layout
    entries: tuple[Entry, ...]
    raw: dict[str, Any] = field(default_factory=dict, repr=False)  # holds passwords and `auth` values
    ignored_top_level: tuple[str, ...] = ()
    has_auths: bool = True

    def __iter__(self) -> Iterator[Entry]:
        return iter(self.entries)

    def registry_keys(self) -> list[str]:
        return [e.key for e in self.entries]

    def get(self, key: str) -> Entry | None:
        for entry in self.entries:
            if entry.key == key:
                return entry
        return None

    @property
    def is_empty(self) -> bool:
        return not self.entries


def _string_field(value: Any, source: str, key: str, name: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ConfigFormatError(
            source,
            f"field {name!r} must be a string, not {go_type_name(value)}",
            key=key,
        )
    return value


def _decode_entry(key: str, value: Any, source: str) -> Entry:
    """Decode one entry as Go would decode DockerConfigEntry (fields by case-folded name)."""
    if value is None:
        return Entry(key=key)
    if not isinstance(value, Pairs):
        raise ConfigFormatError(source, f"entry must be a JSON object, not {go_type_name(value)}", key=key)
    found: dict[str, str] = {}
    ignored: list[str] = []
    for name, item in value:
        folded = fold_field_name(name)
        if folded in _ENTRY_FIELDS:
            found[folded] = _string_field(item, source, key, name)
        elif folded in IGNORED_ENTRY_FIELDS and item not in (None, ""):
            ignored.append(folded)
    username, password = found.get("username", ""), found.get("password", "")
    auth = found.get("auth", "")
    if auth:
        try:
            username, password = decode_auth(auth)
        except AuthDecodeError as exc:
            raise ConfigFormatError(source, f"field 'auth' cannot be decoded: {exc}", key=key) from None
    return Entry(key, username, password, found.get("email", ""), tuple(dict.fromkeys(ignored)))


def _decode_entries(obj: Any, source: str, what: str) -> list[Entry]:
    """Decode a map of registry key -> entry; duplicate keys: the last one wins (Go map semantics)."""
    if obj is None:
        return []
    if not isinstance(obj, Pairs):
        raise ConfigFormatError(source, f"{what} must be a JSON object, not {go_type_name(obj)}")
    by_key: dict[str, Entry] = {}
    for key, value in obj:
        by_key[key] = _decode_entry(key, value, source)
    return list(by_key.values())


def _load(text: str | bytes, source: str) -> Any:
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    if not text.strip():
        raise ConfigFormatError(source, "is empty, not JSON", hint="write '{}' or a config with an 'auths' object")
    try:
        return loads_pairs(text)
    except (json.JSONDecodeError, ValueError) as exc:
        detail = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
        where = f" at line {exc.lineno} column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else ""
        raise ConfigFormatError(source, f"is not valid JSON{where}: {detail}") from None


def parse_config_json(text: str | bytes, source: str) -> DockerConfig:
    """Parse the config.json layout (node `config.json`, Secret key `.dockerconfigjson`)."""
    doc = _load(text, source)
    if doc is None:
        return DockerConfig(Layout.CONFIG_JSON, (), {}, (), has_auths=False)
    if not isinstance(doc, Pairs):
        raise ConfigFormatError(source, f"must be a JSON object, not {go_type_name(doc)}")
    entries: dict[str, Entry] = {}
    has_auths = False
    ignored_top: list[str] = []
    for name, value in doc:
        folded = fold_field_name(name)
        if folded == "auths":
            has_auths = True
            if value is None:  # Go sets the map to nil: earlier entries are gone
                entries = {}
                continue
            for entry in _decode_entries(value, source, "'auths'"):
                entries[entry.key] = entry  # Go reuses the map: a second 'Auths' adds to it
        elif folded == "httpheaders":
            _check_headers(value, source)
        elif name in IGNORED_TOP_LEVEL_FIELDS and value not in (None, "", Pairs()):
            ignored_top.append(name)
    return DockerConfig(
        Layout.CONFIG_JSON,
        tuple(entries.values()),
        doc.to_dict(),
        tuple(dict.fromkeys(ignored_top)),
        has_auths=has_auths,
    )


def _check_headers(value: Any, source: str) -> None:
    if value is None:
        return
    if not isinstance(value, Pairs):
        raise ConfigFormatError(source, f"'HttpHeaders' must be a JSON object, not {go_type_name(value)}")
    for name, item in value:
        if item is not None and not isinstance(item, str):
            raise ConfigFormatError(source, f"'HttpHeaders' value {name!r} must be a string")


def parse_dockercfg(text: str | bytes, source: str) -> DockerConfig:
    """Parse the legacy `.dockercfg` layout (entries at the top level)."""
    doc = _load(text, source)
    entries = _decode_entries(doc, source, "a .dockercfg document")
    raw = doc.to_dict() if isinstance(doc, Pairs) else {}
    return DockerConfig(Layout.DOCKERCFG, tuple(entries), raw, (), has_auths=bool(entries))


def parse(text: str | bytes, source: str, layout: Layout) -> DockerConfig:
    """Parse either layout."""
    if layout is Layout.CONFIG_JSON:
        return parse_config_json(text, source)
    return parse_dockercfg(text, source)


def entry_object(username: str, password: str, email: str = "") -> dict[str, str]:
    """A written entry: username, password, optional email and a padded auth, in kubectl's order."""
    obj = {"username": username, "password": password}
    if email:
        obj["email"] = email
    obj["auth"] = encode_auth(username, password)
    return obj


def _auths_field(raw: dict[str, Any]) -> str:
    """The name under which the file keeps its auths (an existing 'Auths' spelling is kept)."""
    for name in raw:
        if fold_field_name(name) == "auths" and isinstance(raw[name], dict):
            return name
    return "auths"


def with_entry(config: DockerConfig, key: str, username: str, password: str, email: str = "") -> dict[str, Any]:
    """The raw document with `key` added or replaced; every other entry and top-level key is kept as is."""
    raw = _copy(config.raw)
    new = entry_object(username, password, email)
    if config.layout is Layout.DOCKERCFG:
        raw[key] = new
        return raw
    name = _auths_field(raw)
    auths = raw.get(name)
    if not isinstance(auths, dict):
        auths = {}
    auths[key] = new
    raw[name] = auths
    return raw


def without_entry(config: DockerConfig, key: str) -> dict[str, Any]:
    """The raw document with `key` removed (a no-op when absent)."""
    raw = _copy(config.raw)
    if config.layout is Layout.DOCKERCFG:
        raw.pop(key, None)
        return raw
    auths = raw.get(_auths_field(raw))
    if isinstance(auths, dict):
        auths.pop(key, None)
    return raw


def merged_with(config: DockerConfig, entries: Iterable[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    """The raw document with raw entry objects merged in by key (used when copying whole files)."""
    raw = _copy(config.raw)
    name = _auths_field(raw)
    auths = raw.get(name) if isinstance(raw.get(name), dict) else {}
    assert isinstance(auths, dict)
    for key, obj in entries:
        auths[key] = obj
    raw[name] = auths
    return raw


def raw_entries(config: DockerConfig) -> dict[str, Any]:
    """The raw entry objects by key, as written in the document."""
    if config.layout is Layout.DOCKERCFG:
        return dict(config.raw)
    auths = config.raw.get(_auths_field(config.raw))
    return dict(auths) if isinstance(auths, dict) else {}


def dumps_file(raw: dict[str, Any]) -> str:
    """A credential file as docker writes it: tab-indented JSON with a trailing newline."""
    return json.dumps(raw, indent="\t", ensure_ascii=False) + "\n"


def _copy(raw: dict[str, Any]) -> dict[str, Any]:
    copied: dict[str, Any] = json.loads(json.dumps(raw))
    return copied

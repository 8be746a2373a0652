"""The kubelet's credential-provider plugin config (`CredentialProviderConfig`): read, validate, merge (pure).

The kubelet reads it from `--image-credential-provider-config` (a file, or a directory of *.json/*.yaml/*.yml
merged in name order) and runs `<--image-credential-provider-bin-dir>/<name>` for images one of a provider's
`matchImages` matches. Both are kubelet *flags* (ContainerRuntimeOptions), not KubeletConfiguration fields.
The kubelet refuses to start when the config is invalid (rules of pkg/credentialprovider/plugin/config.go,
decoded strictly: unknown fields are errors), when the bin dir is missing, or when a provider's executable
is missing from it: so regcred validates every provider of a file it writes, not only its own.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from regcred.core.credentials.matchimage import matches, never_matches, parse_match_image
from regcred.core.credentials.provider import API_VERSIONS, parse_go_duration
from regcred.core.errors import ConfigFormatError, InputError
from regcred.core.safeload import check_json_depth, compose_all, describe_yaml_error, load_one

CONFIG_KIND = "CredentialProviderConfig"
CONFIG_GROUP = "kubelet.config.k8s.io"
CONFIG_API_VERSIONS = (f"{CONFIG_GROUP}/v1", f"{CONFIG_GROUP}/v1beta1", f"{CONFIG_GROUP}/v1alpha1")
PLUGIN_API_VERSIONS = API_VERSIONS  # the plugin protocol's versions (core.credentials.provider)
CONFIG_FLAG = "--image-credential-provider-config"
BIN_DIR_FLAG = "--image-credential-provider-bin-dir"
DEFAULT_CONFIG = "/etc/kubernetes/credential-provider-config.yaml"
DEFAULT_BIN_DIR = "/usr/libexec/kubernetes/kubelet-plugins/credential-provider/exec"
CONFIG_SUFFIXES = (".json", ".yaml", ".yml")

_TOP_FIELDS = {"apiVersion", "kind", "providers"}
_PROVIDER_FIELDS = {"name", "matchImages", "defaultCacheDuration", "apiVersion", "args", "env", "tokenAttributes"}


@dataclass(frozen=True, slots=True)
class Provider:
    """One `providers[]` entry; `obj` is the entry as written (its fingerprint tells whether regcred wrote it)."""

    name: str
    match_images: tuple[str, ...]
    default_cache_duration: str
    api_version: str
    obj: dict[str, Any] = field(repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class ProviderConfig:
    source: str
    providers: tuple[Provider, ...]
    is_json: bool


def provider_object(name: str, match_images: Sequence[str], default_cache_duration: str, api_version: str,
                    args: Sequence[str] = (), env: Sequence[tuple[str, str]] = ()) -> dict[str, Any]:
    """A provider entry in the kubelet's field order (args and env only when given)."""
    obj: dict[str, Any] = {"name": name, "matchImages": list(match_images),
                           "defaultCacheDuration": default_cache_duration, "apiVersion": api_version}
    if args:
        obj["args"] = list(args)
    if env:
        obj["env"] = [{"name": k, "value": v} for k, v in env]
    return obj


def check_new_provider(obj: dict[str, Any]) -> None:
    """The kubelet's rules for one provider regcred is asked to write, plus patterns that could never match."""
    problems = provider_problems(obj)
    for pattern in obj.get("matchImages") or []:
        why = never_matches(pattern) if isinstance(pattern, str) else None
        if why:
            problems.append(f"matchImages {pattern!r} {why}")
    if problems:
        raise InputError(f"provider {obj.get('name')!r}: {problems[0]}",
                         hint="see regcred node provider install --help" if len(problems) == 1
                         else f"and {len(problems) - 1} more problem(s)")


def provider_problems(obj: Any) -> list[str]:
    """Why the kubelet would refuse this provider entry (validateCredentialProviderConfig, strict decoding)."""
    if not isinstance(obj, dict):
        return ["a provider must be an object"]
    problems = [f"unknown field {k!r}" for k in obj if k not in _PROVIDER_FIELDS]
    name = obj.get("name")
    if not isinstance(name, str) or not name:
        problems.append("name is required (the executable's file name in the bin dir)")
    elif "/" in name or " " in name or name in (".", ".."):
        problems.append(f"name {name!r} may not contain '/' or a space, nor be '.' or '..'")
    version = obj.get("apiVersion")
    if version not in PLUGIN_API_VERSIONS:
        problems.append(f"apiVersion {version!r} is not one of {', '.join(PLUGIN_API_VERSIONS)}")
    images = obj.get("matchImages")
    if not isinstance(images, list) or not images:
        problems.append("matchImages needs at least one pattern")
    else:
        for pattern in images:
            if not isinstance(pattern, str) or parse_match_image(pattern) is None:
                problems.append(f"matchImages {pattern!r} is not a valid [host[:port]][/path] pattern")
    duration = obj.get("defaultCacheDuration")
    if not isinstance(duration, str):
        problems.append("defaultCacheDuration is required, a duration such as 12h or 0s")
    else:
        seconds = parse_go_duration(duration)
        if seconds is None:
            problems.append(f"defaultCacheDuration {duration!r} is not a duration such as 12h, 30m or 0s")
        elif seconds < 0:
            problems.append(f"defaultCacheDuration {duration!r} must be 0 or more")
    args = obj.get("args", [])
    if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
        problems.append("args must be a list of strings")
    env = obj.get("env", [])
    if not isinstance(env, list) or not all(
            isinstance(e, dict) and set(e) <= {"name", "value"} and isinstance(e.get("name"), str)
            and isinstance(e.get("value", ""), str) for e in env):
        problems.append("env must be a list of {name, value} strings")
    if "tokenAttributes" in obj and version != PLUGIN_API_VERSIONS[0]:
        problems.append(f"tokenAttributes needs apiVersion {PLUGIN_API_VERSIONS[0]}")
    return problems


def _load(text: str, source: str) -> tuple[Any, bool]:
    from yaml import YAMLError  # lazy: PyYAML costs ~14 ms at import; a JSON config never needs it

    stripped = text.lstrip()
    if stripped.startswith("{"):
        check_json_depth(text, source)
        try:
            return json.loads(text, object_pairs_hook=_no_duplicates), True
        except _Duplicate as exc:
            raise ConfigFormatError(source, f"field {exc.args[0]!r} appears twice: the kubelet's strict decoding "
                                            "refuses it") from None
        except ValueError as exc:
            raise ConfigFormatError(source, f"is not valid JSON: {exc}") from None
    try:
        doc = load_one(text)
        duplicate = _yaml_duplicate(text)
    except YAMLError as exc:
        raise ConfigFormatError(source, f"is not valid YAML: {describe_yaml_error(exc)}") from None
    if duplicate is not None:
        raise ConfigFormatError(source, f"line {duplicate[1]}: field {duplicate[0]!r} appears twice: the kubelet's "
                                        "strict decoding refuses it")
    return doc, False


class _Duplicate(ValueError):
    pass


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _Duplicate(key)
        out[key] = value
    return out


def _yaml_duplicate(text: str) -> tuple[str, int] | None:
    """The first mapping key that appears twice in one mapping (and its line), in a document already bounded."""
    from yaml.nodes import MappingNode, SequenceNode  # lazy: PyYAML costs ~14 ms at import

    seen: set[int] = set()
    stack = list(compose_all(text))
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, MappingNode):
            keys: set[str] = set()
            for key, value in node.value:
                if isinstance(key.value, str) and key.value in keys:
                    return key.value, key.start_mark.line + 1
                keys.add(key.value if isinstance(key.value, str) else "")
                stack.append(value)
        elif isinstance(node, SequenceNode):
            stack.extend(node.value)
    return None


def parse_config(text: str, source: str) -> ProviderConfig:
    """A CredentialProviderConfig as the kubelet decodes and validates it; any problem is one line."""
    doc, is_json = _load(text, source)
    if not isinstance(doc, dict):
        raise ConfigFormatError(source, "is not a CredentialProviderConfig object")
    if doc.get("kind") != CONFIG_KIND or doc.get("apiVersion") not in CONFIG_API_VERSIONS:
        raise ConfigFormatError(source, f"kind must be {CONFIG_KIND} and apiVersion one of "
                                        f"{', '.join(CONFIG_API_VERSIONS)}; the kubelet refuses it")
    unknown = [k for k in doc if k not in _TOP_FIELDS]
    raw = doc.get("providers")
    problems = [f"unknown field {k!r}" for k in unknown]
    if not isinstance(raw, list) or not raw:
        problems.append("providers needs at least one provider")
        raw = []
    seen: set[str] = set()
    providers: list[Provider] = []
    for i, obj in enumerate(raw):
        problems.extend(f"providers[{i}]: {p}" for p in provider_problems(obj))
        if not isinstance(obj, dict):
            continue
        name = str(obj.get("name"))
        if name in seen:
            problems.append(f"providers[{i}]: name {name!r} is a duplicate")
        seen.add(name)
        providers.append(Provider(name, tuple(str(p) for p in obj.get("matchImages") or []),
                                  str(obj.get("defaultCacheDuration")), str(obj.get("apiVersion")), obj))
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise ConfigFormatError(source, f"{problems[0]}{more}: the kubelet refuses this config and does not start")
    return ProviderConfig(source, tuple(providers), is_json)


def duplicate_names(configs: Sequence[ProviderConfig]) -> list[str]:
    """Names found in more than one file of a config directory (the kubelet refuses them)."""
    seen: set[str] = set()
    dups: list[str] = []
    for config in configs:
        for provider in config.providers:
            if provider.name in seen:
                dups.append(provider.name)
            seen.add(provider.name)
    return dups


def providers_for(configs: Sequence[ProviderConfig], repository: str) -> list[dict[str, Any]]:
    """The providers the kubelet asks for a normalised repository, in its order, with the pattern that matched."""
    out = []
    for config in configs:
        for provider in config.providers:
            hit = next((p for p in provider.match_images if matches(p, repository)), None)
            if hit is not None:
                out.append({"name": provider.name, "matched": hit, "config": config.source})
    return out


def with_provider(text: str | None, obj: dict[str, Any]) -> str:
    """The config text with `obj` added, or replacing the provider of the same name; everything else kept."""
    if text is None or not text.strip():
        return _dump_yaml({"apiVersion": CONFIG_API_VERSIONS[0], "kind": CONFIG_KIND, "providers": [obj]})
    if text.lstrip().startswith("{"):
        doc = json.loads(text)
        doc["providers"] = _replaced(doc.get("providers") or [], obj)
        return json.dumps(doc, indent=2) + "\n"
    doc = _round_trip(text)
    doc["providers"] = _replaced(doc.get("providers") or [], obj)
    return _dump_yaml(doc)


def without_provider(text: str, name: str) -> str | None:
    """The config text without provider `name`; None when no provider is left (the kubelet refuses an empty list)."""
    is_json = text.lstrip().startswith("{")
    doc = json.loads(text) if is_json else _round_trip(text)
    kept = [p for p in doc.get("providers") or [] if not (isinstance(p, dict) and p.get("name") == name)]
    if not kept:
        return None
    doc["providers"] = kept
    return json.dumps(doc, indent=2) + "\n" if is_json else _dump_yaml(doc)


def _replaced(providers: list[Any], obj: dict[str, Any]) -> list[Any]:
    for i, current in enumerate(providers):
        if isinstance(current, dict) and current.get("name") == obj["name"]:
            providers[i] = obj
            return providers
    providers.append(obj)
    return providers


def _round_trip(text: str) -> Any:
    """ruamel.yaml's round-trip load of a text parse_config accepted (comments kept); a refusal is one line."""
    from ruamel.yaml.error import YAMLError  # lazy: ruamel.yaml costs ~19 ms at import

    try:
        return _yaml().load(text)
    except YAMLError as exc:
        raise ConfigFormatError("the credential-provider config", f"cannot be edited: {describe_yaml_error(exc)}",
                                hint="edit it by hand") from None


def _yaml() -> Any:
    from ruamel.yaml import YAML  # lazy: ruamel.yaml costs ~19 ms at import

    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.indent(mapping=2, sequence=4, offset=2)
    return yaml


def _dump_yaml(doc: Any) -> str:
    out = io.StringIO()
    _yaml().dump(doc, out)
    return out.getvalue()

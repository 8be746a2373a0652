"""Pull Secrets rendered without a credential: `${VAR}` placeholders a shell fills, or an ExternalSecret ESO fills.

Why this shape: `envsubst` inserts a value as is, so a password placed in the JSON breaks it (`"`, `\\`) and a
plain `envsubst` also eats every other `$word` of the stream (`robot$ci`, the node DaemonSet's script). So the
only placeholder is each registry's `auth`, whose value is base64 of `USER:PASSWORD` (the kubelet reads an entry's
credentials from `auth` when it is set), written `${REGCRED_AUTH_<SPEC>_<N>}`: base64's alphabet cannot break a
JSON string or any YAML scalar style, whatever the password. The commands that fill it are given here too,
with `envsubst`'s explicit variable list so nothing else is touched.

The ExternalSecret (external-secrets.io/v1, template engine v2) builds the same `.dockerconfigjson` in the
cluster from a store: `{{ printf "%s:%s" USER .passwordN | b64enc }}` for each `auth`, so no credential is
ever in the repository and no password character can break the JSON either.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from regcred.core.credentials.gojson import go_compact_dumps
from regcred.core.credentials.pullsecret import KEY_DOCKERCONFIGJSON, TYPE_DOCKERCONFIGJSON
from regcred.core.spec.model import PasswordFrom, Registry, RegistryCredential

SECRET_FORMATS = ("secret", "external-secret")
STORE_KINDS = ("SecretStore", "ClusterSecretStore")
ESO_API_VERSION = "external-secrets.io/v1"


@dataclass(frozen=True, slots=True)
class TemplatedRegistry:
    """One registry of a spec as a template sees it: everything but the password, and where that comes from."""

    index: int
    key: str
    username: str
    email: str
    password_from: PasswordFrom
    variable: str  # the ${VAR} holding base64 of USER:PASSWORD (--no-secrets)
    remote_key: str  # the store key of the password (ExternalSecret)

    @property
    def secret_key(self) -> str:
        """The ExternalSecret `data[].secretKey` (a template field name: letters and digits only)."""
        return f"password{self.index}"


def _upper_name(*parts: object) -> str:
    return re.sub(r"[^A-Z0-9]+", "_", "_".join(map(str, parts)).upper()).strip("_")


def placeholder_name(spec: RegistryCredential, registry: Registry, index: int) -> str:
    """Where the password lives when it is not given: the env variable's own name, else REGCRED_<SPEC>_<N>."""
    source = registry.password_from
    if source is not None and source.env is not None:
        return source.env
    return _upper_name("REGCRED", spec.name, index)


def templated_registries(spec: RegistryCredential) -> list[TemplatedRegistry]:
    """The spec's server credentials in order; `fromSecret` items have no template form and are left out."""
    out: list[TemplatedRegistry] = []
    for index, registry in enumerate(spec.registries):
        if registry.server is None or registry.username is None or registry.password_from is None:
            continue
        out.append(TemplatedRegistry(index, registry.server, registry.username, registry.email,
                                     registry.password_from, _upper_name("REGCRED_AUTH", spec.name, index),
                                     placeholder_name(spec, registry, index)))
    return out


# --- placeholders for envsubst ------------------------------------------------------------------------------


def placeholder_payload(registries: list[TemplatedRegistry]) -> str:
    """The `.dockerconfigjson` text with `"auth": "${VAR}"` in each entry (username shown, kubelet reads auth)."""
    auths: dict[str, dict[str, str]] = {}
    for reg in registries:
        entry = {"username": reg.username, "auth": "${" + reg.variable + "}"}
        if reg.email:
            entry["email"] = reg.email
        auths[reg.key] = entry
    return go_compact_dumps({"auths": auths})


def password_expression(source: PasswordFrom) -> str:
    """A shell word that expands to the password, read from where the spec says it is."""
    if source.env is not None:
        return f'"${{{source.env}}}"'
    if source.file is not None:
        return f'"$(cat {shlex.quote(source.file)})"'
    ref = source.secret_key_ref
    assert ref is not None
    jsonpath = "{.data." + ref.key.replace(".", "\\.") + "}"
    return (f'"$(kubectl get secret -n {shlex.quote(ref.namespace)} {shlex.quote(ref.name)} '
            f'-o jsonpath={shlex.quote(jsonpath)} | base64 -d)"')


def export_command(reg: TemplatedRegistry) -> str:
    """The shell line that sets a placeholder variable: base64 of USER:PASSWORD on one line."""
    return (f"export {reg.variable}=\"$(printf '%s:%s' {shlex.quote(reg.username)} "
            f"{password_expression(reg.password_from)} | base64 | tr -d '\\n')\"")


def envsubst_command(registries: list[TemplatedRegistry], file: str = "FILE") -> str:
    """envsubst with its variable list: only the placeholders are replaced, every other `$` stays."""
    names = " ".join("$" + reg.variable for reg in registries)
    return f"envsubst {shlex.quote(names)} < {file} | kubectl apply -f -"


# --- ExternalSecret -----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SecretStoreRef:
    name: str
    kind: str = "SecretStore"


def go_string(value: str) -> str:
    """A Go interpreted string literal (text/template's string constants) that reads back as `value`."""
    out = []
    for char in value:
        if char in '"\\':
            out.append("\\" + char)
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\x{ord(char):02x}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def _literal_text(text: str) -> str:
    """Template text that prints as `text`: a `{{` in a registry key or user name must not start an action."""
    return text.replace("{{", '{{"{{"}}')


def dockerconfigjson_template(registries: list[TemplatedRegistry]) -> str:
    """The Go template (ESO engine v2) that renders the `.dockerconfigjson` from the store's passwords."""
    entries = []
    for reg in registries:
        static = go_compact_dumps(reg.key) + ':{"username":' + go_compact_dumps(reg.username)
        if reg.email:
            static += ',"email":' + go_compact_dumps(reg.email)
        action = "{{ printf " + go_string("%s:%s") + " " + go_string(reg.username) + f" .{reg.secret_key} | b64enc }}}}"
        entries.append(_literal_text(static + ',"auth":"') + action + '"}')
    return '{"auths":{' + ",".join(entries) + "}}"


def external_secret(spec: RegistryCredential, namespace: str, store: SecretStoreRef, *,
                    metadata: Mapping[str, Any]) -> dict[str, Any]:
    """An ExternalSecret whose target is the spec's pull Secret, labelled as `new_secret` labels it."""
    registries = templated_registries(spec)
    labels = dict(metadata.get("labels") or {})
    annotations = dict(metadata.get("annotations") or {})
    template_meta: dict[str, Any] = {"labels": dict(labels)}  # a copy: a shared dict would dump as a YAML alias
    if annotations:
        template_meta["annotations"] = annotations
    return {
        "apiVersion": ESO_API_VERSION,
        "kind": "ExternalSecret",
        "metadata": {"name": spec.secret_name, "namespace": namespace, "labels": labels},
        "spec": {
            "refreshInterval": "1h",
            "secretStoreRef": {"name": store.name, "kind": store.kind},
            "target": {
                "name": spec.secret_name,
                "creationPolicy": "Owner",
                "template": {
                    "type": TYPE_DOCKERCONFIGJSON,
                    "engineVersion": "v2",
                    "metadata": template_meta,
                    "data": {KEY_DOCKERCONFIGJSON: dockerconfigjson_template(registries)},
                },
            },
            "data": [{"secretKey": reg.secret_key, "remoteRef": {"key": reg.remote_key}} for reg in registries],
        },
    }

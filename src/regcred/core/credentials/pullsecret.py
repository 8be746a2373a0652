"""Image pull Secrets: building them as kubectl does and reading them as the kubelet does."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

from regcred.core.credentials.dockerconfig import DockerConfig, Layout, entry_object, parse
from regcred.core.credentials.gojson import go_compact_dumps
from regcred.core.credentials.source import CredentialSource
from regcred.core.errors import ConfigFormatError, InputError
from regcred.core.names import validate_label, validate_subdomain

DOCKER_HUB_SERVER = "https://index.docker.io/v1/"
TYPE_DOCKERCONFIGJSON = "kubernetes.io/dockerconfigjson"
TYPE_DOCKERCFG = "kubernetes.io/dockercfg"
KEY_DOCKERCONFIGJSON = ".dockerconfigjson"
KEY_DOCKERCFG = ".dockercfg"
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGED_BY_VALUE = "regcred"

# Secret type -> (data key, layout) the kubelet requires; any other type is ignored by the kubelet.
PULL_SECRET_TYPES = {
    TYPE_DOCKERCONFIGJSON: (KEY_DOCKERCONFIGJSON, Layout.CONFIG_JSON),
    TYPE_DOCKERCFG: (KEY_DOCKERCFG, Layout.DOCKERCFG),
}


def dockerconfigjson_payload(server: str, username: str, password: str, email: str = "") -> bytes:
    """The `.dockerconfigjson` bytes kubectl writes: compact Go JSON, no trailing newline."""
    return go_compact_dumps({"auths": {server: entry_object(username, password, email)}}).encode()


def secret_manifest(
    name: str,
    payload: bytes,
    *,
    namespace: str | None = None,
    labels: dict[str, str] | None = None,
    creation_timestamp_null: bool = True,
) -> dict[str, Any]:
    """A kubernetes.io/dockerconfigjson Secret with kubectl's field order."""
    validate_subdomain(name, "Secret")
    metadata: dict[str, Any] = {"name": name}
    if namespace is not None:
        metadata["namespace"] = validate_label(namespace, "namespace")
    if labels:
        metadata["labels"] = dict(labels)
    if creation_timestamp_null:
        metadata["creationTimestamp"] = None
    return {
        "kind": "Secret",
        "apiVersion": "v1",
        "metadata": metadata,
        "data": {KEY_DOCKERCONFIGJSON: base64.b64encode(payload).decode("ascii")},
        "type": TYPE_DOCKERCONFIGJSON,
    }


@dataclass(frozen=True, slots=True)
class PullSecret:
    """A Secret as the kubelet sees it: usable (with its parsed config), or ignored and why."""

    namespace: str | None
    name: str
    type: str
    config: DockerConfig | None
    ignored_reason: str | None = None

    @property
    def source(self) -> str:
        return CredentialSource.secret(self.namespace, self.name).label


def read_pull_secret(obj: dict[str, Any], origin: str = "") -> PullSecret:
    """Interpret a Secret object like the kubelet: only the right type with the right key counts.

    Raises ConfigFormatError when the payload is one the kubelet fails on (the pull would fail).
    """
    meta = obj.get("metadata") or {}
    name = str(meta.get("name") or "")
    namespace = meta.get("namespace")
    secret_type = str(obj.get("type") or "Opaque")
    label = CredentialSource.secret(namespace, name).label
    source = f"{origin}: {label}" if origin else label
    wanted = PULL_SECRET_TYPES.get(secret_type)
    if wanted is None:
        return PullSecret(namespace, name, secret_type, None, f"type {secret_type} is not an image pull secret type")
    data_key, layout = wanted
    raw = secret_value(obj, data_key, source)
    if raw is None or raw == b"":
        return PullSecret(namespace, name, secret_type, None, f"no {data_key!r} key")
    return PullSecret(namespace, name, secret_type, parse(raw, source, layout))


def secret_value(obj: dict[str, Any], key: str, source: str) -> bytes | None:
    """The decoded value of `key` (stringData first, as the apiserver merges it); None when absent."""
    string_data = obj.get("stringData") or {}
    if isinstance(string_data, dict) and isinstance(string_data.get(key), str):
        return str(string_data[key]).encode()
    data = obj.get("data") or {}
    if not isinstance(data, dict) or data.get(key) is None:
        return None
    value = data[key]
    if not isinstance(value, str):
        raise ConfigFormatError(source, f"data[{key!r}] must be a base64 string")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ConfigFormatError(source, f"data[{key!r}] is not valid base64") from None


def require_password(password: str) -> str:
    """kubectl refuses an empty password; so does regcred."""
    if password == "":
        raise InputError("the password is empty", hint="give a non-empty password")
    return password

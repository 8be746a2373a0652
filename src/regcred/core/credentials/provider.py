"""Kubelet credential-provider plugins (KEP-2133) as a credential source: the protocol, without the process.

A plugin reads a `CredentialProviderRequest` on stdin and writes a `CredentialProviderResponse` on stdout
(`credentialprovider.kubelet.k8s.io/v1`; v1beta1 and v1alpha1 are the same shape and the kubelet still speaks
them). Rules kept from the kubelet (pkg/credentialprovider/plugin/plugin.go):

- the request's `image` is the normalised repository without tag or digest;
- the response must carry the request's apiVersion (checked first) and kind `CredentialProviderResponse`;
  it is decoded strictly and case-sensitively (unknown or duplicate fields are errors);
- `cacheKeyType` must be Image, Registry or Global, else the response is discarded;
- `cacheDuration` is a Go duration; absent: the provider's `defaultCacheDuration`; 0: not cached;
- the `auth` keys are matched against the image with the keyring's own rules (`Keyring`).

Errors are one line and never hold a value from the response (it may be a token).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from regcred.core.credentials.imageref import normalize_repository
from regcred.core.credentials.keyring import Credential, Keyring
from regcred.core.credentials.registrykey import index_key
from regcred.core.errors import InputError
from regcred.core.safeload import json_too_deep

GROUP = "credentialprovider.kubelet.k8s.io"
API_VERSIONS = (f"{GROUP}/v1", f"{GROUP}/v1beta1", f"{GROUP}/v1alpha1")
DEFAULT_API_VERSION = API_VERSIONS[0]
CACHE_KEY_TYPES = ("Image", "Registry", "Global")
DEFAULT_TIMEOUT = "10s"
MAX_OUTPUT = 1 << 20  # bytes of stdout read from a plugin; more is an error (a response is a few hundred bytes)
# Go's time.ParseDuration syntax: a sequence of decimal numbers with units; "0" alone; an optional sign.
GO_DURATION = r"^[-+]?(0|(([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h))+)$"
_PART = re.compile(r"([0-9]+(?:\.[0-9]*)?|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h)")
_UNIT = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_RESPONSE_FIELDS = ("kind", "apiVersion", "cacheKeyType", "cacheDuration", "auth")


def parse_go_duration(text: str) -> float | None:
    """Seconds of a Go duration ("1h30m", "10s", "0"); None when Go's ParseDuration would refuse it."""
    if not re.match(GO_DURATION, text):
        return None
    sign = -1.0 if text.startswith("-") else 1.0
    body = text.lstrip("+-")
    return 0.0 if body == "0" else sign * sum(float(n) * _UNIT[u] for n, u in _PART.findall(body))


@dataclass(frozen=True, slots=True)
class CredentialProvider:
    """A validated `credentialProvider` item: how to run the plugin and which image to ask for."""

    command: str
    args: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = field(default=(), repr=False)  # values may be sensitive
    api_version: str = DEFAULT_API_VERSION
    image: str = ""  # the repository sent in the request (normalised)
    timeout: float = 10.0
    default_cache_duration: float = 0.0  # used when the response has no cacheDuration; 0: not cached


def request_image(image: str | None, server: str) -> str:
    """What the kubelet would send: the normalised repository of `image`; without one, the server's key
    (host[:port][/path], as a pull of an image under it would be matched)."""
    if image is None:
        return index_key(server) or server
    return normalize_repository(image)


def request_document(provider: CredentialProvider) -> bytes:
    """The CredentialProviderRequest written to the plugin's stdin."""
    return json.dumps({"kind": "CredentialProviderRequest", "apiVersion": provider.api_version,
                       "image": provider.image}).encode()


@dataclass(frozen=True, slots=True)
class ProviderResponse:
    cache_key_type: str
    cache_duration: float | None  # None: the response had none
    auth: tuple[Credential, ...] = field(repr=False)


class PluginResponseError(InputError):
    """A plugin's answer the kubelet would discard; the message never holds a value from it."""


_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,23}")


def _name(value: Any, otherwise: str = "(not shown)") -> str:
    """A field name or kind as written, when it looks like one (short): a plugin's text may be a token."""
    return repr(value) if isinstance(value, str) and _NAME.fullmatch(value) else otherwise


def _strict_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise PluginResponseError(f"duplicate field {key!r}")
        out[key] = value
    return out


def _auth_entry(value: Any, index: int) -> tuple[str, str]:
    if value is None:
        return "", ""
    if not isinstance(value, dict):
        raise PluginResponseError(f"auth entry {index + 1} is not an object")
    unknown = [k for k in value if k not in ("username", "password")]
    if unknown:
        raise PluginResponseError(f"auth entry {index + 1} has unknown field {_name(unknown[0])}")
    for name in ("username", "password"):
        if not isinstance(value.get(name, ""), str):
            raise PluginResponseError(f"auth entry {index + 1}: {name} is not a string")
    return value.get("username", ""), value.get("password", "")


def parse_response(data: bytes, api_version: str) -> ProviderResponse:
    """Decode and check a plugin's stdout as the kubelet does; PluginResponseError says what is wrong."""
    if len(data) > MAX_OUTPUT:
        raise PluginResponseError(f"its output is larger than {MAX_OUTPUT} bytes")
    if json_too_deep(data):
        raise PluginResponseError("its output is nested too deeply to be a CredentialProviderResponse")
    try:
        doc = json.loads(data, object_pairs_hook=_strict_object)
    except PluginResponseError:
        raise
    except (ValueError, RecursionError):
        raise PluginResponseError("its output is not JSON (expected a CredentialProviderResponse)") from None
    if not isinstance(doc, dict):
        raise PluginResponseError("its output is not a JSON object (expected a CredentialProviderResponse)")
    got = doc.get("apiVersion")
    if got != api_version:
        plausible = got is None or (isinstance(got, str) and got.startswith(f"{GROUP}/") and len(got) < 64)
        shown = repr(got) if plausible else "another value"
        raise PluginResponseError(f"its response has apiVersion {shown}, not the request's {api_version!r}")
    if doc.get("kind") != "CredentialProviderResponse":
        shown = _name(doc.get("kind"), "another")
        raise PluginResponseError(f"its response has kind {shown}, not 'CredentialProviderResponse'")
    unknown = [k for k in doc if k not in _RESPONSE_FIELDS]
    if unknown:
        raise PluginResponseError(f"its response has unknown field {_name(unknown[0])}")
    key_type = doc.get("cacheKeyType")
    if key_type not in CACHE_KEY_TYPES:
        raise PluginResponseError(f"its response has no valid cacheKeyType (one of {', '.join(CACHE_KEY_TYPES)})")
    duration: float | None = None
    if doc.get("cacheDuration") is not None:
        raw = doc["cacheDuration"]
        duration = parse_go_duration(raw) if isinstance(raw, str) else None
        if duration is None:
            raise PluginResponseError("its response's cacheDuration is not a Go duration such as 12h or 30m")
    auth = doc.get("auth") or {}
    if not isinstance(auth, dict):
        raise PluginResponseError("its response's auth is not an object")
    creds = tuple(Credential(key, *_auth_entry(value, i), source="credential provider")
                  for i, (key, value) in enumerate(auth.items()))
    return ProviderResponse(key_type, duration, creds)


def choose(response: ProviderResponse, image: str) -> Credential:
    """The credential the kubelet would try first for `image` (a request image), under the keyring's rules."""
    keyring = Keyring()
    for credential in response.auth:
        keyring.add(credential)
    found = keyring.lookup_repository(image)
    if not found:
        raise PluginResponseError(f"its response has no auth entry matching {image!r} "
                                  f"({len(response.auth)} entries returned)")
    return found[0]


def lifetime(response: ProviderResponse, provider: CredentialProvider) -> float:
    """Seconds the credential may be reused (0: not cached), as the kubelet's cache decides it."""
    duration = provider.default_cache_duration if response.cache_duration is None else response.cache_duration
    return max(duration, 0.0)


def serves(server: str, image: str) -> bool:
    """Whether a pull Secret entry under `server` is used by the kubelet for `image` (a request image)."""
    keyring = Keyring()
    return keyring.add(Credential(server, "", "")) and bool(keyring.lookup_repository(image))

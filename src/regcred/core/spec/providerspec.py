"""A `registries[].credentialProvider` item, structurally valid, as a typed `CredentialProvider`.

The rules its schema cannot say: a timeout above zero, an image the container runtime would accept, a
server that is no glob when no image is given (a glob cannot be asked for), and an image the server's
pull Secret entry actually serves (else the plugin's credential would be written where no pull uses it).
"""

from __future__ import annotations

from typing import Any

from regcred.core.credentials.provider import (
    DEFAULT_API_VERSION,
    DEFAULT_TIMEOUT,
    CredentialProvider,
    parse_go_duration,
    request_image,
    serves,
)
from regcred.core.credentials.registrykey import GLOB_CHARS
from regcred.core.errors import ImageReferenceError


def provider_from_spec(raw: dict[str, Any], server: str, path: str) -> tuple[CredentialProvider | None, list[str]]:
    """The typed provider and the problems found (each 'path: what is wrong'); None when there are problems."""
    problems: list[str] = []
    timeout = parse_go_duration(raw.get("timeout", DEFAULT_TIMEOUT)) or 0.0
    if timeout <= 0:
        problems.append(f"{path}.timeout: must be more than 0 (for example 10s)")
    default_cache = parse_go_duration(raw.get("defaultCacheDuration", "0")) or 0.0
    if default_cache < 0:
        problems.append(f"{path}.defaultCacheDuration: must not be negative")
    image = raw.get("image")
    if image is None and GLOB_CHARS.search(server):
        problems.append(f"{path}.image: required when the server {server!r} is a glob (name an image it serves)")
        return None, problems
    try:
        asked = request_image(image, server)
    except ImageReferenceError as exc:
        problems.append(f"{path}.image: {exc.message}")
        return None, problems
    if image is not None and not serves(server, asked):
        problems.append(f"{path}.image: {image!r} is not served by the server {server!r} under the kubelet's "
                        "matching rules (the credential is written under the server)")
    if problems:
        return None, problems
    env = tuple((e["name"], e["value"]) for e in raw.get("env") or ())
    return CredentialProvider(raw["command"], tuple(raw.get("args") or ()), env,
                              raw.get("apiVersion", DEFAULT_API_VERSION), asked, timeout, default_cache), []


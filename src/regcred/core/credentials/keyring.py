"""The kubelet's credential keyring: which credentials it tries for a repository, in which order.

Rules (kubelet pkg/credentialprovider): keys are normalised to host[:port][/path]; a key matches when the
ports are equal, the host has as many dot-separated labels and each label matches as a Go glob, and the
key's path is a plain string prefix of the image's path. All matching keys contribute, in reverse byte
order of the key; the Docker Hub key `index.docker.io` is a fallback used only when nothing matched. Keys
are indexed by host so a lookup touches only the keys that can match. See docs/concepts/kubelet-rules.md#c and #d.

`lookup(image)` takes any image reference and normalises it first (`nginx:1.25` and
`docker.io/library/nginx` agree); `lookup_repository` is the kubelet's own entry point, taking the
already-normalised repository string verbatim.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from regcred.core.credentials import gomatch
from regcred.core.credentials.dockerconfig import DockerConfig
from regcred.core.credentials.imageref import ImageReference, parse_image
from regcred.core.credentials.registrykey import GLOB_CHARS, ParsedKey, index_key, parse_schemeless

DOCKER_HUB_INDEX_KEY = "index.docker.io"
_PLAIN_REPOSITORY = re.compile(r"\A[a-z0-9._\-]+(?::[0-9]+)?(?:/[A-Za-z0-9._\-/:]*)?\Z")


@dataclass(frozen=True, slots=True)
class Credential:
    """One username/password the kubelet would hand to the runtime, and where it came from."""

    key: str
    username: str
    password: str = field(repr=False)
    email: str = ""
    source: str = ""


@dataclass(slots=True)
class _Slot:
    index_key: str
    parsed: ParsedKey
    credentials: list[Credential]
    host_pattern: re.Pattern[str] | None = None


@dataclass(frozen=True, slots=True)
class SkippedKey:
    """A key the kubelet drops because Go's url.Parse rejects it."""

    key: str
    source: str


def _target(repository: str) -> tuple[str, str, str] | None:
    """(host, port, path) of the looked-up repository; a fast path for the usual normalised names."""
    if _PLAIN_REPOSITORY.match(repository):
        hostport, slash, rest = repository.partition("/")
        host, _, port = hostport.partition(":")
        return host, port, slash + rest
    parsed = parse_schemeless(repository)
    return None if parsed is None else (parsed.host, parsed.port, parsed.path)


def is_default_registry_match(repository: str) -> bool:
    """kubelet isDefaultRegistryMatch: does this repository name mean Docker Hub?"""
    first, sep, _ = repository.partition("/")
    if not first:
        return False
    if not sep:
        return True
    if first in ("docker.io", DOCKER_HUB_INDEX_KEY):
        return True
    return "." not in first and ":" not in first


def _literal_tail(labels: tuple[str, ...]) -> tuple[str, ...]:
    """The trailing labels of a host glob that hold no glob character."""
    size = 0
    for label in reversed(labels):
        if GLOB_CHARS.search(label):
            break
        size += 1
    return labels[len(labels) - size :]


def _by_index_key(slot: _Slot) -> str:
    return slot.index_key


class Keyring:
    """A set of credentials indexed like the kubelet's BasicDockerKeyring."""

    def __init__(self) -> None:
        self._slots: dict[str, _Slot] = {}
        self._exact: dict[tuple[str, str], list[_Slot]] = {}
        # Glob keys by (port, label count), then by how many trailing labels are literal, then by those labels:
        # a lookup only runs the globs whose literal tail equals the host's tail.
        self._globs: dict[tuple[str, int], dict[int, dict[str, list[_Slot]]]] = {}
        self.skipped: list[SkippedKey] = []

    def __len__(self) -> int:
        return len(self._slots)

    def add(self, credential: Credential) -> bool:
        """Add under the normalised key; False (and recorded in `skipped`) when the kubelet would skip it."""
        key, parsed = _indexed(credential.key)
        if key is None or parsed is None:
            self.skipped.append(SkippedKey(credential.key, credential.source))
            return False
        slot = self._slots.get(key)
        if slot is None:
            slot = _Slot(key, parsed, [])
            self._slots[key] = slot
            if GLOB_CHARS.search(parsed.host):
                labels = tuple(parsed.host.split("."))
                slot.host_pattern = gomatch.compile_host(labels)
                tail = _literal_tail(labels)
                by_tail = self._globs.setdefault((parsed.port, len(labels)), {}).setdefault(len(tail), {})
                by_tail.setdefault(".".join(tail), []).append(slot)
            else:
                bucket = self._exact.setdefault((parsed.host, parsed.port), [])
                bucket.append(slot)
                bucket.sort(key=_by_index_key, reverse=True)
        slot.credentials.append(credential)
        return True

    def add_config(self, config: DockerConfig, source: str) -> None:
        """Add every entry of a parsed file or Secret payload, in document order."""
        for entry in config.entries:
            self.add(Credential(entry.key, entry.username, entry.password, entry.email, source))

    def lookup(self, image: str | ImageReference) -> list[Credential]:
        """The credentials the kubelet would try for an image, in order; the image is normalised first.

        Raises ImageReferenceError for a reference the container runtime would refuse.
        """
        reference = image if isinstance(image, ImageReference) else parse_image(image)
        return self.lookup_repository(reference.repository)

    def lookup_repository(self, repository: str) -> list[Credential]:
        """The credentials for an already-normalised repository string, taken verbatim (the kubelet's input)."""
        target = _target(repository)
        # A repository Go's url.Parse rejects matches no key, but the Docker Hub fallback still applies.
        host, port, path = target if target is not None else ("", "", "")
        matched = (
            [slot for slot in self._exact.get((host, port), ()) if path.startswith(slot.parsed.path)]
            if target is not None else []
        )
        groups = self._globs.get((port, host.count(".") + 1)) if self._globs and target is not None else None
        if groups:
            labels = host.split(".")
            for size, by_tail in groups.items():
                for slot in by_tail.get(".".join(labels[len(labels) - size :]) if size else "", ()):
                    pattern = slot.host_pattern
                    if pattern is not None and pattern.match(host) and path.startswith(slot.parsed.path):
                        matched.append(slot)
        if not matched:
            hub = self._slots.get(DOCKER_HUB_INDEX_KEY)
            if hub is not None and is_default_registry_match(repository):
                return list(hub.credentials)
            return []
        if len(matched) == 1:
            return list(matched[0].credentials)
        matched.sort(key=_by_index_key, reverse=True)
        return [cred for slot in matched for cred in slot.credentials]


def _indexed(key: str) -> tuple[str | None, ParsedKey | None]:
    normal = index_key(key)
    return normal, (parse_schemeless(normal) if normal is not None else None)


def kubelet_skips(key: str) -> bool:
    """Whether the kubelet drops this registry key (not a URL it can parse) instead of indexing it."""
    return _indexed(key)[1] is None


def build_keyring(configs: Iterable[tuple[DockerConfig, str]]) -> Keyring:
    """One keyring from several documents (a pod's pull secrets go into one keyring, in list order)."""
    keyring = Keyring()
    for config, source in configs:
        keyring.add_config(config, source)
    return keyring


def lookup_pull_credentials(repository: str, *keyrings: Keyring) -> list[Credential]:
    """Pod secrets, then node files, then plugins: each looked up on its own, results concatenated."""
    return [cred for keyring in keyrings for cred in keyring.lookup_repository(repository)]

"""Image references normalised as the kubelet normalises them before a credential lookup.

`nginx:1.25` -> `docker.io/library/nginx`: the docker reference grammar (distribution/reference),
Docker Hub defaults, tag and digest dropped. The result is the exact string the keyring receives.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from regcred.core.credentials.registrykey import DOCKER_HUB_API_HOST
from regcred.core.errors import ImageReferenceError

DEFAULT_DOMAIN = "docker.io"
LEGACY_DEFAULT_DOMAIN = "index.docker.io"
OFFICIAL_REPO_PREFIX = "library/"
NAME_TOTAL_LENGTH_MAX = 255

_ALNUM = r"[a-z0-9]+"
_SEPARATOR = r"(?:[._]|__|[-]+)"
_PATH_COMPONENT = rf"{_ALNUM}(?:{_SEPARATOR}{_ALNUM})*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN_NAME = rf"{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*"
_IPV6 = r"\[(?:[a-fA-F0-9:]+)\]"
_HOST = rf"(?:{_DOMAIN_NAME}|{_IPV6})"
_DOMAIN = rf"{_HOST}(?::[0-9]+)?"
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"
# The grammar's pieces, for callers that check a repository path, tag or digest on its own.
PATH_PATTERN = re.compile(rf"{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*")
TAG_PATTERN = re.compile(_TAG)
DIGEST_PATTERN = re.compile(_DIGEST)
_REFERENCE = re.compile(
    rf"\A(?P<name>(?:{_DOMAIN}/)?{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*)"
    rf"(?::(?P<tag>{_TAG}))?(?:@(?P<digest>{_DIGEST}))?\Z"
)
_ANCHORED_IDENTIFIER = re.compile(r"\A[a-f0-9]{64}\Z")


@dataclass(frozen=True, slots=True)
class ImageReference:
    """A parsed image reference: `repository` is what the kubelet's keyring looks up."""

    original: str
    domain: str
    path: str
    tag: str | None
    digest: str | None

    @property
    def repository(self) -> str:
        return f"{self.domain}/{self.path}"

    @property
    def registry(self) -> str:
        """The host[:port] a client contacts (Docker Hub's API host for docker.io)."""
        return DOCKER_HUB_API_HOST if self.domain == DEFAULT_DOMAIN else self.domain


def names_a_registry(first: str) -> bool:
    """Whether the first path component of a reference is a registry host (docker's rule: '.', ':',
    `localhost`, or an upper-case letter), not the first part of a Docker Hub repository."""
    return any(c in first for c in ".:") or first == "localhost" or first.lower() != first


def _split_domain(name: str) -> tuple[str, str]:
    first, sep, rest = name.partition("/")
    if not sep or not names_a_registry(first):
        domain, remainder = DEFAULT_DOMAIN, name
    else:
        domain, remainder = first, rest
    if domain == LEGACY_DEFAULT_DOMAIN:
        domain = DEFAULT_DOMAIN
    if domain == DEFAULT_DOMAIN and "/" not in remainder:
        remainder = OFFICIAL_REPO_PREFIX + remainder
    return domain, remainder


def parse_image(image: str) -> ImageReference:
    """Parse and normalise an image reference as the kubelet does (ParseNormalizedNamed)."""
    if not image:
        raise ImageReferenceError("invalid image reference '': empty", hint="give an image such as nginx:1.25")
    if _ANCHORED_IDENTIFIER.match(image):
        raise ImageReferenceError(
            f"invalid image reference {image!r}: a 64-character hex string is an image ID, not a repository name"
        )
    domain, remainder = _split_domain(image)
    name_part = re.split(r"[:@]", remainder, maxsplit=1)[0]
    if name_part != name_part.lower():
        raise ImageReferenceError(f"invalid image reference {image!r}: repository name must be lowercase")
    match = _REFERENCE.match(f"{domain}/{remainder}")
    if not match:
        raise ImageReferenceError(
            f"invalid image reference {image!r}: not of the form [registry[:port]/]name[:tag][@digest]"
        )
    name = match.group("name")
    if len(name) > NAME_TOTAL_LENGTH_MAX:
        raise ImageReferenceError(f"invalid image reference {image!r}: repository name longer than 255 characters")
    return ImageReference(
        original=image,
        domain=domain,
        path=name[len(domain) + 1 :],
        tag=match.group("tag"),
        digest=match.group("digest"),
    )


def normalize_repository(image: str) -> str:
    """`nginx:1.25` -> `docker.io/library/nginx`."""
    return parse_image(image).repository

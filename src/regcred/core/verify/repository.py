"""Which manifest a verification pulls: `--repository` values and the ones that apply to one registry."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from regcred.core.credentials.imageref import (  # the reference grammar
    DIGEST_PATTERN,
    PATH_PATTERN,
    TAG_PATTERN,
    names_a_registry,
)
from regcred.core.credentials.registrykey import DOCKER_HUB_API_HOST, DOCKER_HUB_HOSTS
from regcred.core.errors import InputError

DEFAULT_TAG = "latest"


@dataclass(frozen=True, slots=True)
class RepositoryRef:
    """A repository path on one registry and the tag or digest whose manifest is checked."""

    path: str
    reference: str = DEFAULT_TAG
    registry: str | None = None  # None: applies to every registry verified
    by_digest: bool = False

    @property
    def label(self) -> str:
        """How the repository is named in results (`team/app:v1`, `team/app@sha256:…`)."""
        return f"{self.path}{'@' if self.by_digest else ':'}{self.reference}"


def parse_repository_option(value: str) -> RepositoryRef:
    """`REPO[:TAG]`, `REPO@DIGEST` or `HOST/REPO[:TAG]` (a first component that names a registry, as in images)."""
    text = value.strip()
    if not text or any(c.isspace() for c in text):
        raise InputError(f"invalid --repository {value!r}", hint="use REPO[:TAG] such as team/app:v1")
    registry: str | None = None
    first, sep, rest = text.partition("/")
    if sep and names_a_registry(first):
        registry, text = first, rest
    by_digest = "@" in text
    if by_digest:
        path, _, reference = text.partition("@")
    else:
        path, colon, tag = text.rpartition(":")
        if not colon or "/" in tag:
            path, reference = text, DEFAULT_TAG
        else:
            reference = tag
    reference_ok = (DIGEST_PATTERN if by_digest else TAG_PATTERN).fullmatch(reference) is not None
    if not PATH_PATTERN.fullmatch(path) or not reference_ok:
        raise InputError(f"invalid --repository {value!r}",
                         hint="use REPO[:TAG] or REPO@DIGEST such as team/app:v1 (lower-case repository names)")
    if registry in DOCKER_HUB_HOSTS:
        registry = DOCKER_HUB_API_HOST
        if "/" not in path:
            path = f"library/{path}"
    return RepositoryRef(path, reference, registry, by_digest)


def repositories_for(registry: str, refs: Iterable[RepositoryRef]) -> list[RepositoryRef]:
    """The --repository values that apply to one registry (unqualified ones apply everywhere)."""
    seen: set[tuple[str, str]] = set()
    chosen: list[RepositoryRef] = []
    for ref in refs:
        if ref.registry is not None and ref.registry != registry:
            continue
        if registry == DOCKER_HUB_API_HOST and "/" not in ref.path:
            ref = replace(ref, path=f"library/{ref.path}")  # `nginx` is `library/nginx` on Docker Hub
        if (ref.path, ref.reference) not in seen:
            seen.add((ref.path, ref.reference))
            chosen.append(ref)
    return chosen

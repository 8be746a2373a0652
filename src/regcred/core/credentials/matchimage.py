"""The kubelet's `matchImages` rule for credential-provider plugins (pkg/credentialprovider URLsMatchStr).

A plugin is asked for an image only when one of its `matchImages` matches the image's normalised repository
(`docker.io/library/nginx`): both are parsed with `ParseSchemelessURL` (`https://` put in front, always),
the ports must be equal, the hosts must have as many dot-separated labels and each label must match as a
Go `filepath.Match` glob, and the pattern's path must be a plain string prefix of the image's path. A
pattern Go cannot parse makes the kubelet's config invalid; a malformed glob label never matches.
"""

from __future__ import annotations

from regcred.core.credentials import gomatch
from regcred.core.credentials.registrykey import ParsedKey, parse_schemeless


def parse_match_image(pattern: str) -> ParsedKey | None:
    """ParseSchemelessURL: `https://` is always put in front (a pattern with a scheme parses, host `https`)."""
    return parse_schemeless("https://" + pattern)


def matches(pattern: str, repository: str) -> bool:
    """URLsMatchStr(pattern, repository): does the kubelet ask this plugin for this repository?"""
    glob, target = parse_match_image(pattern), parse_match_image(repository)
    if glob is None or target is None or glob.port != target.port:
        return False
    glob_labels, target_labels = glob.host.split("."), target.host.split(".")
    if len(glob_labels) != len(target_labels):
        return False
    if not all(gomatch.match(g, t) for g, t in zip(glob_labels, target_labels, strict=True)):
        return False
    return target.path.startswith(glob.path)


def never_matches(pattern: str) -> str | None:
    """Why a pattern the kubelet accepts can never match an image (regcred refuses to write such a one)."""
    if pattern.startswith(("https://", "http://")):
        return "has a scheme: the kubelet puts https:// in front of every pattern, so it never matches"
    parsed = parse_match_image(pattern)
    if parsed is None:
        return None  # the kubelet's own rule refuses it first
    if not parsed.host:
        return "names no host"
    for label in parsed.host.split("."):
        if gomatch.compile_host((label,)) is None:
            return f"label {label!r} is a malformed glob: it never matches"
    return None

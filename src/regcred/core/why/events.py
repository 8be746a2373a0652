"""What a Pod's Events say about its image pulls, told apart by cause.

The kubelet's image manager (pkg/kubelet/images/image_manager.go) records a Warning `Failed` event
`Failed to pull image "IMAGE": ERR`, then `Failed` `Error: ErrImagePull`, then `BackOff` `Back-off pulling image
"IMAGE"` and `Failed` `Error: ImagePullBackOff`; a Secret it cannot fetch gives `FailedToRetrieveImagePullSecret`,
and a success `Pulled`. ERR is the runtime's: containerd words a refused pull `pulling from host H failed with
status code [manifests v1]: 401 Unauthorized` (Basic) or `failed to authorize: failed to fetch anonymous token:
unexpected status ...: 401 Unauthorized` (token auth), an unknown tag `failed to resolve reference "IMAGE": IMAGE:
not found`, CRI-O `manifest unknown`; TLS and network failures keep Go's `x509: ...` and `i/o timeout` wording.
Recorded examples: tests/unit/why/test_events.py. Events come in both API shapes (core/v1 and events.k8s.io/v1).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

# cause -> (pattern on the message, what it means); the first match wins, so the order matters
CAUSES: tuple[tuple[str, re.Pattern[str], str], ...] = tuple((c, re.compile(p, re.IGNORECASE), m) for c, p, m in (
    ("x509", r"x509:|certificate (signed by unknown authority|is not valid|has expired)|tls: failed to verify",
     "the node does not trust the registry's TLS certificate"),
    ("timeout", r"i/o timeout|deadline exceeded|Client\.Timeout|TLS handshake timeout|connection timed out",
     "the node cannot reach the registry in time (network, DNS, firewall or proxy)"),
    ("unauthorized", r"\b401\b|unauthorized|failed to authorize|authentication required|\b403\b|forbidden|"
     r"access to the resource is denied|denied:",
     "the registry refused the pull: no credential, a wrong one, or one without access to this repository"),
    ("not-found", r"manifest unknown|: not found\b|\bnot found: manifest|name unknown|\b404\b",
     "the registry has no such repository or tag: fix the image reference or push the image"),
    ("unreachable", r"no such host|connection refused|network is unreachable|server misbehaving",
     "the node cannot reach the registry (address, DNS or network)"),
))
PULL_FAILED = ("Failed", "ErrImagePull", "ImagePullBackOff", "BackOff")
SECRET_NOT_FETCHED = "FailedToRetrieveImagePullSecret"
_IMAGE_IN_MESSAGE = re.compile(r'(?:pull(?:ing)? image|Back-off pulling image|image) "([^"]+)"', re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class PullEvent:
    """One Event about a pull: its reason and message as recorded, the image it names, its cause, how many times."""

    reason: str
    message: str
    image: str | None
    cause: str | None
    meaning: str | None
    count: int
    last: str

    def as_json(self) -> dict[str, Any]:
        return {"reason": self.reason, "message": self.message, "image": self.image, "cause": self.cause,
                "meaning": self.meaning, "count": self.count, "last": self.last or None}

    @property
    def failed(self) -> bool:
        return self.cause is not None or self.message in ("Error: ErrImagePull", "Error: ImagePullBackOff")


def classify(message: str) -> tuple[str | None, str | None]:
    """(cause, meaning) of a pull failure message; (None, None) when no known cause is named."""
    for cause, pattern, meaning in CAUSES:
        if pattern.search(message):
            return cause, meaning
    return None, None


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _count(event: Mapping[str, Any]) -> int:
    series = event.get("series")
    for value in ((series or {}).get("count") if isinstance(series, Mapping) else None,
                  event.get("deprecatedCount"), event.get("count")):
        if isinstance(value, int) and value > 0:
            return value
    return 1


def pull_events(events: Iterable[Mapping[str, Any]]) -> list[PullEvent]:
    """The Events about image pulls (failures, back-offs, Secrets not fetched, successes), oldest first."""
    found: list[PullEvent] = []
    for event in events:
        reason = _text(event.get("reason"))
        message = _text(event.get("note")) or _text(event.get("message"))
        if reason not in (*PULL_FAILED, SECRET_NOT_FETCHED, "Pulled", "Pulling"):
            continue
        if reason == "Failed" and "image" not in message.lower() and not message.startswith("Error: "):
            continue  # a Failed event about something else (a volume, a probe)
        match = _IMAGE_IN_MESSAGE.search(message)
        cause, meaning = (None, None) if reason in ("Pulled", "Pulling") else classify(message)
        if reason == SECRET_NOT_FETCHED:
            cause, meaning = "secret-not-fetched", "the kubelet could not fetch a listed pull Secret and skipped it"
        last = (_text(event.get("deprecatedLastTimestamp")) or _text(event.get("lastTimestamp"))
                or _text(event.get("eventTime")))
        found.append(PullEvent(reason, message, match.group(1) if match else None, cause, meaning, _count(event), last))
    found.sort(key=lambda e: e.last)
    return found


def failing_causes(events: Iterable[PullEvent], image: str) -> list[str]:
    """The causes of the failures recorded for `image` after its last success (none: it pulled, or no event)."""
    causes: list[str] = []
    for event in events:
        if event.image not in (image, None):
            continue
        if event.reason == "Pulled" and event.image == image:
            causes = []
        elif event.cause is not None and event.cause != "secret-not-fetched" and event.cause not in causes:
            causes.append(event.cause)
    return causes

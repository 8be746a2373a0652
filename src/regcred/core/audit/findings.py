"""What an audit reports: findings with stable codes and severities, the state it reads, the credentials it saw.

The codes are an interface (documented in the README): scripts filter on them, so they never change meaning.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from regcred.core.credentials.keyring import Credential, Keyring

ERROR = "error"
WARNING = "warning"

# code -> severity; the stable list documented in the README (regcred audit)
CODES: dict[str, str] = {
    "missing-secret": ERROR,
    "secret-wrong-type": ERROR,
    "secret-missing-key": ERROR,
    "secret-unusable": ERROR,
    "secret-no-auths": ERROR,
    "secret-wrong-layout": ERROR,
    "secret-empty": WARNING,
    "secret-key-skipped": WARNING,
    "uncovered-image": ERROR,
    "uncovered-public-image": WARNING,
    "invalid-image": ERROR,
    "sa-missing-secret": ERROR,
    "missing-service-account": ERROR,
    "unknown-service-account": WARNING,
    "duplicate-pull-secret": WARNING,
    "empty-pull-secret-name": WARNING,
    "pod-stale-pull-secrets": WARNING,
    "node-credentials-shared": WARNING,
    "credential-rejected": ERROR,
    "credential-over-privileged": WARNING,
    "pull-secrets-miss-image": WARNING,
    "anonymous-pull-refused": ERROR,
    "anonymous-pull-unverified": WARNING,
}

@dataclass(frozen=True, slots=True)
class Finding:
    """One problem: a stable code, its severity, the object (`Kind/namespace/name`) and a one-line fix."""

    code: str
    object: str
    message: str

    @property
    def severity(self) -> str:
        return CODES[self.code]

    def as_json(self) -> dict[str, str]:
        return {"code": self.code, "severity": self.severity, "object": self.object, "message": self.message}


@dataclass(slots=True)
class ClusterState:
    """Everything the simulation reads: objects as plain dicts, node credential files already parsed."""

    objects: list[dict[str, Any]] = field(default_factory=list)
    node_keyring: Keyring = field(default_factory=Keyring)
    node_source: str | None = None  # the object name of the node file, `NodeConfig/<path>`
    live: bool = False  # the lists are complete (API), so an absent ServiceAccount really is absent


@dataclass(frozen=True, slots=True)
class CredentialUse:
    """A credential the kubelet would try, and the images it would be tried for (for --verify)."""

    credential: Credential
    images: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class CredentialCheck:
    """One --verify check of a credential for one registry: who (never the password) and the verify row."""

    source: str
    key: str
    username: str
    row: dict[str, Any]


@dataclass(frozen=True, slots=True)
class AnonymousPull:
    """An image a Pod or template would pull without credentials (for --verify), and the fix if refused: a sentence
    ending in the command, and the command alone."""

    object: str
    image: str
    fix: str
    command: str = ""


@dataclass(slots=True)
class AuditReport:
    images: list[dict[str, Any]] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    credential_uses: list[CredentialUse] = field(default_factory=list)
    # for `audit --report` (not in as_json): every namespace seen, the pull Secrets' creation times, verify rows
    namespaces: list[str] = field(default_factory=list)
    secrets_created: dict[str, str | None] = field(default_factory=dict)
    checks: list[CredentialCheck] = field(default_factory=list)
    # for --verify and `why` (not in as_json): images pulled without credentials, and per row of `images` every
    # credential the kubelet would try, in order
    anonymous_pulls: list[AnonymousPull] = field(default_factory=list)
    tried: list[tuple[Credential, ...]] = field(default_factory=list)

    @property
    def has_errors(self) -> bool:
        return any(f.severity == ERROR for f in self.findings)

    def as_json(self) -> dict[str, Any]:
        return {"images": self.images, "findings": [f.as_json() for f in self.findings]}


def object_name(kind: str, namespace: str | None, name: str) -> str:
    return f"{kind}/{namespace}/{name}" if namespace else f"{kind}/{name}"

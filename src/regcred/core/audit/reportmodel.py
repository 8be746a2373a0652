"""What `audit --report` shows, as plain data: the coverage matrix, findings by code, credential status and ages.

Pure: built from an AuditReport (and the time of the report), rendered elsewhere (shells/auditreport.py).

The coverage matrix has one row per namespace the audit saw and one column per registry any image names. A
cell sums up the images of that namespace pulled from that registry, worst first:

- broken:     some pull fails though a credential is there (a Secret the kubelet cannot decode, or --verify
              found the credential it would use rejected);
- missing:    some image is pulled anonymously from a registry that other images reach with a credential;
- covered:    every image gets a credential (that --verify, when asked, did not reject);
- not-needed: every image is pulled anonymously from a registry no credential of the cluster names;
- "" (none):  the namespace pulls nothing from that registry.

Invalid image references have no registry: they appear as invalid-image findings, not in the matrix. Findings
are read generically (code, severity, object, message), so codes added later show up without a change here.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from regcred.core.audit.findings import AuditReport, CredentialCheck, Finding
from regcred.core.audit.verification import is_rejected

BROKEN = "broken"
MISSING = "missing"
COVERED = "covered"
NOT_NEEDED = "not-needed"
NONE = ""
STATES = (BROKEN, MISSING, COVERED, NOT_NEEDED)  # worst first
_RANK = {state: rank for rank, state in enumerate((*STATES, NONE))}


@dataclass(frozen=True, slots=True)
class Cell:
    state: str
    images: int = 0  # image rows (containers) of the namespace pulling from the registry


@dataclass(frozen=True, slots=True)
class MatrixRow:
    namespace: str
    cells: tuple[Cell, ...]  # one per registry, in ReportModel.registries order

    @property
    def worst(self) -> str:
        return min((c.state for c in self.cells), key=_RANK.__getitem__, default=NONE)


@dataclass(frozen=True, slots=True)
class FindingGroup:
    code: str
    severity: str
    findings: tuple[Finding, ...]


@dataclass(frozen=True, slots=True)
class CredentialStatus:
    """One credential checked for one registry by --verify (never its password)."""

    registry: str
    key: str
    source: str
    username: str
    status: str  # ok, rejected, over-privileged
    pulls_ok: int
    pulls: int
    expires_in_s: float | None
    error: str


@dataclass(frozen=True, slots=True)
class SecretAge:
    secret: str
    age_days: float


@dataclass(slots=True)
class ReportModel:
    registries: list[str] = field(default_factory=list)
    matrix: list[MatrixRow] = field(default_factory=list)
    groups: list[FindingGroup] = field(default_factory=list)
    severities: dict[str, int] = field(default_factory=dict)
    credentials: list[CredentialStatus] = field(default_factory=list)
    verified: bool = False
    ages: list[SecretAge] = field(default_factory=list)

    def namespaces_by_state(self) -> dict[str, int]:
        """How many namespaces have each state as their worst (namespaces pulling nothing: "")."""
        counts = Counter(row.worst for row in self.matrix)
        return {state: counts[state] for state in (*STATES, NONE)}

    def registry_states(self) -> dict[str, dict[str, int]]:
        """Per registry, how many namespaces are in each state (the empty cells left out)."""
        return {registry: {state: sum(1 for row in self.matrix if row.cells[i].state == state) for state in STATES}
                for i, registry in enumerate(self.registries)}


def registry_of(repository: str) -> str:
    """The registry host of a normalised repository (`host[:port]/path`)."""
    return repository.split("/", 1)[0]


def namespace_of(object_ref: str, known: set[str]) -> str | None:
    """The namespace of `Kind/namespace/name`: the shortest known one it starts with (manifests may put a `/`
    in a name or a namespace, which the API server refuses), else up to the next `/`; None for `Kind/name`."""
    kind_end = object_ref.find("/")
    rest = object_ref[kind_end + 1:]
    ends = [i for i, char in enumerate(rest) if char == "/"]
    if kind_end < 0 or not ends:
        return None
    return next((rest[:i] for i in ends if rest[:i] in known), rest[:ends[0]])


def check_status(row: dict[str, Any]) -> str:
    if is_rejected(row):  # what credential-rejected reports
        return "rejected"
    return "over-privileged" if row.get("over_privileged") else "ok"


def _credential(check: CredentialCheck) -> CredentialStatus:
    row = check.row
    found = row.get("pull")
    pulls: dict[str, bool] = found if isinstance(found, dict) else {}
    expires = row.get("expires_in")
    return CredentialStatus(
        registry=str(row.get("registry") or ""), key=check.key, source=check.source, username=check.username,
        status=check_status(row), pulls_ok=sum(1 for ok in pulls.values() if ok), pulls=len(pulls),
        expires_in_s=float(expires) if isinstance(expires, int | float) else None, error=str(row.get("error") or ""))


def _row_state(row: dict[str, object], private: set[str], rejected: set[tuple[str, str]]) -> str:
    cred = row.get("credential")
    if row.get("fails"):
        return BROKEN
    if isinstance(cred, dict):
        return BROKEN if (cred.get("source"), cred.get("key")) in rejected else COVERED
    return MISSING if registry_of(str(row["repository"])) in private else NOT_NEEDED


def _age_days(created: str, now: dt.datetime) -> float | None:
    try:
        moment = dt.datetime.fromisoformat(created)
    except ValueError:
        return None
    if moment.tzinfo is None:
        return None
    return max(0.0, (now - moment).total_seconds() / 86400)


def build(report: AuditReport, now: dt.datetime, *, verified: bool = False) -> ReportModel:
    """The report of an audit; `now` (aware) dates the Secrets' ages; `verified`: --verify was asked."""
    rows = [r for r in report.images if r.get("repository")]
    private = {registry_of(str(r["repository"])) for r in rows if r.get("credential")}
    credentials = [_credential(c) for c in report.checks]
    rejected = {(c.source, c.key) for c in credentials if c.status == "rejected"}
    registries = sorted({registry_of(str(r["repository"])) for r in rows})
    column = {registry: i for i, registry in enumerate(registries)}
    namespaces = set(report.namespaces)
    cells: dict[str, list[Cell]] = {}
    for r in rows:
        ns = namespace_of(str(r["object"]), namespaces)
        if ns is None:
            continue
        namespaces.add(ns)
        line = cells.setdefault(ns, [Cell(NONE)] * len(registries))
        i = column[registry_of(str(r["repository"]))]
        state = _row_state(r, private, rejected)
        old = line[i]
        line[i] = Cell(min(old.state, state, key=_RANK.__getitem__), old.images + 1)
    empty = tuple(Cell(NONE) for _ in registries)
    matrix = [MatrixRow(ns, tuple(cells[ns]) if ns in cells else empty) for ns in sorted(namespaces)]
    groups: dict[str, list[Finding]] = {}
    for finding in report.findings:
        groups.setdefault(finding.code, []).append(finding)
    ordered = sorted(groups.items(), key=lambda kv: (kv[1][0].severity != "error", kv[0]))
    ages = [SecretAge(secret, age) for secret, created in sorted(report.secrets_created.items())
            if created is not None and (age := _age_days(created, now)) is not None]
    return ReportModel(
        registries=registries, matrix=matrix,
        groups=[FindingGroup(code, found[0].severity, tuple(found)) for code, found in ordered],
        severities=dict(Counter(f.severity for f in report.findings)),
        credentials=sorted(credentials, key=lambda c: (c.registry, c.status != "rejected", c.source, c.key)),
        verified=verified, ages=ages)

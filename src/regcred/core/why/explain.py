"""`regcred why`: for each image of one object, the credentials the kubelet would try in order, what is missing or
broken, what the Pod's Events say, whether the pull will work, and the one command that fixes it.

Composed from the audit simulation (core.audit: which credentials, findings and the fixes of anonymous pulls), the
Pod's Events (core.why.events) and, with --verify, what the registry said of each credential (plain outcomes, so
this package needs no network type). Layer decision: docs/decisions.md ("core.why composes").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from regcred.core.audit.anonymous import secret_command
from regcred.core.audit.findings import ERROR, AuditReport, Finding
from regcred.core.audit.verification import rejection_fix
from regcred.core.credentials.imageref import DEFAULT_DOMAIN
from regcred.core.credentials.keyring import Credential
from regcred.core.why.events import PullEvent, failing_causes

Outcome = tuple[bool, str | None]  # the registry allowed the pull; its reason when not
# findings on a listed Secret or the ServiceAccount that break the pull of an image of the object
_SECRET_CODES = frozenset({"missing-secret", "secret-wrong-type", "secret-missing-key", "secret-unusable",
                           "secret-no-auths", "secret-wrong-layout", "secret-empty", "secret-key-skipped"})


@dataclass(frozen=True, slots=True)
class Subject:
    """One object explained: `Kind/ns/name`, where it was read from, the Secrets and account it relates to."""

    object: str
    origin: str  # pod | template | manifest | owner-template (the Pod is gone)
    related: frozenset[str] = frozenset()  # Secret/ns/name and ServiceAccount/ns/name objects
    events: tuple[PullEvent, ...] = ()
    note: str | None = None


@dataclass(slots=True)
class WhyInput:
    report: AuditReport
    subjects: list[Subject]
    checked: Mapping[tuple[str, str, str], Outcome] = field(default_factory=dict)  # (source, key, user) -> outcome
    anonymous: Mapping[str, Outcome] = field(default_factory=dict)  # image -> outcome of an anonymous pull
    verified: bool = False
    node_file: str | None = None
    node_problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    elsewhere: Mapping[str, list[str]] = field(default_factory=dict)  # missing Secret name -> namespaces holding it


def _credential_json(order: int, cred: Credential, outcome: Outcome | None) -> dict[str, Any]:
    return {"order": order, "source": cred.source, "key": cred.key, "username": cred.username,
            "verified": None if outcome is None else outcome[0], "error": None if outcome is None else outcome[1]}


def _key(cred: Credential) -> tuple[str, str, str]:
    return (cred.source, cred.key, cred.username)


def _namespace(obj: str) -> str:
    parts = obj.split("/")
    return parts[1] if len(parts) == 3 else "default"


def _secret_name(source: str) -> str:
    return source.rsplit("/", 1)[-1]


class _Image:
    """The explanation of one image row."""

    def __init__(self, data: WhyInput, subject: Subject, row: dict[str, Any], tried: Sequence[Credential]) -> None:
        self.data, self.subject, self.row, self.tried = data, subject, row, tried
        self.image = str(row["image"])
        self.problems = [f for f in data.report.findings if self._concerns(f)]
        self.events = [e for e in subject.events if e.image in (self.image, None)]

    def _concerns(self, finding: Finding) -> bool:
        if finding.object == self.subject.object:
            return finding.code not in ("anonymous-pull-refused", "anonymous-pull-unverified") or \
                self.image in finding.message
        if finding.object.startswith("NodeConfig/"):
            return any(c.source == finding.object for c in self.tried)
        return finding.object in self.subject.related and (finding.code in _SECRET_CODES or
                                                           finding.code.startswith(("sa-", "credential-")))

    def outcomes(self) -> list[Outcome | None]:
        return [self.data.checked.get(_key(c)) for c in self.tried]

    def cause_and_fix(self) -> tuple[str, str, str | None, bool | None]:
        """(cause, explanation, fix command, will it pull)."""
        ns = _namespace(self.subject.object)
        row, image = self.row, self.image
        repository = row.get("repository") or ""
        domain = repository.split("/", 1)[0] if repository else ""
        event_causes = failing_causes(self.events, image)
        if row.get("repository") is None:
            return "invalid-image", f"the image reference is invalid: {row.get('fails')}", None, False
        if row.get("fails"):
            secret = next((f.object for f in self.problems if f.code == "secret-unusable"), "")
            name = _secret_name(secret) or "NAME"
            return ("secret-unusable", f"{row['fails']}: every pull of the Pod fails",
                    secret_command(name, ns, domain, overwrite=True), False)
        if not self.tried:
            return self._anonymous(ns, domain, event_causes)
        outcomes = self.outcomes()
        if any(o is not None and o[0] for o in outcomes):
            return "none", "a credential the kubelet tries is accepted by the registry", None, True
        rejected = [(c, o) for c, o in zip(self.tried, outcomes, strict=True) if o is not None and not o[0]]
        if rejected or "unauthorized" in event_causes:
            cred = self.tried[0]
            why = "; ".join(f"{c.source} ({c.key}): {o[1]}" for c, o in rejected) or \
                "the Pod's Events show the registry refused the credential tried"
            fix = (f"regcred node install {cred.key} -u {cred.username} --password-stdin --overwrite"
                   if cred.source.startswith("NodeConfig/") else
                   secret_command(_secret_name(cred.source), ns, cred.key, overwrite=True))
            hint = rejection_fix(rejected[0][1][1]) if rejected else "renew the password or fix the user name"
            return ("credential-rejected", f"every credential tried is refused ({why}); {hint}; there is no "
                    "anonymous fallback once a credential matched", fix, False)
        return self._from_events(event_causes, "credentials are found; ")

    def _anonymous(self, ns: str, domain: str, event_causes: list[str]) -> tuple[str, str, str | None, bool | None]:
        pull = next((p for p in self.data.report.anonymous_pulls
                     if p.object == self.subject.object and p.image == self.image), None)
        fix = pull.command if pull is not None else None
        outcome = self.data.anonymous.get(self.image)
        refused = (outcome is not None and not outcome[0]) or "unauthorized" in event_causes
        codes = {f.code for f in self.problems}
        if "pod-stale-pull-secrets" in codes:
            cause = "stale-pod"
        elif "missing-secret" in codes:
            cause = "secret-missing"
        elif codes & _SECRET_CODES:
            cause = "secret-ignored"
        elif any(p.startswith("Secret/") for p in self.subject.related):  # Secrets listed, none with a matching key
            cause = "key-mismatch"
        else:
            cause = "no-credential"
        if self.data.node_problems and cause in ("no-credential", "key-mismatch"):
            cause = "node-file-shadowed" if any("never reads" in p for p in self.data.node_problems) else cause
            if cause == "node-file-shadowed":
                fix = f"regcred node install {domain or DEFAULT_DOMAIN} -u USER --password-stdin (then restart the kubelet)"
        missing = [f.object for f in self.problems if f.code == "missing-secret"]
        elsewhere = [f"{_secret_name(m)} exists in namespace(s) {', '.join(self.data.elsewhere[_secret_name(m)])} "
                     "but Secrets are per namespace" for m in missing if self.data.elsewhere.get(_secret_name(m))]
        said = "; ".join([*(f.message for f in self.problems if f.severity == ERROR or
                            f.code == "pull-secrets-miss-image" or f.code == "pod-stale-pull-secrets"), *elsewhere])
        text = f"no credential matches {self.image}: the kubelet pulls it anonymously"
        text += f" ({said})" if said else ""
        if outcome is not None:
            text += f"; anonymous pull: {'allowed' if outcome[0] else outcome[1]}"
        if outcome is not None and outcome[0]:
            return "none", text, None, True
        if refused:
            return cause, text, fix, False
        if event_causes:
            return self._from_events(event_causes, text + "; ")
        errors = [f for f in self.problems if f.severity == ERROR]
        return cause, text, fix, (False if errors else None)

    def _from_events(self, causes: list[str], prefix: str) -> tuple[str, str, str | None, bool | None]:
        if not causes:
            pulled = any(e.reason == "Pulled" and e.image == self.image for e in self.events)
            verdict: bool | None = True if pulled else None
            return "none", prefix + ("the Pod's Events show it pulled" if pulled else "nothing known to fail"), \
                None, verdict
        event = next(e for e in reversed(self.events) if e.cause == causes[-1])
        return causes[-1], f"{prefix}the Pod's Events say: {event.meaning} ({event.message})", None, False

    def as_json(self) -> dict[str, Any]:
        cause, text, fix, will_pull = self.cause_and_fix()
        return {
            "object": self.subject.object, "container": self.row.get("container"), "image": self.image,
            "repository": self.row.get("repository"),
            "credentials": [_credential_json(i + 1, c, o) for i, (c, o) in
                            enumerate(zip(self.tried, self.outcomes(), strict=True))],
            "anonymous": bool(self.row.get("anonymous")),
            "problems": [f.as_json() for f in self.problems],
            "events": [e.as_json() for e in self.events],
            "will_pull": will_pull, "cause": cause, "explanation": text, "fix": fix,
        }


def explain(data: WhyInput) -> dict[str, Any]:
    """The stable JSON of `regcred why` (docs/contracts/why-output.md)."""
    by_object = {s.object: s for s in data.subjects}
    images = [_Image(data, by_object[row["object"]], row, tried).as_json()
              for row, tried in zip(data.report.images, data.report.tried, strict=True) if row["object"] in by_object]
    verdicts = [i["will_pull"] for i in images]
    return {
        "objects": [{"object": s.object, "origin": s.origin, "note": s.note} for s in data.subjects],
        "verified": data.verified,
        "node": {"file": data.node_file, "problems": list(data.node_problems)},
        "images": images,
        "will_pull": False if False in verdicts else (True if verdicts and all(verdicts) else None),
        "notes": list(data.notes),
    }

"""What one credential check found, and the words for each way it can fail.

A check never raises past its own registry: every reason it stops for becomes an entry in that
registry's result (see authflow and the registry shell), so one bad registry never hides the others.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class RegistryProblem(Exception):
    """One check cannot go on; the message is the user-facing reason (never holds a secret).

    `ends_check`: no further request may be sent for this check (its deadline passed), so a flow that
    records per-repository failures and moves on must let this one through.
    """

    ends_check = False

    def __init__(self, message: str, *, reachable: bool = True, tls: bool | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.reachable = reachable
        self.tls = tls


def status_reason(status: int, *, what: str) -> str:
    """One line for a failed registry answer; `what` names the request ("login", "manifest team/app:v1")."""
    if status == 401:
        return f"{what}: 401 unauthorized: the registry rejected the credentials"
    if status == 403:
        return f"{what}: 403 denied: the credentials are valid but not allowed this access"
    if status == 404:
        return f"{what}: 404 not found: repository or tag unknown"
    if status == 429:
        return f"{what}: 429 too many requests: rate limited, retry later"
    if 500 <= status < 600:
        return f"{what}: {status} server error at the registry"
    return f"{what}: unexpected HTTP status {status}"


@dataclass(slots=True)
class CheckResult:
    """Everything one (registry, credential) check found; rendered once per registry key."""

    registry: str
    reachable: bool = False
    tls: bool | None = None  # None: plain HTTP
    scheme: str | None = None  # "basic", "bearer", "none"
    login: bool = False
    pull: dict[str, bool] = field(default_factory=dict)
    push_granted: bool | None = None
    expires_in: int | None = None
    expires_at: str | None = None
    errors: list[str] = field(default_factory=list)

    @property
    def over_privileged(self) -> bool:
        """A pull credential that may push is a risk (least privilege)."""
        return self.push_granted is True

    @property
    def ok(self) -> bool:
        return self.login and not self.errors and all(self.pull.values()) and not self.over_privileged

    def error_line(self) -> str | None:
        lines = list(self.errors)
        if self.over_privileged:
            lines.append("over-privileged: push is granted, a pull credential should be read-only")
        return "; ".join(lines) if lines else None

    def stopped(self, problem: RegistryProblem) -> None:
        """Record why the check stopped; what it learned before stays."""
        self.errors.append(problem.message)
        if self.tls is None and problem.tls is not None:
            self.tls = problem.tls
        if not self.reachable:
            self.reachable = problem.reachable


def result_json(key: str, result: CheckResult) -> dict[str, Any]:
    """The stable JSON shape of one verified registry key."""
    return {
        "key": key,
        "registry": result.registry,
        "ok": result.ok,
        "login": result.login,
        "pull": dict(result.pull),
        "push_granted": result.push_granted,
        "expires_at": result.expires_at,
        "error": result.error_line(),
        "reachable": result.reachable,
        "tls": result.tls,
        "scheme": result.scheme,
        "expires_in": result.expires_in,
        "over_privileged": result.over_privileged,
    }

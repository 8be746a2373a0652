"""`audit --verify` findings: what a failed or over-privileged credential check means, and its one-line fix.

The registry checks word each failure with a fixed vocabulary (core.verify.results.status_reason and the
transport reasons: "DNS: cannot resolve", "TLS error with", "404 not found", ...). A rejected credential is
not always a stale one: a 404 wants a corrected image reference, a network error a reachable registry. So
each reason is mapped to the fix of its cause, in the order the reasons were found, each fix named once.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any

from regcred.core.audit.findings import CredentialUse, Finding

# (pattern on one reason, the fix) — first match wins; order matters (the pull-scoped 401/403 before the
# login ones, TLS before the generic transport failures).
_FIXES: tuple[tuple[re.Pattern[str], str], ...] = tuple((re.compile(p), fix) for p, fix in (
    (r"passed its \S+ deadline", "the registry answers too slowly: retry later, or raise --timeout"),
    (r"TLS error with ", "TLS: fix the registry's certificate or trust its CA (--ca-file with --verify)"),
    (r"^(DNS: cannot resolve|connection refused by|timeout after|\w+ talking to)|: (DNS: cannot resolve|"
     r"connection refused by|timeout after)",
     "registry unreachable from here: check the registry address and the network (DNS, firewall, proxy)"),
    (r"^pull \S+: (401|403) ",
     "denied for this repository: grant the account pull access to it (e.g. the project of a robot account)"),
    (r"^pull \S+: 404 ", "repository or tag unknown: fix the image reference, or push the image"),
    (r"401 unauthorized", "bad credentials: renew the credential (password or token) or fix the user name"),
    (r"403 denied", "denied: the registry refuses this account; enable it or grant it access"),
    (r"429 too many requests", "rate limited by the registry: retry later, or pull through a mirror"),
    (r"\b5\d\d server error", "the registry failed (5xx): retry later or check the registry"),
    (r"is a wildcard|holds no username or password", "fix its key (a host name, with a user name and password)"),
))
_DEFAULT_FIX = "renew the credential or fix its key"


def rejection_fix(error: str | None) -> str:
    """The fixes for the causes in a verify `error` line (reasons joined by "; "), each once, in order."""
    fixes: list[str] = []
    for reason in (error or "").split("; "):
        if reason.startswith("over-privileged:"):
            continue  # reported as its own finding
        fix = next((f for pattern, f in _FIXES if pattern.search(reason)), _DEFAULT_FIX)
        if fix not in fixes:
            fixes.append(fix)
    return "; ".join(fixes) or _DEFAULT_FIX


def is_rejected(row: dict[str, Any]) -> bool:
    """A verify row rejects its credential: login refused, a pull refused, or an error other than over-privilege."""
    pulls = row.get("pull") or {}
    return (not row.get("login") or not all(pulls.values())
            or bool(row.get("error") and not row.get("over_privileged")))


def verification_findings(uses: Iterable[CredentialUse], rows: Iterable[dict[str, Any]]) -> Iterator[Finding]:
    """credential-rejected / credential-over-privileged from verify rows (same order as `uses`)."""
    for use, row in zip(uses, rows, strict=True):
        cred = use.credential
        ref = cred.source
        if is_rejected(row):
            reason = _without_over_privileged(row["error"]) or "pull not authorised"
            yield Finding("credential-rejected", ref,
                          f"{cred.key} (user {cred.username}): {reason}; fix: {rejection_fix(row['error'])}")
        if row["over_privileged"]:
            yield Finding("credential-over-privileged", ref, f"{cred.key} (user {cred.username}) may push; use a "
                          "read-only (pull) credential for pulls")


def _without_over_privileged(error: str | None) -> str:
    return "; ".join(r for r in (error or "").split("; ") if r and not r.startswith("over-privileged:"))

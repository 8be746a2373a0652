"""`audit --verify` findings: the one-line fix of a rejected credential matches the cause of the rejection (pure rules;
the same against the real token registry: tests/real/audit)."""

from __future__ import annotations

import pytest

from regcred.core.audit.findings import CredentialUse
from regcred.core.audit.verification import rejection_fix, verification_findings
from regcred.core.credentials.keyring import Credential
from regcred.core.verify.results import status_reason


@pytest.mark.parametrize(
    ("error", "fix"),
    [
        (status_reason(401, what="login"), "bad credentials: renew the credential"),
        (status_reason(401, what="token request"), "bad credentials"),
        (status_reason(403, what="login"), "denied: the registry refuses this account"),
        (status_reason(404, what="pull team/app:v9"), "repository or tag unknown: fix the image reference"),
        (status_reason(403, what="pull team/app:v1"), "denied for this repository"),
        ("pull team/app:v1: 401 unauthorized: the login works but this credential may not pull it "
         "(insufficient scope)", "denied for this repository"),
        (status_reason(429, what="login"), "rate limited"),
        (status_reason(503, what="GET /v2/"), "the registry failed (5xx)"),
        ("connection refused by 127.0.0.1:1", "registry unreachable"),
        ("DNS: cannot resolve nope.invalid", "registry unreachable"),
        ("timeout after 10s talking to r.io", "registry unreachable"),
        ("pull team/app:v1: timeout after 10s talking to r.io", "registry unreachable"),
        ("pull a:1: timeout: the check of r.io passed its 30s deadline (the registry answers too slowly)",
         "the registry answers too slowly"),
        ("TLS error with r.io: self-signed certificate (give its CA with --ca-file)", "TLS: fix the registry's"),
        ("registry key '*.example.com' is a wildcard", "fix its key"),
    ],
)
def test_fix_matches_the_cause(error: str, fix: str) -> None:
    line = rejection_fix(error)
    assert line.startswith(fix)
    if not fix.startswith("bad credentials"):
        assert "renew the credential" not in line


def test_several_causes_each_fixed_once_and_over_privilege_left_to_its_own_finding() -> None:
    error = "; ".join([status_reason(404, what="pull a:1"), status_reason(404, what="pull b:1"),
                       status_reason(403, what="pull c:1"),
                       "over-privileged: push is granted, a pull credential should be read-only"])
    assert rejection_fix(error) == ("repository or tag unknown: fix the image reference, or push the image; "
                                    "denied for this repository: grant the account pull access to it "
                                    "(e.g. the project of a robot account)")
    use = CredentialUse(Credential("r.io", "robot", "pw", source="Secret/app/pull"), ("r.io/a:1",))
    row = {"login": True, "pull": {"a:1": False}, "error": error, "over_privileged": True}
    findings = list(verification_findings([use], [row]))
    assert [f.code for f in findings] == ["credential-rejected", "credential-over-privileged"]
    assert "over-privileged" not in findings[0].message and "pw" not in findings[0].message

"""Planning (each registry and credential checked once), results and their reasons."""

from __future__ import annotations

from regcred.core.credentials.keyring import Credential
from regcred.core.verify.plan import CheckRequest, plan_checks, row_json
from regcred.core.verify.repository import RepositoryRef
from regcred.core.verify.results import CheckResult, result_json, status_reason


def test_status_reasons_name_the_cause() -> None:
    assert "401" in status_reason(401, what="login") and "rejected the credentials" in status_reason(401, what="x")
    assert "403 denied" in status_reason(403, what="x")
    assert "repository or tag unknown" in status_reason(404, what="x")
    assert "rate limited" in status_reason(429, what="x")
    assert "503 server error" in status_reason(503, what="x")
    assert "unexpected HTTP status 418" in status_reason(418, what="x")


def test_over_privileged_result_is_not_ok_and_says_why() -> None:
    result = CheckResult("r", reachable=True, login=True, pull={"a:1": True}, push_granted=True)
    data = result_json("k", result)
    assert data["ok"] is False and data["over_privileged"] is True
    assert "over-privileged" in data["error"]
    assert set(data) >= {"key", "registry", "ok", "login", "pull", "push_granted", "expires_at", "error"}
    assert result_json("k", CheckResult("r", login=True, push_granted=False))["ok"] is True
    assert result_json("k", CheckResult("r", login=True, pull={"a:1": False}))["ok"] is False


def test_plan_checks_verifies_each_registry_and_credential_once() -> None:
    ref = RepositoryRef("team/app", "v1")
    requests = [
        CheckRequest(Credential("reg.io", "u", "p"), (ref,)),
        CheckRequest(Credential("https://reg.io/v2/", "u", "p"), (ref,)),  # same registry + credential
        CheckRequest(Credential("reg.io", "u", "other"), (ref,)),
        CheckRequest(Credential("*.io", "u", "p")),
        CheckRequest(Credential("empty.io", "", "")),
    ]
    targets, rows = plan_checks(requests)
    assert [(t.registry, t.username) for t in targets] == [("reg.io", "u"), ("reg.io", "u")]
    assert [r.target for r in rows] == [0, 0, 1, None, None]
    assert "wildcard" in (rows[3].error or "") and "no username or password" in (rows[4].error or "")
    assert "password" not in repr(targets[0]) and "other" not in repr(targets[1])  # kept out of repr
    results = [CheckResult("reg.io", login=True, pull={"team/app:v1": True}), CheckResult("reg.io")]
    rendered = [row_json(r, results) for r in rows]
    assert [r["ok"] for r in rendered] == [True, True, False, False, False]
    assert rendered[3]["error"].startswith("registry key '*.io' is a wildcard")


def test_a_registry_no_client_can_contact_is_that_rows_error() -> None:
    """audit --verify passes the image's registry: a bad one is that row's error, the others are planned."""
    ref = RepositoryRef("team/app", "v1", "xn--zz.io")
    targets, rows = plan_checks([CheckRequest(Credential("*.io", "u", "p"), (ref,), "xn--zz.io"),
                                 CheckRequest(Credential("reg.io", "u", "p"), (RepositoryRef("a"),))])
    assert [t.registry for t in targets] == ["reg.io"]
    assert rows[0].target is None and "registry 'xn--zz.io' names no host a client can contact" in (rows[0].error or "")
    assert rows[0].registry == "xn--zz.io"

"""The page of `audit --report` rendered in-process (shells/auditreport.py): every plot, escaped verify rows."""

from __future__ import annotations

import datetime as dt

from regcred.core.audit.findings import AuditReport, CredentialCheck, Finding
from regcred.core.audit.reportmodel import build
from regcred.shells.auditreport import EXPIRY_BUCKETS, bucket, duration, plots, render_html

NOW = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
HOSTILE = "<script>alert(1)</script>"


def verified_report() -> AuditReport:
    row = {"object": "Pod/a/p", "container": "c", "image": "reg.example.com/x:1", "repository": "reg.example.com/x",
           "credential": {"key": "reg.example.com", "source": "Secret/a/pull", "username": "u"}, "anonymous": False,
           "fails": None}
    check = {"registry": "reg.example.com", "login": True, "pull": {"reg.example.com/x:1": True}, "error": None,
             "over_privileged": False, "expires_in": 300}
    hostile = {**check, "login": False, "error": f"login: 401 {HOSTILE}", "expires_in": None}
    return AuditReport(
        images=[row], namespaces=["a"], findings=[Finding("credential-rejected", "Secret/a/other", HOSTILE)],
        secrets_created={"Secret/a/pull": "2026-05-01T00:00:00Z", "Secret/a/old": "2024-01-01T00:00:00Z"},
        checks=[CredentialCheck("Secret/a/pull", "reg.example.com", "u", check),
                CredentialCheck("Secret/a/other", "reg.example.com", HOSTILE, hostile)])


def test_every_plot_when_there_is_something_to_show() -> None:
    model = build(verified_report(), NOW, verified=True)
    assert [p.name for p in plots(model)] == ["namespaces", "registries", "ages", "expiry"]
    assert [p.name for p in plots(build(AuditReport(), NOW))] == []  # nothing audited: no empty chart


def test_verify_rows_are_escaped_and_the_page_has_one_script() -> None:
    html = render_html(build(verified_report(), NOW, verified=True), source="manifests", generated=NOW)
    assert html.count("<script") == 1 and HOSTILE not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert 'data-status="rejected"' in html and 'data-status="ok"' in html
    assert html.count("<svg") == 4


def test_durations_and_buckets() -> None:
    assert [duration(s) for s in (None, 5, 90, 7200, 172800)] == ["", "5 s", "1.5 min", "2.0 h", "2.0 d"]
    assert [bucket(s, EXPIRY_BUCKETS) for s in (-1, 10, 4000, 90000, 10**9)] == [
        "expired", "< 1 hour", "< 1 day", "< 1 week", "later"]

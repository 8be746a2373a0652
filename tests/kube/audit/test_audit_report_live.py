"""`regcred audit --verify --report` of a live cluster (the fake API, and a real kube-apiserver in the envtest
tier), looked at in a real headless Chromium: matrix cells, finding groups, the credential table, a plot.

The cluster: ten namespaces of tests/support/reportcluster.py's five shapes. --verify contacts a local
scripted registry (tests/support/fakeregistry.py: the right password passes) and the .example.com registries,
which do not resolve (rejected: DNS). The screenshot is kept as an artifact (tests/README.md says where).
"""

from __future__ import annotations

import base64
import json
import stat
from pathlib import Path
from typing import Any

import pytest

from tests.cli.hygiene.harness import Ctx, leaks
from tests.support.browser import artifact_path, chromium_binary, chromium_page
from tests.support.cli import run_regcred_kube
from tests.support.fakeregistry import PASSWORD, FakeServer, basic_registry
from tests.support.reportcluster import SENTINEL, namespace_objects, populate, shape_of

ROWS = """Object.fromEntries([...document.querySelectorAll('#matrix tbody tr')].map(r =>
    [r.dataset.ns, Object.fromEntries([...r.querySelectorAll('td')].map((td, i) =>
        [document.querySelectorAll('#matrix thead th')[i + 1].textContent, td.className]))]))"""
CREDENTIALS = """[...document.querySelectorAll('#credential-table tbody tr')].map(r =>
    [...r.querySelectorAll('td')].slice(0, 5).map(td => td.textContent))"""


@pytest.mark.real  # Debian's chromium
def test_live_report_with_verify_in_a_real_browser(kube: Any, tmp_path: Path) -> None:
    chromium_binary()
    server = FakeServer(basic_registry())
    try:
        label = {"regcred-report": kube.unique_ns("r")}
        names = populate(kube, 10, server.host, ("alice", PASSWORD), label)
        report = artifact_path(tmp_path, f"audit-report-live-{kube.name}.html")
        result = run_regcred_kube(kube, "audit", "--namespace-selector", f"regcred-report={label['regcred-report']}",
                                  "--verify", "--insecure-http", "--timeout", "5", "-o", "json", "--report", report,
                                  secrets=[SENTINEL, PASSWORD])
    finally:
        server.close()
    assert result.returncode == 1, result.stderr
    codes = {f["code"] for f in json.loads(result.stdout)["findings"]}
    assert {"secret-unusable", "missing-secret", "credential-rejected"} <= codes
    assert stat.S_IMODE(report.stat().st_mode) == 0o644
    html = report.read_text()
    ctx = Ctx(tmp=tmp_path)  # the hygiene test's needles: the sentinel, its auth form, base64 slices of the Secrets
    for ns in names:
        for obj in namespace_objects(ns, server.host, ("alice", PASSWORD)):
            if obj["kind"] == "Secret":
                ctx.note(base64.b64decode(obj["data"][".dockerconfigjson"]))
    assert not leaks(html, ctx.needles | {PASSWORD}), leaks(html, ctx.needles | {PASSWORD})

    with chromium_page(tmp_path) as page:
        page.open(report)
        cells = page.evaluate(ROWS)
        assert sorted(cells) == sorted(names)
        expected = {"covered": ("reg-a.example.com", "broken"),  # its credential: DNS fails, so --verify rejects it
                    "missing": ("reg-a.example.com", "missing"), "broken": ("reg-b.example.com:5000", "broken"),
                    "dangling": ("reg-b.example.com:5000", "broken"), "verified": (server.host, "covered")}
        for ns in names:
            registry, state = expected[shape_of(ns)]
            assert cells[ns][registry] == state, (ns, cells[ns])
        credentials = page.evaluate(CREDENTIALS)
        by_source = {(row[2], row[0]): row[4] for row in credentials}
        verified = [ns for ns in names if shape_of(ns) == "verified"]
        assert {by_source[(f"Secret/{ns}/remote", server.host)] for ns in verified} == {"ok"}
        covered = [ns for ns in names if shape_of(ns) == "covered"]
        assert {by_source[(f"Secret/{ns}/pull", "reg-a.example.com")] for ns in covered} == {"rejected"}
        groups = page.evaluate("[...document.querySelectorAll('details.finding-group')].map(d => d.dataset.code)")
        assert {"credential-rejected", "secret-unusable", "missing-secret"} <= set(groups)
        assert page.evaluate("document.querySelectorAll('#plots svg').length") >= 2
        page.screenshot(artifact_path(tmp_path, f"audit-report-live-{kube.name}.png"))
        assert page.console_errors() == []
        assert page.requested_urls() == [report.resolve().as_uri()]

"""The `audit --report` page of a 1,000-namespace cluster dump in a real headless Chromium (Debian's package).

One browser for the whole check (Chromium is CPU-heavy on a shared machine): the page loads with no console
error and no network request but itself, shows the matrix cells, finding groups and plots, and the namespace
filter hides rows as one types. The screenshot is kept as an artifact (tests/README.md says where).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.support.browser import artifact_path, chromium_binary, chromium_page
from tests.support.cli import run_regcred
from tests.support.reportcluster import objects

CELLS = """Object.fromEntries([...document.querySelectorAll('#matrix tbody tr')].filter(r => %s).map(r =>
    [r.dataset.ns, [...r.querySelectorAll('td')].map(td => td.className)]))"""
VISIBLE = "[...document.querySelectorAll('#matrix tbody tr')].filter(r => !r.hidden).map(r => r.dataset.ns)"


@pytest.mark.real  # Debian's chromium
def test_a_thousand_namespaces_filter_in_a_real_browser(tmp_path: Path) -> None:
    chromium_binary()  # skips (or fails under REGCRED_REQUIRE_REAL) before any work without Chromium
    source = tmp_path / "cluster.yaml"
    source.write_text(yaml.safe_dump_all(objects(1000)))
    report = artifact_path(tmp_path, "audit-report-1000.html")
    result = run_regcred("audit", "-f", source, "--report", report, "-o", "json", timeout=300)
    assert result.returncode == 1 and report.is_file(), result.stderr

    with chromium_page(tmp_path) as page:
        page.open(report)
        assert page.evaluate("document.querySelectorAll('#matrix tbody tr').length") == 1000
        assert page.evaluate("document.getElementById('matrix-details').open") is False  # large: collapsed
        registries = page.evaluate("[...document.querySelectorAll('#matrix thead th')].map(th => th.textContent)")
        assert registries == ["namespace", "127.0.0.1:9", "docker.io", "reg-a.example.com", "reg-b.example.com:5000"]
        cells = page.evaluate(CELLS % "['team-0000', 'team-0001', 'team-0002'].includes(r.dataset.ns)")
        assert cells == {"team-0000": ["none", "not-needed", "covered", "none"],
                         "team-0001": ["none", "not-needed", "missing", "none"],
                         "team-0002": ["none", "none", "none", "broken"]}
        groups = page.evaluate("[...document.querySelectorAll('details.finding-group')].map(d => "
                               "[d.dataset.code, d.querySelectorAll('tbody tr').length, d.open])")
        assert ["secret-unusable", 200, False] in groups  # one per broken namespace, collapsed (many)
        assert {"missing-secret", "duplicate-pull-secret", "uncovered-image"} <= {g[0] for g in groups}
        assert page.evaluate("document.querySelectorAll('#plots svg').length") >= 2
        assert page.evaluate("document.querySelector('#plot-namespaces svg').getBoundingClientRect().width") > 100

        page.evaluate("const f = document.getElementById('ns-filter'); f.value = 'team-099'; "
                      "f.dispatchEvent(new Event('input'))")
        assert page.evaluate(VISIBLE) == [f"team-099{i}" for i in range(10)]
        assert page.evaluate("document.getElementById('ns-shown').textContent") == "10 of 1000 shown"
        assert page.evaluate("document.getElementById('matrix-details').open") is True  # filtering opens it
        objects_shown = page.evaluate("[...document.querySelectorAll('tr.finding')].filter(r => !r.hidden)"
                                      ".map(r => r.cells[0].textContent)")
        in_those = page.evaluate("[...document.querySelectorAll('tr.finding')].map(r => r.cells[0].textContent)"
                                 ".filter(o => o.includes('/team-099'))")
        assert objects_shown and sorted(objects_shown) == sorted(in_those)  # the findings filter too, exactly
        page.evaluate("document.getElementById('ns-problems').click()")
        # the missing and broken shapes; dangling ones list a Secret that does not exist, but another covers them
        assert page.evaluate(VISIBLE) == ["team-0991", "team-0992", "team-0996", "team-0997"]
        page.screenshot(artifact_path(tmp_path, "audit-report-1000.png"))

        assert page.console_errors() == []
        assert page.requested_urls() == [report.resolve().as_uri()]  # nothing fetched but the page itself

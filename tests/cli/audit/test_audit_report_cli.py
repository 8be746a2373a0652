"""`regcred audit --report FILE` through the real entry point: a self-contained page, escaped, without secrets.

The page in a real browser: test_audit_report_browser.py (offline, 1,000 namespaces) and
tests/kube/audit/test_audit_report_live.py (the fake API and envtest, with --verify).
"""

from __future__ import annotations

import json
import re
import stat
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import yaml

from tests.cli.hygiene.harness import Ctx, leaks
from tests.support.cli import assert_clean_error, run_regcred
from tests.support.reportcluster import SENTINEL, objects

HOSTILE = '<script>alert("ns")</script>'
HOSTILE_NAME = "x<img src=x onerror=alert(1)>"


class Tags(HTMLParser):
    """Every start tag and attribute of a page, as a browser's tokenizer sees them."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def tags_of(html: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = Tags()
    parser.feed(html)
    return parser.tags


def dump(tmp_path: Path, count: int = 10) -> Path:
    path = tmp_path / "cluster.yaml"
    path.write_text(yaml.safe_dump_all(objects(count)))
    return path


def test_report_is_written_alongside_the_json_and_holds_no_secret(tmp_path: Path) -> None:
    source = dump(tmp_path)
    out = tmp_path / "out" / "report.html"
    plain = run_regcred("audit", "-f", source, "-o", "json")
    result = run_regcred("audit", "-f", source, "-o", "json", "--report", out)
    assert_clean_error(result, 1, "error finding(s)")  # the findings still gate CI; the report is written first
    assert json.loads(result.stdout) == json.loads(plain.stdout)  # --report changes nothing on stdout
    assert f"report written to {out}" in result.stderr
    assert stat.S_IMODE(out.stat().st_mode) == 0o644  # nothing secret inside: readable like any page
    html = out.read_text()
    ctx = Ctx(tmp=tmp_path)
    ctx.note(source.read_bytes())
    assert not leaks(html, ctx.needles), leaks(html, ctx.needles)
    assert SENTINEL.split('"')[0] not in html
    rows = re.findall(r'<tr data-ns="(team-\d+)" data-worst="([a-z-]+)"', html)
    assert rows[:5] == [("team-0000", "covered"), ("team-0001", "missing"), ("team-0002", "broken"),
                        ("team-0003", "covered"), ("team-0004", "covered")]  # not verified: covered
    for code in ("secret-unusable", "missing-secret", "duplicate-pull-secret", "uncovered-image"):
        assert f'data-code="{code}"' in html, code
    assert 'id="not-verified"' in html


def test_report_is_self_contained(tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    run_regcred("audit", "-f", dump(tmp_path), "--report", out)
    html = out.read_text()
    tags = tags_of(html)
    assert [t for t, attrs in tags if t in ("link", "img", "iframe", "object", "embed")] == []
    assert [attrs for _, attrs in tags if attrs.keys() & {"src", "href", "xlink:href"}] == []
    assert [attrs for t, attrs in tags if t == "script"] == [{}]  # one inline script: the filter
    csp = next(a for t, a in tags if t == "meta" and a.get("http-equiv") == "Content-Security-Policy")
    assert "default-src 'none'" in str(csp["content"])  # the browser refuses any network load
    assert "url(" not in html and "@import" not in html
    assert len([t for t, _ in tags if t == "svg"]) >= 2  # the plots, inline


def test_hostile_names_cannot_inject_markup(tmp_path: Path) -> None:
    source = tmp_path / "m.yaml"
    docs = [o for o in objects(5) if o["metadata"]["namespace"] == "team-0000"]
    for obj in docs:
        obj["metadata"]["namespace"] = HOSTILE
        if obj["kind"] == "Secret":
            obj["metadata"]["name"] = HOSTILE_NAME
        if obj["kind"] == "ServiceAccount":
            obj["imagePullSecrets"] = [{"name": HOSTILE_NAME}, {"name": "</td></tr></table><marquee>gone"}]
    source.write_text(yaml.safe_dump_all(docs))
    out = tmp_path / "report.html"
    result = run_regcred("audit", "-f", source, "--report", out)
    assert "Traceback" not in result.stderr
    html = out.read_text()
    tags = tags_of(html)
    assert [t for t, _ in tags].count("script") == 1
    assert not any(t in ("img", "marquee") or "onerror" in attrs for t, attrs in tags)
    assert "&lt;script&gt;alert(&#34;ns&#34;)&lt;/script&gt;" in html  # shown, as text
    assert 'data-ns="&lt;script&gt;alert(&#34;ns&#34;)&lt;/script&gt;"' in html  # attributes too


def test_report_composes_with_a_namespace_and_table_output(tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    result = run_regcred("audit", "-f", dump(tmp_path), "-n", "team-0003", "--report", out)
    assert result.returncode == 1, result.stderr
    assert "missing-secret" in result.stdout  # the table, as without --report
    html = out.read_text()
    assert re.findall(r'<tr data-ns="([^"]+)"', html) == ["team-0003"]


def test_an_unwritable_report_is_one_clear_error(tmp_path: Path) -> None:
    (tmp_path / "dir").mkdir()
    result = run_regcred("audit", "-f", dump(tmp_path, 2), "--report", tmp_path / "dir")
    assert_clean_error(result, 2, "dir")
    (tmp_path / "ro").mkdir(mode=0o500)
    result = run_regcred("audit", "-f", dump(tmp_path, 2), "--report", tmp_path / "ro" / "r.html")
    assert "Traceback" not in result.stderr and result.returncode != 0


def test_jinja2_and_pygal_load_only_with_report(tmp_path: Path) -> None:
    """The CLI's cold start: an audit without --report imports neither the templating nor the plotting library."""
    source = dump(tmp_path, 5)
    code = ("import sys\nfrom regcred.cli.main import main\ntry:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in ('jinja2', 'pygal') if m in sys.modules), file=sys.stderr)")
    for extra, loaded in (((), "[]"), (("--report", str(tmp_path / "r.html")), "['jinja2', 'pygal']")):
        done = subprocess.run([sys.executable, "-c", code, "audit", "-f", str(source), "-o", "json", *extra],
                              capture_output=True, text=True, check=False)
        assert done.stderr.strip().splitlines()[-1] == loaded, done.stderr

"""Benchmark: `regcred audit --report` of a 1,000-namespace dump: generation time and file size.

The dump is the one of the browser tests (tests/support/reportcluster.py: five namespace shapes, four registries,
findings of four codes). Figures: building the report model, rendering the page (Jinja2 + pygal) in-process,
and the whole CLI with --report against the same CLI without it (the floor, in the same run); plus the page size.

    .venv/bin/python benchmarks/bench_report.py [--namespaces 1000] [--repeat 3] [--json]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.support: the dump of the browser tests

from benchmarks.bench_audit import best  # one timing rule for the audit's benchmarks
from tests.support.reportcluster import objects

from regcred.core.audit.findings import ClusterState
from regcred.core.audit.reportmodel import build
from regcred.core.audit.simulation import audit
from regcred.shells.auditreport import render_html


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--namespaces", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()

    items = objects(args.namespaces)
    report = audit(ClusterState(items))  # as `audit -f` reads a dump
    now = dt.datetime.now(dt.UTC)
    model_s, model = best(lambda: build(report, now), args.repeat)
    render_s, html = best(lambda: render_html(model, source="manifests", generated=now), args.repeat)
    regcred = Path(sys.executable).with_name("regcred")
    with tempfile.TemporaryDirectory() as tmp:
        dump = Path(tmp) / "dump.json"
        dump.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": items}))
        page = Path(tmp) / "report.html"

        def cli(*extra: str) -> None:
            done = subprocess.run([str(regcred), "audit", "-f", str(dump), "-o", "json", *extra], capture_output=True,
                                  check=False)
            if done.returncode not in (0, 1):  # 1: findings; anything else is a failed run, not a figure
                sys.exit(f"regcred audit exited {done.returncode}:\n{done.stderr.decode()}")

        # interleaved, so a burst of load on the (shared) machine hits both sides alike
        floor_s, with_report_s = float("inf"), float("inf")
        for _ in range(args.repeat):
            floor_s = min(floor_s, best(cli, 1)[0])
            with_report_s = min(with_report_s, best(lambda: cli("--report", str(page)), 1)[0])
        size = page.stat().st_size
    figures = {
        "namespaces": args.namespaces, "registries": len(model.registries), "findings": len(report.findings),
        "model_s": round(model_s, 3), "render_s": round(render_s, 3), "cli_floor_s": round(floor_s, 3),
        "cli_with_report_s": round(with_report_s, 3), "report_cost_s": round(with_report_s - floor_s, 3),
        "page_bytes": size, "in_process_page_bytes": len(html.encode()),
    }
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    print(f"audit --report of {args.namespaces} namespaces, {len(model.registries)} registries, "
          f"{len(report.findings)} findings, best of {args.repeat}:")
    print(f"  report model (in-process)             {model_s:7.3f} s")
    print(f"  render the page (Jinja2 + pygal)      {render_s:7.3f} s")
    print(f"  whole CLI, -o json (the floor)        {floor_s:7.3f} s")
    print(f"  whole CLI, -o json --report FILE      {with_report_s:7.3f} s   (+{with_report_s - floor_s:.3f} s)")
    print(f"  page size                             {size / 1024:7.0f} KiB")


if __name__ == "__main__":
    main()

"""`regcred audit`: which workloads will fail to pull, and why — from manifests or a live cluster."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from regcred.cli.clusteropts import cluster_options
from regcred.cli.options import FiniteFloatRange
from regcred.cli.output import emit, render_table
from regcred.core.errors import OperationFailed

if TYPE_CHECKING:
    from regcred.cli.clusteropts import ClusterOptions
    from regcred.core.audit.findings import AuditReport


def _note(message: str) -> None:
    click.echo(f"note: {message}", err=True)


def render(report: AuditReport) -> str:
    per_image: Counter[tuple[str, str]] = Counter()
    for row in report.images:
        cred = row["credential"]
        how = "FAILS: " + row["fails"] if row["fails"] else (f"{cred['key']} ({cred['source']})" if cred
                                                              else "anonymous")
        per_image[(row["image"], how)] += 1
    images = render_table(["image", "first credential", "uses"],
                          [[image, how, count] for (image, how), count in sorted(per_image.items())])
    if report.findings:
        findings = render_table(["severity", "code", "object", "message"],
                                [[f.severity, f.code, f.object, f.message] for f in report.findings])
    else:
        findings = "no findings"
    return f"{images}\n\n{findings}"


@click.command()
@click.option("-f", "--filename", "files", multiple=True, metavar="MANIFEST",
              help="Audit these manifests (YAML/JSON, '-' for stdin) instead of the live cluster; repeatable.")
@click.option("--node-config", "node_configs", multiple=True, type=click.Path(path_type=Path),
              help="A node credential file (config.json); repeat in the kubelet's search order (first wins).")
@click.option("--verify", "verify", is_flag=True,
              help="Also verify against the registries every credential that would be tried (as regcred verify).")
@click.option("--ca-file", type=click.Path(path_type=Path), help="With --verify: trust only this PEM CA bundle.")
@click.option("--insecure-http", is_flag=True, help="With --verify: speak plain HTTP to the registries.")
@click.option("--timeout", type=FiniteFloatRange(min=0.1, max=86400), default=10.0, show_default=True,
              help="With --verify: seconds per network read (each registry check: S × (2 + repositories) at most).")
@click.option("--report", "report_path", type=click.Path(path_type=Path, dir_okay=False), metavar="FILE",
              help="Also write a self-contained HTML report (coverage matrix, findings by code, credential "
                   "status with --verify, plots) to FILE; it holds no credential value.")
@cluster_options(dry_run=False, output_choices=("table", "json"))
def audit(files: tuple[str, ...], node_configs: tuple[Path, ...], verify: bool, ca_file: Path | None,
          insecure_http: bool, timeout: float, report_path: Path | None, cluster: ClusterOptions) -> None:
    """Simulate the kubelet for every Pod and pod template: which credential each image gets, and findings.

    Exit 0 without error findings, 1 with any (so it can gate CI), 2 on bad input.
    """
    from regcred.usecases.audit import AuditRequest  # lazy: the use case loads when the command runs
    from regcred.usecases.audit import audit as run_audit  # lazy: the use case loads when the command runs
    from regcred.usecases.verification import CheckOptions  # lazy: the use case loads when the command runs

    checks = CheckOptions(ca_file=ca_file, insecure_http=insecure_http, timeout=timeout) if verify else None
    request = AuditRequest(files, node_configs, cluster.namespaces, verify=checks)
    report = run_audit(request, cluster.connect, _note)
    if report_path is not None:
        from regcred.shells.auditreport import write_report  # lazy: Jinja2 and pygal load only with --report

        write_report(report_path, report, source="manifests" if files else "the live cluster", verified=verify)
        _note(f"report written to {report_path}")
    data: dict[str, Any] = report.as_json()
    emit(data, cluster.output, render(report) if cluster.output == "table" else None)
    errors = sum(1 for f in report.findings if f.severity == "error")
    if errors:
        raise OperationFailed(f"audit found {errors} error finding(s)", hint="each finding names its fix")

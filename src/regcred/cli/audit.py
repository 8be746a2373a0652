"""`regcred audit`: which workloads will fail to pull, and why — from manifests or a live cluster."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from regcred.cli.clusteropts import cluster_options
from regcred.cli.options import FiniteFloatRange
from regcred.cli.output import emit, render_table
from regcred.core.audit.findings import AuditReport, ClusterState, CredentialUse
from regcred.core.audit.simulation import audit as run_audit
from regcred.core.audit.verification import verification_findings
from regcred.core.credentials.imageref import parse_image
from regcred.core.errors import InputError, OperationFailed
from regcred.core.verify.plan import CheckRequest
from regcred.core.verify.repository import RepositoryRef

if TYPE_CHECKING:
    from regcred.cli.clusteropts import ClusterOptions


def _note(message: str) -> None:
    click.echo(f"note: {message}", err=True)


def gather(cluster: ClusterOptions, files: tuple[str, ...], node_configs: tuple[Path, ...]) -> tuple[
        ClusterState, str, str | None]:
    """The state to simulate, the namespace given to objects without one, and the namespace filter."""
    from regcred.shells.clusterdump import node_keyring, read_live, read_manifests

    keyring, source = node_keyring(node_configs, _note)
    if files:
        if cluster.namespace_selector:
            raise InputError("--namespace-selector needs a live cluster", hint="use -n NS with -f")
        state = ClusterState(read_manifests(files), keyring, source, live=False)
        return state, cluster.namespace or "default", cluster.namespace
    api = cluster.connect()
    with api:
        if cluster.all_namespaces:
            namespaces: list[str] | None = None
        else:
            selection = cluster.select_namespaces(api)
            for name, reason in selection.skipped.items():
                _note(f"namespace {name} skipped: {reason}")
            namespaces = selection.active
        objects = read_live(api, namespaces, _note)
        default_ns = api.default_namespace
    return ClusterState(objects, keyring, source, live=True), default_ns, None


def verify_uses(report: AuditReport, *, ca_file: Path | None, insecure_http: bool, timeout: float) -> None:
    """--verify: each credential that would be tried is verified once, for the images it would pull."""
    from regcred.cli.verify import run_checks

    uses: list[CredentialUse] = []
    requests: list[CheckRequest] = []
    for use in report.credential_uses:
        by_registry: dict[str, list[RepositoryRef]] = {}
        for image in use.images:
            img = parse_image(image)
            reference = img.digest or img.tag or "latest"
            by_registry.setdefault(img.registry, []).append(
                RepositoryRef(img.path, reference, img.registry, by_digest=img.digest is not None))
        for registry, refs in by_registry.items():
            uses.append(use)
            requests.append(CheckRequest(use.credential, tuple(refs), registry))
    if not requests:
        return
    rows = run_checks(requests, ca_file=ca_file, insecure_http=insecure_http, timeout=timeout, probe_upload=False,
                      concurrency=8)
    report.findings.extend(verification_findings(uses, rows))


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
@cluster_options(dry_run=False, output_choices=("table", "json"))
def audit(files: tuple[str, ...], node_configs: tuple[Path, ...], verify: bool, ca_file: Path | None,
          insecure_http: bool, timeout: float, cluster: ClusterOptions) -> None:
    """Simulate the kubelet for every Pod and pod template: which credential each image gets, and findings.

    Exit 0 without error findings, 1 with any (so it can gate CI), 2 on bad input.
    """
    state, default_ns, only_ns = gather(cluster, files, node_configs)
    report = run_audit(state, default_namespace=default_ns, namespace=only_ns)
    if verify:
        verify_uses(report, ca_file=ca_file, insecure_http=insecure_http, timeout=timeout)
        report.findings.sort(key=lambda f: (f.severity != "error", f.code, f.object, f.message))
    data: dict[str, Any] = report.as_json()
    emit(data, cluster.output, render(report) if cluster.output == "table" else None)
    errors = sum(1 for f in report.findings if f.severity == "error")
    if errors:
        raise OperationFailed(f"audit found {errors} error finding(s)", hint="each finding names its fix")

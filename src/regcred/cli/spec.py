"""`regcred plan | apply | render` for RegistryCredential documents, and `regcred spec schema | crd | validate`.

plan reads the cluster with one LIST per kind and prints every change (exit 1 when changes are pending,
usable as a drift check); apply makes exactly those changes with conditional writes and re-plans an object
that changed under it; render writes the manifests for a GitOps repository instead.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from regcred.cli.clusteropts import ClusterOptions, cluster_options
from regcred.core.errors import InputError
from regcred.core.names import validate_subdomain
from regcred.core.spec.model import SpecInvalid
from regcred.core.spec.schema import crd, json_schema
from regcred.core.spec.templated import SecretStoreRef

if TYPE_CHECKING:
    from regcred.core.spec.planner import Change, Plan


def _files_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "-f", "--filename", "files", multiple=True, required=True, metavar="FILE",
        help="RegistryCredential file, directory or '-' (repeatable; render also takes manifests here).",
    )(func)


def _load_specs(files: tuple[str, ...]) -> Any:
    """Load and validate; every problem is printed as its own error line (exit 2)."""
    from regcred.shells.spec.source import load_inputs  # lazy: loaded when the command runs, not for --help

    try:
        return load_inputs(files)
    except SpecInvalid as exc:
        _fail_with(exc.problems)


def _fail_with(problems: list[str]) -> None:
    from regcred.cli.prog import prog_name  # lazy: loaded when the command runs, not for --help

    prog = prog_name()
    for problem in problems[:-1]:
        click.echo(f"{prog}: error: {problem}", err=True)
    raise InputError(problems[-1])  # the last line, printed by main, and exit 2


class _problems:
    """SpecInvalid (every problem of the documents) -> one error line each, exit 2."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: object, exc: object, _tb: object) -> None:
        if isinstance(exc, SpecInvalid):
            _fail_with(exc.problems)


# -- spec ---------------------------------------------------------------------------------------------------

@click.group("spec")
def spec_group() -> None:
    """The RegistryCredential schema: print the JSON Schema or the CRD, validate files offline."""


@spec_group.command("schema")
def schema_command() -> None:
    """Print the JSON Schema of a RegistryCredential document."""
    from regcred.cli.output import dump_json  # lazy: loaded when the command runs, not for --help

    click.echo(dump_json(json_schema()))


@spec_group.command("crd")
@click.option("-o", "--output", type=click.Choice(["yaml", "json"]), default="yaml", show_default=True)
def crd_command(output: str) -> None:
    """Print the CustomResourceDefinition (apiextensions.k8s.io/v1) of RegistryCredential."""
    from regcred.cli.output import emit  # lazy: loaded when the command runs, not for --help

    emit(crd(), output)


@spec_group.command("validate")
@_files_option
def validate_command(files: tuple[str, ...]) -> None:
    """Check RegistryCredential files offline (no credentials are read): exit 0 when valid, 2 otherwise."""
    for spec in _valid_specs(files):
        click.echo(f"{spec.source}: RegistryCredential {spec.name} is valid (Secret {spec.secret_name})")


# -- plan ---------------------------------------------------------------------------------------------------

def _valid_specs(files: tuple[str, ...]) -> list[Any]:
    from regcred.shells.spec.source import require_specs  # lazy: loaded when the command runs, not for --help

    return require_specs(_load_specs(files))


def plan_document(result: Plan) -> dict[str, Any]:
    """The stable JSON shape of a plan."""
    return {
        "apiVersion": "regcred.dev/v1alpha1",
        "kind": "Plan",
        "changes": [c.to_json() for c in result.changes],
        "skipped": [s.to_json() for s in result.skipped],
        "summary": {**result.summary(), "pending": len(result.pending), "conflicts": len(result.conflicts),
                    "skipped": len(result.skipped), "waiting": len(result.waiting)},
    }


def _detail(change: Change) -> str:
    if change.kind in ("Secret", "Node") and change.action in ("create", "update"):
        parts = [f"+{k}" for k in change.added] + [f"-{k}" for k in change.removed]
        parts += [f"~{k} (credential changed)" for k in change.updated]
        text = " ".join(parts) or ("labels/annotations" if change.kind == "Secret" else "")
        return f"{text}; {change.reason}" if change.reason else text
    if change.secret:
        sign = "+" if change.action == "add" else "-"
        return f"imagePullSecrets {sign}{change.secret}"
    return change.reason


def plan_table(result: Plan) -> str:
    from regcred.cli.output import render_table  # lazy: loaded when the command runs, not for --help

    skipped = "".join(f"\nskipped: {s.namespace}: {s.reason}" for s in result.skipped)
    if not result.changes:
        if result.waiting:
            return f"No changes now; waiting for objects that do not exist yet:{skipped}"
        return "No changes: the cluster matches the spec(s)." + skipped
    rows = [[c.namespace or "(node)", c.action, c.kind, c.name, c.credential, _detail(c)] for c in result.changes]
    table = render_table(["namespace", "action", "kind", "name", "credential", "detail"], rows)
    return f"{table}\n{skipped.lstrip(chr(10)) + chr(10) if skipped else ''}\n{summary_line(result)}"


def summary_line(result: Plan) -> str:
    counts = result.summary()
    names = {"secrets": "Secret(s)", "serviceAccounts": "ServiceAccount entr(y/ies)", "workloads": "workload entr(y/ies)",
             "nodes": "node file(s)"}
    parts = []
    for level, label in names.items():
        if level in counts:
            actions = ", ".join(f"{n} to {a}" for a, n in sorted(counts[level].items()) if a != "conflict")
            if actions:
                parts.append(f"{label}: {actions}")
    text = "Plan: " + ("; ".join(parts) if parts else "nothing to change") + "."
    if result.conflicts:
        text += f" {len(result.conflicts)} conflict(s) need attention (see above)."
    if result.skipped:
        text += f" {len(result.skipped)} skipped ({len(result.waiting)} waiting)."
    return text


@click.command("plan")
@_files_option
@click.option("--host-root", metavar="DIR", help="Also plan the node level for the node whose / is mounted at DIR.")
@cluster_options(namespaces=False, dry_run=False, output_choices=("table", "json", "yaml"))
def plan_command(files: tuple[str, ...], host_root: str | None, cluster: ClusterOptions) -> None:
    """Show every change apply would make; write nothing. Exit 0: nothing to do, 1: changes pending."""
    from regcred.cli.output import emit  # lazy: loaded when the command runs, not for --help
    from regcred.usecases.specs import plan_specs  # lazy: the use case loads when the command runs

    specs = _valid_specs(files)  # the documents' problems first, before any cluster is contacted
    with cluster.connect() as api, _problems():
        result, _ = plan_specs(api, specs, host_root)
    emit(plan_document(result), cluster.output, plan_table(result))
    if not result.in_sync:
        sys.exit(1)  # changes pending (or waiting): a drift check fails, without an error line


@click.command("apply")
@_files_option
@click.option("--host-root", metavar="DIR", help="Also write the node level for the node whose / is mounted at DIR.")
@click.option("--ca-file", type=click.Path(path_type=Path),
              help="verifyBeforeRollout: trust only this PEM CA bundle for the registries.")
@click.option("--insecure-http", is_flag=True, help="verifyBeforeRollout: speak plain HTTP to the registries.")
@cluster_options(namespaces=False, dry_run=True, output_choices=("table", "json", "yaml"))
def apply_command(files: tuple[str, ...], host_root: str | None, ca_file: Path | None, insecure_http: bool,
                  cluster: ClusterOptions) -> None:
    """Make exactly the planned changes (conditional writes, ownership kept); a second run changes nothing.

    With verifyBeforeRollout a Secret is replaced only by credentials the registry accepts (else exit 1).
    """
    from regcred.cli.clusteropts import report  # lazy: loaded when the command runs, not for --help
    from regcred.usecases.specs import apply_specs  # lazy: the use case loads when the command runs
    from regcred.usecases.verification import CheckOptions  # lazy: the use case loads when the command runs

    specs = _valid_specs(files)  # the documents' problems first, before any cluster is contacted
    if ca_file is not None:
        from regcred.shells.registry import ssl_context  # lazy: httpx, only with --ca-file

        ssl_context(ca_file)  # a bad bundle is one usage error now, not a failed row per namespace
    checks = CheckOptions(ca_file=ca_file, insecure_http=insecure_http)
    with cluster.connect() as api, _problems():
        result, rows = apply_specs(api, specs, host_root, dry_run=cluster.dry_run, workers=cluster.workers,
                                   checks=checks)
    report(rows, cluster, document={"apiVersion": "regcred.dev/v1alpha1", "kind": "ApplyResult",
                                    "plan": plan_document(result)["summary"]})


# -- render -------------------------------------------------------------------------------------------------

@click.command("render")
@_files_option
@click.option("--out", "out_dir", metavar="DIR", help="Write one file per object under DIR/<namespace>/ "
              "(default: one YAML stream on stdout).")
@click.option("--no-secrets", is_flag=True, help="Put ${VAR} placeholders in the Secrets instead of credentials "
              "(fill them with the commands printed on stderr).")
@click.option("--secret-format", type=click.Choice(["secret", "external-secret"]), default="secret",
              show_default=True, help="secret: pull Secrets; external-secret: ExternalSecrets (external-secrets.io) "
              "that build them in the cluster from --secret-store, so no credential is in the output.")
@click.option("--secret-store", metavar="NAME", help="The SecretStore an ExternalSecret reads the passwords from.")
@click.option("--secret-store-kind", type=click.Choice(["SecretStore", "ClusterSecretStore"]), default="SecretStore",
              show_default=True, help="Kind of --secret-store.")
@click.option("--namespace", "namespaces", multiple=True, metavar="NS",
              help="A target namespace (repeatable), besides Namespace manifests and literal spec includes.")
@click.option("--kubeconfig", metavar="PATH", help="kubeconfig, to read secretKeyRef / fromSecret Secrets.")
@click.option("--context", metavar="NAME", help="kubeconfig context, to read secretKeyRef / fromSecret Secrets.")
def render_command(files: tuple[str, ...], out_dir: str | None, no_secrets: bool, secret_format: str,
                   secret_store: str | None, secret_store_kind: str, namespaces: tuple[str, ...],
                   kubeconfig: str | None, context: str | None) -> None:
    """Write the manifests for a GitOps repository: Secrets, ServiceAccounts, injected workloads, node DaemonSet.

    Secret data from passwordFrom is resolved now and written into the output, unless --no-secrets.
    """
    # lazy: the use case loads when the command runs
    from regcred.usecases.specs import render_specs

    store = None
    if secret_format == "external-secret":
        if not secret_store:
            raise InputError("--secret-format external-secret needs --secret-store NAME",
                             hint="the SecretStore or ClusterSecretStore holding the registry passwords")
        store = SecretStoreRef(validate_subdomain(secret_store, "--secret-store"), secret_store_kind)
        no_secrets = True  # nothing is resolved: the store provides the passwords in the cluster
    inputs = _load_specs(files)
    with _problems():
        render_specs(inputs, ClusterOptions(kubeconfig=kubeconfig, context=context).connect, out_dir=out_dir,
                     extra_namespaces=namespaces, placeholders=no_secrets, store=store)

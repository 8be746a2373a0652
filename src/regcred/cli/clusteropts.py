"""Options every cluster command shares (as `ClusterOptions`), and the printed summary of result rows.

Nothing here imports httpx or lightkube at module level: `regcred --help` stays fast.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import click

from regcred.cli.options import FiniteFloatRange
from regcred.core.errors import InputError, OperationFailed
from regcred.core.names import validate_label
from regcred.usecases.dryrun import DryRun
from regcred.usecases.fanout import DEFAULT_WORKERS
from regcred.usecases.namespaces import NamespaceQuery
from regcred.usecases.rows import TargetResult, summarize

if TYPE_CHECKING:
    from regcred.shells.kube import KubeApi

F = TypeVar("F", bound=Callable[..., Any])



@dataclass(frozen=True, slots=True)
class ClusterOptions:
    """What the shared flags asked for; `connect()` turns it into a KubeApi."""

    kubeconfig: str | None = None
    context: str | None = None
    namespace: str | None = None
    all_namespaces: bool = False
    namespace_selector: str | None = None
    qps: float = 50.0
    burst: int = 100
    dry_run: DryRun = DryRun.NONE
    output: str = "table"
    workers: int = DEFAULT_WORKERS

    @property
    def namespaces(self) -> NamespaceQuery:
        """-n / -A / --namespace-selector, as the use cases take them."""
        return NamespaceQuery(self.namespace, self.all_namespaces, self.namespace_selector)

    @property
    def fans_out(self) -> bool:
        return self.namespaces.fans_out

    def connect(self) -> KubeApi:
        from regcred.shells.kube import ClusterConfig, connect

        return connect(ClusterConfig(kubeconfig=self.kubeconfig, context=self.context, qps=self.qps,
                                     burst=self.burst))


def cluster_options(*, namespaces: bool = True, dry_run: bool = True, output: bool = True,
                    output_choices: Sequence[str] = ("table", "json", "yaml")) -> Callable[[F], F]:
    """Add --kubeconfig --context [-n -A --namespace-selector] --qps --burst [--dry-run] [-o] as `cluster=`."""

    def decorate(func: F) -> F:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            kwargs["cluster"] = _build(kwargs, namespaces=namespaces)
            return func(*args, **kwargs)

        opts: list[Callable[[F], F]] = [
            click.option("--kubeconfig", "kc_kubeconfig", metavar="PATH", envvar=None,
                         help="kubeconfig file (default: $KUBECONFIG, ~/.kube/config, then in-cluster)."),
            click.option("--context", "kc_context", metavar="NAME", help="kubeconfig context to use."),
        ]
        if namespaces:
            opts += [
                click.option("-n", "--namespace", "kc_namespace", metavar="NS",
                             help="Namespace (default: the context's namespace)."),
                click.option("-A", "--all-namespaces", "kc_all", is_flag=True,
                             help="Every namespace (those being deleted are skipped)."),
                click.option("--namespace-selector", "kc_selector", metavar="SEL",
                             help="Namespaces matching this label selector, e.g. team=a,env!=prod."),
                click.option("--workers", "kc_workers", type=click.IntRange(1, 64), default=DEFAULT_WORKERS,
                             show_default=True, help="Namespaces worked on concurrently."),
            ]
        opts += [
            click.option("--qps", "kc_qps", type=FiniteFloatRange(min=0, max=100_000), default=50.0, show_default=True,
                         help="Client-side request rate limit (0: none)."),
            click.option("--burst", "kc_burst", type=click.IntRange(min=1), default=100, show_default=True,
                         help="Requests allowed at once before --qps applies."),
        ]
        if dry_run:
            opts.append(click.option(
                "--dry-run", "kc_dry_run", type=click.Choice(["none", "client", "server"]), default="none",
                show_default=True, help="client: change nothing, print the plan; server: send with dryRun=All."))
        if output:
            opts.append(click.option("-o", "--output", "kc_output", type=click.Choice(list(output_choices)),
                                     default=output_choices[0], show_default=True, help="Output format."))
        for opt in reversed(opts):
            wrapper = opt(wrapper)
        return wrapper  # type: ignore[return-value]

    return decorate


def _build(kwargs: dict[str, Any], *, namespaces: bool) -> ClusterOptions:
    namespace = kwargs.pop("kc_namespace", None)
    all_ns = bool(kwargs.pop("kc_all", False))
    selector = kwargs.pop("kc_selector", None)
    given = [flag for flag, on in (("-n", namespace is not None), ("-A", all_ns),
                                   ("--namespace-selector", selector is not None)) if on]
    if len(given) > 1:
        raise InputError(f"give only one of {', '.join(given)}")
    if namespace is not None:
        validate_label(namespace, "namespace")
    if selector is not None and not selector.strip():
        raise InputError("--namespace-selector is empty", hint="give a label selector such as team=a")
    return ClusterOptions(
        kubeconfig=kwargs.pop("kc_kubeconfig", None), context=kwargs.pop("kc_context", None),
        namespace=namespace, all_namespaces=all_ns, namespace_selector=selector,
        qps=float(kwargs.pop("kc_qps", 50.0)), burst=int(kwargs.pop("kc_burst", 100)),
        dry_run=DryRun(kwargs.pop("kc_dry_run", "none")), output=kwargs.pop("kc_output", "table"),
        workers=int(kwargs.pop("kc_workers", DEFAULT_WORKERS)),
    )


def report(rows: Sequence[TargetResult], cluster: ClusterOptions, *, document: dict[str, Any] | None = None) -> None:
    """Print the per-target summary (table, or JSON/YAML `{..., results, summary}`); exit 1 on failures."""
    from regcred.cli.output import emit, render_table

    counts = summarize(rows)
    doc = {**(document or {}), "dryRun": cluster.dry_run.value, "results": [r.as_json() for r in rows],
           "summary": counts}
    table_rows = [[r.namespace, r.name, r.status.value, r.message] for r in rows]
    table = render_table(("namespace", "name", "status", "message"), table_rows) if rows else "nothing to do"
    if cluster.output == "table" and len(rows) > 1:
        table += "\n" + ", ".join(f"{n} {s}" for s, n in counts.items())
    emit(doc, cluster.output, table)
    failed = sum(1 for r in rows if r.failed)
    if failed:
        namespaces = len({r.namespace for r in rows if r.failed})
        raise OperationFailed(f"{failed} target(s) failed in {namespaces} namespace(s); the others were done",
                              hint="see the failed rows above")

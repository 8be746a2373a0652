"""`regcred controller`: run the controller, and `regcred controller manifests` to deploy it.

Subcommands load lazily from their own modules (no command module imports another); running the controller
imports the kube client only when it runs.
"""

from __future__ import annotations

import click

from regcred.cli.lazy import LazyGroup
from regcred.cli.options import FiniteFloatRange

SUBCOMMANDS = {
    "manifests": ("regcred.cli.controller_manifests:manifests_command",
                  "Print the CRD, Namespace, RBAC, Deployment and PodDisruptionBudget of the controller."),
}


@click.group("controller", cls=LazyGroup, lazy=SUBCOMMANDS, invoke_without_command=True)
@click.option("--kubeconfig", type=click.Path(dir_okay=False), default=None, help="Kubeconfig file (default: "
              "$KUBECONFIG, ~/.kube/config, then the in-cluster ServiceAccount).")
@click.option("--context", default=None, help="Kubeconfig context to use.")
@click.option("--namespace", "namespaces", multiple=True, metavar="NS",
              help="Manage only this namespace (repeatable; default: every namespace a spec selects).")
@click.option("--leader-elect", is_flag=True, help="Elect a leader with a Lease; only the leader writes.")
@click.option("--leader-election-namespace", default="regcred-system", show_default=True,
              help="Namespace of the leader Lease.")
@click.option("--leader-elect-lease-duration", "lease_duration", type=FiniteFloatRange(min=1, max=3600), default=15.0,
              show_default=True, metavar="SECONDS", help="How long followers wait after the last renewal before "
              "taking the Lease (client-go's LeaseDuration).")
@click.option("--leader-elect-renew-deadline", "renew_deadline", type=FiniteFloatRange(min=0.5, max=3600),
              default=10.0, show_default=True, metavar="SECONDS",
              help="How long the leader keeps trying to renew before it stops writing (RenewDeadline).")
@click.option("--leader-elect-retry-period", "retry_period", type=FiniteFloatRange(min=0.1, max=3600), default=2.0,
              show_default=True, metavar="SECONDS", help="Time between tries to take or renew the Lease.")
@click.option("--metrics-bind-address", default=":8080", show_default=True,
              help="Prometheus /metrics address, HOST:PORT or :PORT; 0 turns it off.")
@click.option("--health-probe-bind-address", default=":8081", show_default=True,
              help="/healthz and /readyz address; 0 turns it off.")
@click.option("--workers", type=click.IntRange(1, 64), default=2, show_default=True,
              help="Reconciles running at the same time.")
@click.option("--kube-api-qps", type=click.FloatRange(min=0), default=0.0, show_default=True,
              help="Client-side limit of API requests per second; 0: none (the workers bound concurrency and the "
                   "API server's priority and fairness applies).")
@click.option("--kube-api-burst", type=click.IntRange(min=1), default=100, show_default=True,
              help="Requests allowed at once above --kube-api-qps.")
@click.option("--webhook", is_flag=True, help="Serve the admission webhook that adds pull Secrets to new Pods "
              "(every replica serves it).")
@click.option("--webhook-bind-address", default=":9443", show_default=True,
              help="HTTPS address of the webhook, HOST:PORT or :PORT.")
@click.option("--webhook-cert-dir", type=click.Path(file_okay=False), default=None, metavar="DIR",
              help="Serve DIR/tls.crt and DIR/tls.key (cert-manager; re-read when they change) instead of a "
              "certificate the controller manages itself.")
@click.option("--credential-refresh-fraction", "refresh_fraction", type=FiniteFloatRange(min=0.1, max=0.95),
              default=0.8, show_default=True, metavar="FRACTION",
              help="Fetch a credential-provider plugin's next credential when this fraction of its cacheDuration "
                   "has passed.")
@click.option("--ca-file", type=click.Path(dir_okay=False), default=None,
              help="verifyBeforeRollout: trust only this PEM CA bundle for the registries (default: the system's).")
@click.option("--insecure-http", is_flag=True, help="verifyBeforeRollout: speak plain HTTP to the registries.")
@click.option("--log-format", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--log-level", type=click.Choice(["debug", "info", "warning", "error"]), default="info",
              show_default=True)
@click.pass_context
def controller(ctx: click.Context, kubeconfig: str | None, context: str | None, namespaces: tuple[str, ...],
               leader_elect: bool, leader_election_namespace: str, lease_duration: float, renew_deadline: float,
               retry_period: float, metrics_bind_address: str,
               health_probe_bind_address: str, workers: int, kube_api_qps: float, kube_api_burst: int, webhook: bool,
               webhook_bind_address: str, webhook_cert_dir: str | None, refresh_fraction: float,
               ca_file: str | None, insecure_http: bool, log_format: str, log_level: str) -> None:
    """Keep every namespace a RegistryCredential selects in step; `manifests` prints its deployment."""
    if ctx.invoked_subcommand is not None:
        return
    if not lease_duration > renew_deadline > retry_period:
        raise click.BadParameter("need lease duration > renew deadline > retry period (client-go's rule)",
                                 param_hint="--leader-elect-lease-duration/--leader-elect-renew-deadline/"
                                            "--leader-elect-retry-period")
    import signal  # lazy: only running the controller needs these
    import threading  # lazy: only running the controller needs these

    from regcred.controller.logs import configure_logging  # lazy: only running the controller needs these
    from regcred.controller.manager import Options, run  # lazy: only running the controller needs these

    configure_logging(json=log_format == "json", level=log_level)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    options = Options(kubeconfig=kubeconfig, context=context, namespaces=namespaces, leader_elect=leader_elect,
                      leader_election_namespace=leader_election_namespace, lease_duration=lease_duration,
                      renew_deadline=renew_deadline, retry_period=retry_period,
                      metrics_bind_address=metrics_bind_address,
                      health_probe_bind_address=health_probe_bind_address, workers=workers,
                      kube_api_qps=kube_api_qps, kube_api_burst=kube_api_burst, webhook=webhook,
                      webhook_bind_address=webhook_bind_address, webhook_cert_dir=webhook_cert_dir,
                      registry_ca_file=ca_file, registry_insecure_http=insecure_http,
                      credential_refresh_fraction=refresh_fraction)
    ctx.exit(run(options, stop))

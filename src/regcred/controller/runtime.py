"""The threads and servers `manager.run` starts: metrics and probes, the webhook, the resync and status loops,
and leader election (each stops on the manager's `stop` Event).

Why apart from the manager: the manager is the controller's state and its reactions to events; this is only how
the process runs them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from regcred.controller.manager import Manager, Options
    from regcred.controller.metrics import ControllerMetrics

LEASE_NAME = "regcred-controller"


def start_thread(target: Callable[[], None], name: str) -> threading.Thread:
    thread = threading.Thread(target=target, name=f"regcred-{name}", daemon=True)
    thread.start()
    return thread


def serve_endpoints(options: Options, metrics: ControllerMetrics, ready: Callable[[], bool]) -> list[Any]:
    from regcred.controller.metrics import (  # lazy: loaded when the controller runs
        serve_metrics,
        serve_probes,
    )

    servers: list[Any] = []
    if options.metrics_bind_address != "0":
        servers.append(serve_metrics(options.metrics_bind_address, metrics))
    if options.health_probe_bind_address != "0":
        servers.append(serve_probes(options.health_probe_bind_address, ready=ready))
    return servers


def start_webhook_for(options: Options, api: Any, manager: Manager) -> Any:
    from regcred.controller.webhook.runner import start_webhook  # lazy: loaded when the webhook runs

    return start_webhook(api, manager.caches, manager.metrics, bind=options.webhook_bind_address,
                         cert_dir=options.webhook_cert_dir, namespace=options.leader_election_namespace,
                         managed_namespaces=options.namespaces, stop=manager.stop,
                         ready_timeout=options.sync_timeout)


def resync_loop(manager: Manager) -> None:
    while not manager.stop.wait(manager.options.resync_seconds):
        manager.resync()


def status_loop(manager: Manager) -> None:
    """The only writer of statuses and of the finalizer's release; like the workers, only while leading."""
    while not manager.stop.wait(manager.status_interval):
        if manager.leading.is_set():
            manager.flush()


def elect(options: Options, config: Any, manager: Manager, lost: threading.Event) -> None:
    """Workers run only while leading; the elector has its own client so a busy worker pool cannot starve it."""
    from regcred.controller.leader import LeaseElector  # lazy: loaded when the controller runs
    from regcred.shells.kube.kubeconfig import connect  # lazy: loaded when the controller runs

    def started() -> None:
        manager.leading.set()
        manager.metrics.leader.set(1)

    def stopped() -> None:
        manager.leading.clear()
        manager.metrics.leader.set(0)
        if not manager.stop.is_set():
            lost.set()
            manager.stop.set()

    with connect(config) as api:
        elector = LeaseElector(api, namespace=options.leader_election_namespace, name=LEASE_NAME,
                               identity=manager.identity, lease_duration=options.lease_duration,
                               renew_deadline=options.renew_deadline, retry_period=options.retry_period)
        elector.run(on_started_leading=started, on_stopped_leading=stopped, stop=manager.stop)


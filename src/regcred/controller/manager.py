"""The controller process: informers -> keys -> work queue -> workers -> reconcile, status, Events, finalizer.

Why one module: it only wires the pieces (each tested alone) in the order docs/guides/controller.md gives;
every thread stops on the shared `stop` Event.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from regcred.controller.informer import Informer
from regcred.controller.metrics import ControllerMetrics
from regcred.controller.reconciler import ReconcileResult
from regcred.controller.workqueue import WorkQueue
from regcred.core.controller.keys import Key, keys_for_event
from regcred.core.spec.model import RegistryCredential
from regcred.core.spec.schema import WORKLOAD_KINDS

log = logging.getLogger("regcred.controller")
Obj = dict[str, Any]
MANAGED = "app.kubernetes.io/managed-by=regcred"
SOURCES = "app.kubernetes.io/managed-by!=regcred"
LEASE_NAME = "regcred-controller"


@dataclass(frozen=True)
class Options:
    """What `regcred controller` was asked for."""

    kubeconfig: str | None = None
    context: str | None = None
    namespaces: tuple[str, ...] = ()  # empty: every namespace a spec selects
    leader_elect: bool = False
    leader_election_namespace: str = "regcred-system"
    metrics_bind_address: str = ":8080"  # "0": off
    health_probe_bind_address: str = ":8081"  # "0": off
    workers: int = 2
    resync_seconds: float = 600.0
    sync_timeout: float = 60.0
    identity: str | None = None
    kube_api_qps: float = 0.0  # client-side limit; 0: none (the workers bound concurrency, APF protects the server)
    kube_api_burst: int = 100


class Manager:
    """The running controller's state; `run` builds one and drives it."""

    def __init__(self, api: Any, options: Options, stop: threading.Event, metrics: ControllerMetrics) -> None:
        from regcred.controller.cachedapi import Layered  # lazy: loaded when the controller runs
        from regcred.controller.events import EventRecorder  # lazy: loaded when the controller runs
        from regcred.core.controller.cachefields import transform_for  # lazy: loaded when the controller runs

        self.api, self.options, self.stop, self.metrics = api, options, stop, metrics
        self.queue: WorkQueue[Key] = WorkQueue()
        self.leading = threading.Event()
        self.synced = threading.Event()
        self.results: dict[str, dict[str, ReconcileResult]] = {}
        self._parsed: dict[tuple[Any, Any, Any], RegistryCredential] = {}
        self.lock = threading.Lock()
        self.recorder = EventRecorder(api, instance=options.identity or "regcred-controller")

        def informer(kind: str, selector: str | None = None) -> Informer:
            return Informer(api, kind, label_selector=selector, transform=transform_for(kind), stop=stop,
                            metrics=metrics)

        self.informers = {kind: informer(kind) for kind in ("RegistryCredential", "Namespace", "ServiceAccount",
                                                               *WORKLOAD_KINDS)}
        self.informers["Secret"] = informer("Secret", MANAGED)
        self.informers["SourceSecret"] = informer("Secret", SOURCES)
        self.caches: dict[str, Any] = {k: v for k, v in self.informers.items() if k != "SourceSecret"}
        self.caches["Secret"] = Layered(self.informers["Secret"], self.informers["SourceSecret"])
        for name, inf in self.informers.items():
            kind = "Secret" if name == "SourceSecret" else name
            inf.add_handler(self._handler(kind))

    # --- events -> keys
    def specs(self) -> list[RegistryCredential]:
        from regcred.controller.reconciler import parse_spec  # lazy: loaded when the controller runs
        from regcred.core.errors import RegcredError  # lazy: loaded when the controller runs

        found, parsed = [], {}
        for obj in self.informers["RegistryCredential"].list():
            meta = obj.get("metadata") or {}
            key = (meta.get("name"), meta.get("uid"), meta.get("generation"))  # the spec part changes generation
            spec = self._parsed.get(key)
            if spec is None:
                try:
                    spec = parse_spec(obj)
                except RegcredError:
                    continue
            parsed[key] = spec
            found.append(spec)
        self._parsed = parsed  # parsed once per generation, not once per event (a cold start brings thousands)
        return found

    def namespaces(self) -> list[Obj]:
        allowed = set(self.options.namespaces)
        return [ns for ns in self.informers["Namespace"].list()
                if not allowed or (ns.get("metadata") or {}).get("name") in allowed]

    def enqueue(self, keys: set[Key]) -> None:
        allowed = set(self.options.namespaces)
        for key in keys:
            if not allowed or key[1] in allowed:
                self.queue.add(key)
        self.metrics.queue_depth.set(len(self.queue))

    def _handler(self, kind: str) -> Callable[[str, Obj | None, Obj | None], None]:
        fan_out = kind in ("RegistryCredential", "Secret")  # a spec or a source Secret: every targeted namespace

        def handle(_type: str, old: Obj | None, new: Obj | None) -> None:
            if fan_out:
                namespaces = self.namespaces()
            else:  # a namespaced object needs its own Namespace only (not a scan of thousands per event)
                where = ((new or old or {}).get("metadata") or {}).get("namespace")
                own = self.informers["Namespace"].get(str(where)) if where else None
                namespaces = [own] if own is not None else []
            self.enqueue(keys_for_event(kind, old, new, self.specs(), namespaces))
        return handle

    def resync(self) -> None:
        """Every key again: a converged key reconciles from the caches and writes nothing."""
        names = [(ns.get("metadata") or {}).get("name", "") for ns in self.namespaces()]
        specs = [(o.get("metadata") or {}).get("name", "") for o in self.informers["RegistryCredential"].list()]
        self.enqueue({(s, n) for s in specs for n in names})

    # --- workers
    def worker(self) -> None:
        while not self.stop.is_set():
            if not self.leading.wait(0.2):
                continue
            key = self.queue.get(timeout=0.2)
            if key is None:
                continue
            try:
                self.process(key)
            except Exception:  # a bug in one key must not kill the worker; retried with backoff
                log.exception("reconcile crashed", extra={"spec": key[0], "namespace": key[1]})
                self.queue.add_rate_limited(key)
            finally:
                self.queue.done(key)
                self.metrics.queue_depth.set(len(self.queue))

    def process(self, key: Key) -> None:
        from regcred.controller.finalizer import ensure_finalizer  # lazy: loaded when the controller runs
        from regcred.controller.reconciler import reconcile  # lazy: loaded when the controller runs

        specs = self.informers["RegistryCredential"]
        spec = specs.get(key[0])
        if spec is not None and not (spec.get("metadata") or {}).get("deletionTimestamp"):
            answer = ensure_finalizer(self.api, spec)
            if answer is not spec:
                specs.write_through(answer)
        started = time.monotonic()
        result = reconcile(self.api, self.caches, key)
        self.metrics.observe_reconcile("error" if result.failed else "success", time.monotonic() - started)
        if result.failed:
            self.queue.add_rate_limited(key)
        else:
            self.queue.forget(key)
        with self.lock:
            self.results.setdefault(key[0], {})[key[1]] = result
        spec = specs.get(key[0])
        if spec is not None:
            self.report(spec, result)

    def report(self, spec: Obj, result: ReconcileResult) -> None:
        """Events for what needs a human, the status, and the finalizer once a deleted spec is cleaned up."""
        from regcred.controller.finalizer import release_finalizer  # lazy: loaded when the controller runs
        from regcred.controller.status import write_status  # lazy: loaded when the controller runs

        for secret in result.not_owned:
            self.recorder.emit(spec, "Warning", "SecretNotOwned", f"Secret {secret} is not owned by regcred")
        for forbidden in result.forbidden:
            self.recorder.emit(spec, "Warning", "Forbidden", str(forbidden))
        name = str((spec.get("metadata") or {}).get("name"))
        with self.lock:
            results = dict(self.results.get(name, {}))
        if (spec.get("metadata") or {}).get("deletionTimestamp"):
            names = [(ns.get("metadata") or {}).get("name") for ns in self.namespaces()]
            if all(n in results and not results[n].failed for n in names):
                release_finalizer(self.api, spec)
                with self.lock:
                    self.results.pop(name, None)
            return
        answer = write_status(self.api, spec, results.values())
        if answer is not None:
            self.informers["RegistryCredential"].write_through(answer)


def run(options: Options, stop: threading.Event, *, on_ready: Callable[[Manager], None] | None = None) -> int:
    """Run until `stop` is set: 0; 1 after a lost leader lease (the pod restarts and follows)."""
    from regcred.controller.metrics import parse_bind  # lazy: loaded when the controller runs
    from regcred.shells.kube.kubeconfig import ClusterConfig, connect  # lazy: loaded when the controller runs

    for bind in (options.metrics_bind_address, options.health_probe_bind_address):
        if bind != "0":
            parse_bind(bind)  # a typo fails before any connection, as one line
    config = ClusterConfig(kubeconfig=options.kubeconfig, context=options.context, qps=options.kube_api_qps,
                           burst=options.kube_api_burst)
    metrics = ControllerMetrics()
    with connect(config) as api:
        api.observer = metrics.observe_request
        manager = Manager(api, options, stop, metrics)
        servers = _serve(options, metrics, manager.synced.is_set)
        threads: list[threading.Thread] = []
        lost = threading.Event()
        try:
            for inf in manager.informers.values():
                inf.start()
            deadline = time.monotonic() + options.sync_timeout
            while not stop.is_set() and not all(i.has_synced for i in manager.informers.values()):
                if time.monotonic() > deadline:
                    log.error("caches did not sync", extra={"timeout": options.sync_timeout})
                    return 1
                stop.wait(0.05)
            manager.synced.set()
            manager.resync()
            threads = [_thread(manager.worker, f"worker-{i}") for i in range(max(1, options.workers))]
            threads.append(_thread(lambda: _resync_loop(manager), "resync"))
            if options.leader_elect:
                threads.append(_thread(lambda: _elect(options, config, manager, lost), "elector"))
            else:
                manager.leading.set()
                metrics.leader.set(1)
            if on_ready is not None:
                on_ready(manager)
            stop.wait()
        finally:
            stop.set()
            manager.queue.shutdown()
            for thread in threads:
                thread.join(timeout=5)
            for inf in manager.informers.values():
                inf.join(timeout=5)
            for server in servers:
                server.stop()
    return 1 if lost.is_set() else 0


def _thread(target: Callable[[], None], name: str) -> threading.Thread:
    thread = threading.Thread(target=target, name=f"regcred-{name}", daemon=True)
    thread.start()
    return thread


def _serve(options: Options, metrics: ControllerMetrics, ready: Callable[[], bool]) -> list[Any]:
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


def _resync_loop(manager: Manager) -> None:
    while not manager.stop.wait(manager.options.resync_seconds):
        manager.resync()


def _elect(options: Options, config: Any, manager: Manager, lost: threading.Event) -> None:
    """Workers run only while leading; the elector has its own client so a busy worker pool cannot starve it."""
    from regcred.controller.leader import (  # lazy: loaded when the controller runs
        LeaseElector,
        default_identity,
    )
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
                               identity=options.identity or default_identity())
        elector.run(on_started_leading=started, on_stopped_leading=stopped, stop=manager.stop)


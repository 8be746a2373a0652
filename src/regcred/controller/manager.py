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
from regcred.controller.leader import default_identity
from regcred.controller.metrics import ControllerMetrics
from regcred.controller.reconciler import REFRESH_FRACTION, ReconcileResult
from regcred.controller.runtime import (
    elect,
    resync_loop,
    serve_endpoints,
    start_thread,
    start_webhook_for,
    status_loop,
)
from regcred.controller.sources import SourceSecrets
from regcred.controller.status import Seen
from regcred.controller.workqueue import WorkQueue
from regcred.core.controller.keys import Key, SpecCache, keys_for_event, own_namespace, parse_specs
from regcred.core.spec.expiry import per_registry
from regcred.core.spec.model import RegistryCredential
from regcred.core.spec.schema import WORKLOAD_KINDS
from regcred.shells.kube.errors import KubeConflict, KubeInvalid

log = logging.getLogger("regcred.controller")
Obj = dict[str, Any]
MANAGED = "app.kubernetes.io/managed-by=regcred"
SOURCES = "app.kubernetes.io/managed-by!=regcred"
STATUS_INTERVAL = 1.0  # seconds: each spec's status is written at most this often


@dataclass(frozen=True)
class Options:
    """What `regcred controller` was asked for."""

    kubeconfig: str | None = None
    context: str | None = None
    namespaces: tuple[str, ...] = ()  # empty: every namespace a spec selects
    leader_elect: bool = False
    leader_election_namespace: str = "regcred-system"
    lease_duration: float = 15.0  # client-go's defaults; lease > renew deadline > retry period
    renew_deadline: float = 10.0
    retry_period: float = 2.0
    metrics_bind_address: str = ":8080"  # "0": off
    health_probe_bind_address: str = ":8081"  # "0": off
    workers: int = 2
    resync_seconds: float = 600.0
    sync_timeout: float = 60.0
    identity: str | None = None
    kube_api_qps: float = 0.0  # client-side limit; 0: none (the workers bound concurrency, APF protects the server)
    kube_api_burst: int = 100
    webhook: bool = False  # serve the admission webhook (every replica)
    webhook_bind_address: str = ":9443"
    webhook_cert_dir: str | None = None  # None: a self-managed certificate (a Secret), materialised in a temp dir
    registry_ca_file: str | None = None  # verifyBeforeRollout: the registries' CA bundle (None: the system's)
    registry_insecure_http: bool = False  # verifyBeforeRollout: plain HTTP to the registries
    credential_refresh_fraction: float = REFRESH_FRACTION  # of a plugin credential's lifetime, when the next one is fetched


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
        self.results: dict[str, dict[str, Seen]] = {}  # spec -> namespace -> its key's last reconcile
        self.dirty: set[str] = set()  # specs whose status or finalizer the next flush looks at
        self.quiet: set[Key] = set()  # keys queued by the resync alone: they do not make a spec Progressing
        self._parsed: SpecCache = {}
        self.lock = threading.Lock()
        self.status_interval = STATUS_INTERVAL
        self.identity = options.identity or default_identity()
        self.recorder = EventRecorder(api, instance=self.identity)

        def informer(kind: str, selector: str | None = None) -> Informer:
            return Informer(api, kind, label_selector=selector, transform=transform_for(kind), stop=stop,
                            metrics=metrics)

        self.informers = {kind: informer(kind) for kind in ("RegistryCredential", "Namespace", "ServiceAccount",
                                                               *WORKLOAD_KINDS)}
        self.informers["Secret"] = informer("Secret", MANAGED)
        self.sources = SourceSecrets(api)  # the source cache keeps data only of the Secrets specs read
        self.informers["SourceSecret"] = Informer(api, "Secret", label_selector=SOURCES,
                                                  transform=self.sources.transform, stop=stop, metrics=metrics)
        self.caches: dict[str, Any] = {k: v for k, v in self.informers.items() if k != "SourceSecret"}
        self.caches["Secret"] = Layered(self.informers["Secret"], self.informers["SourceSecret"])
        for name, inf in self.informers.items():
            kind = "Secret" if name == "SourceSecret" else name
            inf.add_handler(self._handler(kind))

    # --- events -> keys
    def specs(self) -> list[RegistryCredential]:
        found, self._parsed = parse_specs(self.informers["RegistryCredential"].list(), self._parsed)
        return found

    def namespaces(self) -> list[Obj]:
        allowed = set(self.options.namespaces)
        return [ns for ns in self.informers["Namespace"].list()
                if not allowed or (ns.get("metadata") or {}).get("name") in allowed]

    def enqueue(self, keys: set[Key], *, quiet: bool = False) -> None:
        """Queue keys; `quiet` (the resync): a key not already outstanding does not count as pending work."""
        allowed = set(self.options.namespaces)
        keys = {key for key in keys if not allowed or key[1] in allowed}
        with self.lock:
            if quiet:
                self.quiet |= keys - self.queue.outstanding()
            else:
                self.quiet -= keys
            for key in keys:
                self.queue.add(key)
        self.metrics.queue_depth.set(len(self.queue))

    def _handler(self, kind: str) -> Callable[[str, Obj | None, Obj | None], None]:
        fan_out = kind in ("RegistryCredential", "Secret")  # a spec or a source Secret: every targeted namespace

        def handle(_type: str, old: Obj | None, new: Obj | None) -> None:
            if kind == "RegistryCredential":  # its status or finalizer may need a write even with no key
                with self.lock:
                    self.dirty |= {str((o.get("metadata") or {}).get("name")) for o in (old, new) if o}
                self.sources.follow(self.specs(), self.informers["SourceSecret"])
            namespaces = self.namespaces() if fan_out else own_namespace(self.informers["Namespace"], new or old)
            self.enqueue(keys_for_event(kind, old, new, self.specs(), namespaces))
        return handle

    def resync(self, *, quiet: bool = True) -> None:
        """Every key again: a converged key reconciles from the caches and writes nothing."""
        names = [(ns.get("metadata") or {}).get("name", "") for ns in self.namespaces()]
        specs = [(o.get("metadata") or {}).get("name", "") for o in self.informers["RegistryCredential"].list()]
        with self.lock:
            self.dirty |= set(specs)
        self.sources.follow(self.specs(), self.informers["SourceSecret"])  # retries a source read that failed
        self.enqueue({(s, n) for s in specs for n in names}, quiet=quiet)

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
        meta = (spec or {}).get("metadata") or {}
        if spec is not None and not meta.get("deletionTimestamp"):
            try:
                answer = ensure_finalizer(self.api, spec)
            except (KubeConflict, KubeInvalid):  # its `test` failed: changed meanwhile (another worker's add)
                answer = ensure_finalizer(self.api, self.api.get("RegistryCredential", key[0]))
            if answer is not spec:
                specs.write_through(answer)
        started = time.monotonic()
        result = reconcile(self.api, self.caches, key)
        self.metrics.observe_reconcile("error" if result.failed else "success", time.monotonic() - started)
        self.metrics.observe_expiry(key[0], None if result.expiries is None else per_registry(result.expiries))
        if result.failed:
            self.queue.add_rate_limited(key)
        else:
            self.queue.forget(key)
        with self.lock:
            self.results.setdefault(key[0], {})[key[1]] = Seen(int(meta.get("generation") or 0),
                                                                bool(meta.get("deletionTimestamp")), result)
            self.dirty.add(key[0])
            self.quiet.discard(key)
            if result.refresh_at is not None and not result.failed:  # a plugin's credential: again before expiry
                self.quiet.add(key)  # (like the resync's keys, no pending work)
                self.queue.add_after(key, max(result.refresh_at - time.time(), 0.0))
        if spec is not None:
            self.report(spec, result)

    def report(self, spec: Obj, result: ReconcileResult) -> None:
        """Events for what needs a human (the status and the finalizer wait for `flush`)."""
        for secret in result.not_owned:
            self.recorder.emit(spec, "Warning", "SecretNotOwned", f"Secret {secret} is not owned by regcred")
        for forbidden in result.forbidden:
            self.recorder.emit(spec, "Warning", "Forbidden", str(forbidden))
        for line in dict.fromkeys(result.held):  # the same line from every namespace folds into one Event's series
            self.recorder.emit(spec, "Warning", "RolloutHeld", line)

    # --- status, finalizer, gauges: at most once per status_interval
    def flush(self) -> None:
        """Write each changed spec's status (if it differs), release finalizers, set the gauges."""
        with self.lock:
            names, self.dirty = self.dirty, set()
            loud = self.queue.outstanding() - self.quiet
        namespaces = self.namespaces()
        for name in sorted(names):
            try:
                self._flush_spec(name, namespaces, [ns for spec, ns in loud if spec == name])
            except Exception as exc:  # a refused write (409, 422, 403) or a bug: try again at the next flush
                log.warning("status of %s not written (%s); retrying", name, exc, extra={"spec": name})
                with self.lock:
                    self.dirty.add(name)
        if names:
            self._count_managed()

    def _flush_spec(self, name: str, namespaces: list[Obj], queued: list[str]) -> None:
        from regcred.controller.finalizer import (  # lazy: loaded when the controller runs
            FINALIZER,
            release_finalizer,
        )
        from regcred.controller.reconciler import parse_spec  # lazy: loaded when the controller runs
        from regcred.controller.status import (  # lazy: loaded when the controller runs
            cleaned_up,
            holds,
            progress,
            write_status,
        )
        from regcred.core.controller.conditions import expiry_warning  # lazy: loaded when the controller runs
        from regcred.core.errors import RegcredError  # lazy: loaded when the controller runs

        specs = self.informers["RegistryCredential"]
        obj = specs.get(name)
        with self.lock:
            seen = dict(self.results.get(name, {}))
        if obj is None:  # gone: forget it
            with self.lock:
                self.results.pop(name, None)
            self.metrics.forget_spec(name)
            return
        meta = obj.get("metadata") or {}
        try:
            spec = parse_spec(obj)
        except RegcredError:  # a spec regcred cannot read: its keys fail and say why (Events, logs)
            spec = None
        if meta.get("deletionTimestamp"):
            if FINALIZER not in (meta.get("finalizers") or []):
                return
            if cleaned_up(namespaces, seen):
                answer = release_finalizer(self.api, obj)
                if answer is not None:
                    specs.write_through(answer)
                with self.lock:
                    self.results.pop(name, None)
                return
            # the cleanup goes on, or fails (a missing permission): the status says which, Degraded names it
            live = {(ns.get("metadata") or {}).get("name") for ns in namespaces}
            results = [s.result for ns, s in sorted(seen.items()) if s.deleting and ns in live]
            pending = len(live) - len(results)
        elif spec is None:
            return
        else:
            generation = int(meta.get("generation") or 0)
            now = progress(spec, generation, namespaces, seen, queued)
            self.metrics.uncovered_namespaces.labels(spec=name).set(now.uncovered)
            if holds(obj.get("status"), generation, now):
                return
            results, pending = list(now.results), now.pending
        answer = write_status(self.api, obj, results, pending=pending, secret_name=spec.secret_name if spec else "")
        if answer is not None:
            specs.write_through(answer)
            warning = expiry_warning(obj.get("status"), answer.get("status") or {})
            if warning is not None:
                self.recorder.emit(answer, "Warning", "CredentialExpiring", warning)

    def _count_managed(self) -> None:
        """regcred_managed_objects: the Secrets it owns, and the objects carrying entries it recorded."""
        from regcred.core.cluster.serviceaccounts import (  # lazy: loaded when the controller runs
            recorded_names,
        )

        allowed = set(self.options.namespaces)

        def mine(objs: list[Obj]) -> list[Obj]:
            return [o for o in objs if not allowed or (o.get("metadata") or {}).get("namespace") in allowed]

        self.metrics.managed_objects.labels(kind="Secret").set(len(mine(self.informers["Secret"].list())))
        for kind in ("ServiceAccount", *WORKLOAD_KINDS):
            count = sum(1 for o in mine(self.informers[kind].list()) if recorded_names(o))
            self.metrics.managed_objects.labels(kind=kind).set(count)


def run(options: Options, stop: threading.Event, *, on_ready: Callable[[Manager], None] | None = None) -> int:
    """Run until `stop` is set: 0; 1 after a lost leader lease (the pod restarts and follows)."""
    from pathlib import Path  # lazy: loaded when the controller runs

    from regcred.controller.metrics import parse_bind  # lazy: loaded when the controller runs
    from regcred.controller.reconciler import (  # lazy: loaded when the controller runs
        PLUGIN_FLOOR,
        use_process_caches,
    )
    from regcred.shells.credprovider import PluginCache  # lazy: loaded when the controller runs
    from regcred.shells.kube.kubeconfig import ClusterConfig, connect  # lazy: loaded when the controller runs
    from regcred.usecases.rollout import RolloutGate  # lazy: loaded when the controller runs
    from regcred.usecases.verification import CheckOptions  # lazy: loaded when the controller runs

    binds = (options.metrics_bind_address, options.health_probe_bind_address,
             *([options.webhook_bind_address] if options.webhook else []))
    for bind in binds:
        if bind != "0":
            parse_bind(bind)  # a typo fails before any connection, as one line
    ca_file = Path(options.registry_ca_file) if options.registry_ca_file else None  # a fresh cache per run
    if ca_file is not None:
        from regcred.shells.registry import ssl_context  # lazy: loaded when the controller runs

        ssl_context(ca_file)  # a bad bundle fails now, as one line, not in every reconcile
    use_process_caches(PluginCache(options.credential_refresh_fraction, floor=PLUGIN_FLOOR),
                       RolloutGate(CheckOptions(ca_file=ca_file, insecure_http=options.registry_insecure_http)))
    config = ClusterConfig(kubeconfig=options.kubeconfig, context=options.context, qps=options.kube_api_qps,
                           burst=options.kube_api_burst)
    metrics = ControllerMetrics()
    with connect(config) as api:
        api.observer = metrics.observe_request
        manager = Manager(api, options, stop, metrics)
        servers = serve_endpoints(options, metrics, manager.synced.is_set)
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
            if options.webhook:  # before readiness: a ready replica answers admission calls
                servers.append(start_webhook_for(options, api, manager))
            manager.synced.set()
            manager.resync()
            threads = [start_thread(manager.worker, f"worker-{i}") for i in range(max(1, options.workers))]
            threads.append(start_thread(lambda: resync_loop(manager), "resync"))
            threads.append(start_thread(lambda: status_loop(manager), "status"))
            if options.leader_elect:
                threads.append(start_thread(lambda: elect(options, config, manager, lost), "elector"))
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

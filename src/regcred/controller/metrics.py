"""The controller's Prometheus metrics and its two small HTTP servers (/metrics; /healthz and /readyz).

prometheus-client writes the exposition format (no hand-written text); every metric lives in this object's
own CollectorRegistry, so two controllers in one process (tests) never collide and the library's default
process/GC collectors are not mixed in unasked. Only `regcred controller` imports this module.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from regcred.core.errors import InputError

log = logging.getLogger(__name__)

# controller-runtime's reconcile-time buckets, from 5 ms to a minute.
RECONCILE_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 15.0, 30.0, 60.0)
RESULTS = ("success", "error", "requeue", "requeue_after")
# An admission answer is wanted in a few milliseconds; the top buckets catch a Secret created on admission.
ADMISSION_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
# patched: a JSON Patch was returned; allowed: nothing to add; skipped: not for this webhook (not a Pod CREATE,
# opted out, a namespace not managed); invalid: a body that is not a review; error: an internal error (admitted
# unchanged).
ADMISSION_RESULTS = ("patched", "allowed", "skipped", "invalid", "error")


class ControllerMetrics:
    """Every metric the controller exports; attributes are prometheus-client metrics (thread-safe)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.reconciles = Counter("regcred_reconcile", "Reconciles of a (spec, namespace) key, by result.",
                                  ["result"], registry=r)
        self.reconcile_errors = Counter("regcred_reconcile_errors", "Reconciles that ended in an error.",
                                        registry=r)
        self.reconcile_seconds = Histogram("regcred_reconcile_duration_seconds", "Time spent in one reconcile.",
                                           buckets=RECONCILE_BUCKETS, registry=r)
        self.queue_depth = Gauge("regcred_workqueue_depth", "Keys waiting in the work queue.", registry=r)
        self.api_requests = Counter("regcred_api_requests", "Requests to the Kubernetes API by verb and HTTP "
                                    "code ('<error>': no answer).", ["verb", "code"], registry=r)
        self.watch_restarts = Counter("regcred_watch_restarts", "Watches started again (timeout, error, 410 "
                                      "Gone), by kind.", ["kind"], registry=r)
        self.managed_objects = Gauge("regcred_managed_objects", "Objects regcred manages, by kind.", ["kind"],
                                     registry=r)
        self.uncovered_namespaces = Gauge("regcred_uncovered_namespaces", "Namespaces a spec targets that are "
                                          "not (yet) covered, by spec.", ["spec"], registry=r)
        self.leader = Gauge("regcred_leader", "1 while this replica holds the leader Lease.", registry=r)
        self.credential_expiry = Gauge("regcred_credential_expiry_timestamp_seconds", "When the credential a "
                                       "spec writes for a registry expires (a plugin's answer, expiresAt, or a "
                                       "source Secret's regcred.dev/expires-at; Unix time; seconds to expiry: "
                                       "this minus time()), by spec and registry.", ["spec", "registry"],
                                       registry=r)
        self._expiry_series: dict[str, set[str]] = {}  # spec -> registries with a series (to remove stale ones)
        self._expiry_lock = threading.Lock()
        self.admission_requests = Counter("regcred_webhook_admission_requests", "AdmissionReviews answered, by "
                                          "result.", ["result"], registry=r)
        self.admission_seconds = Histogram("regcred_webhook_admission_duration_seconds", "Time to answer one "
                                           "AdmissionReview.", buckets=ADMISSION_BUCKETS, registry=r)
        self.webhook_patches = Counter("regcred_webhook_patches", "Pods patched with a pull Secret at admission.",
                                       registry=r)
        self.webhook_secrets_created = Counter("regcred_webhook_secrets_created", "Pull Secrets created at "
                                               "admission (the namespace had none yet).", registry=r)
        self.webhook_secret_failures = Counter("regcred_webhook_secret_failures", "Pull Secrets that could not be "
                                               "created at admission, by reason (timeout | error).", ["reason"],
                                               registry=r)
        for result in RESULTS:  # present from the start, so a rate() has a zero to begin from
            self.reconciles.labels(result=result)
        for result in ADMISSION_RESULTS:
            self.admission_requests.labels(result=result)
        for reason in ("timeout", "error"):
            self.webhook_secret_failures.labels(reason=reason)

    def observe_reconcile(self, result: str, seconds: float) -> None:
        """One reconcile: its result (success | error | requeue | requeue_after) and duration."""
        self.reconciles.labels(result=result).inc()
        if result == "error":
            self.reconcile_errors.inc()
        self.reconcile_seconds.observe(seconds)

    def observe_expiry(self, spec: str, expiries: Mapping[str, float] | None) -> None:
        """A reconcile wrote credentials expiring at these times, by registry (None: it did not tell, e.g. the
        namespace is not targeted); a registry whose credential no longer expires loses its series."""
        if expiries is None:
            return
        with self._expiry_lock:
            before = self._expiry_series.get(spec, set())
            for registry in before - set(expiries):
                self.credential_expiry.remove(spec, registry)
            for registry, at in expiries.items():
                self.credential_expiry.labels(spec=spec, registry=registry).set(at)
            self._expiry_series[spec] = set(expiries)

    def forget_spec(self, spec: str) -> None:
        """A spec is gone: its per-spec series go too (a dashboard must not show a credential nobody writes)."""
        self.observe_expiry(spec, {})
        with contextlib.suppress(KeyError):
            self.uncovered_namespaces.remove(spec)

    def observe_request(self, verb: str, code: int | None) -> None:
        """KubeApi.observer: one API request and its answer's code."""
        self.api_requests.labels(verb=verb, code=str(code) if code is not None else "<error>").inc()

    def observe_admission(self, result: str, seconds: float) -> None:
        """One AdmissionReview answered: its result (ADMISSION_RESULTS) and how long it took."""
        self.admission_requests.labels(result=result).inc()
        self.admission_seconds.observe(seconds)
        if result == "patched":
            self.webhook_patches.inc()

    def observe_secret_on_admission(self, outcome: str) -> None:
        """A Secret the webhook needed: created | timeout | error."""
        if outcome == "created":
            self.webhook_secrets_created.inc()
        else:
            self.webhook_secret_failures.labels(reason=outcome).inc()

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


def parse_bind(address: str) -> tuple[str, int]:
    """controller-runtime's bind address: ':8080' (every interface), '127.0.0.1:0', '[::1]:8081'."""
    host, sep, port = address.strip().rpartition(":")
    if not sep or not port.isdigit() or int(port) > 65535:
        raise InputError(f"invalid bind address {address!r}", hint="use HOST:PORT or :PORT, e.g. :8080")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    return host, int(port)


class HttpEndpoints:
    """A stoppable threaded HTTP server answering GET on a fixed set of paths; started by `serve`."""

    def __init__(self, bind: str, routes: dict[str, Callable[[], tuple[int, str, bytes]]]) -> None:
        host, port = parse_bind(bind)
        routes = dict(routes)

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                route = routes.get(self.path.split("?", 1)[0])
                status, ctype, body = route() if route else (404, "text/plain; charset=utf-8", b"not found\n")
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:  # not on stderr: debug logs only
                log.debug("http %s", format % args)

        server_class = type("Server", (ThreadingHTTPServer,), {"daemon_threads": True,
                                                                "address_family": _family(host)})
        try:
            self.server = server_class((host, port), Handler)
        except OSError as exc:
            raise InputError(f"cannot listen on {bind}: {exc.strerror or exc}",
                             hint="pick another address or port") from None
        self.port: int = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, name=f"http{bind}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=5)


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def _text(status: int, text: str) -> tuple[int, str, bytes]:
    return status, "text/plain; charset=utf-8", f"{text}\n".encode()


def serve_metrics(bind: str, metrics: ControllerMetrics) -> HttpEndpoints:
    """/metrics in Prometheus' text format."""
    return HttpEndpoints(bind, {"/metrics": lambda: (200, CONTENT_TYPE_LATEST, metrics.exposition())})


def serve_probes(bind: str, *, ready: Callable[[], bool]) -> HttpEndpoints:
    """/healthz (the process answers) and /readyz (503 until `ready()`: the caches have synced)."""
    return HttpEndpoints(bind, {
        "/healthz": lambda: _text(200, "ok"),
        "/readyz": lambda: _text(200, "ok") if ready() else _text(503, "caches not synced"),
    })

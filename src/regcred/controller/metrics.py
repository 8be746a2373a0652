"""The controller's Prometheus metrics and its two small HTTP servers (/metrics; /healthz and /readyz).

prometheus-client writes the exposition format (no hand-written text); every metric lives in this object's
own CollectorRegistry, so two controllers in one process (tests) never collide and the library's default
process/GC collectors are not mixed in unasked. Only `regcred controller` imports this module.
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable
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
        for result in RESULTS:  # present from the start, so a rate() has a zero to begin from
            self.reconciles.labels(result=result)

    def observe_reconcile(self, result: str, seconds: float) -> None:
        """One reconcile: its result (success | error | requeue | requeue_after) and duration."""
        self.reconciles.labels(result=result).inc()
        if result == "error":
            self.reconcile_errors.inc()
        self.reconcile_seconds.observe(seconds)

    def observe_request(self, verb: str, code: int | None) -> None:
        """KubeApi.observer: one API request and its answer's code."""
        self.api_requests.labels(verb=verb, code=str(code) if code is not None else "<error>").inc()

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

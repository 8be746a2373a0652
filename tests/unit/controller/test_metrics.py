"""The controller's /metrics (scraped over HTTP, parsed as Prometheus text) and its probes."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from regcred.controller.metrics import (
    ControllerMetrics,
    HttpEndpoints,
    parse_bind,
    serve_metrics,
    serve_probes,
)
from regcred.core.errors import InputError
from regcred.shells.kube.errors import KubeNotFound
from regcred.shells.kube.kubeconfig import ClusterConfig, connect


@pytest.fixture
def metrics() -> Iterator[tuple[ControllerMetrics, HttpEndpoints]]:
    m = ControllerMetrics()
    server = serve_metrics("127.0.0.1:0", m)
    yield m, server
    server.stop()


def scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(response.text) for s in family.samples}


def test_metrics_names_labels_and_values(metrics: tuple[ControllerMetrics, HttpEndpoints]) -> None:
    m, server = metrics
    samples = scrape(server.port)
    for result in ("success", "error", "requeue", "requeue_after"):  # zeros from the start
        assert samples[("regcred_reconcile_total", (("result", result),))] == 0
    m.observe_reconcile("success", 0.02)
    m.observe_reconcile("error", 3.0)
    m.queue_depth.set(7)
    m.watch_restarts.labels(kind="Secret").inc()
    m.managed_objects.labels(kind="Secret").set(30)
    m.uncovered_namespaces.labels(spec="team-a").set(2)
    m.leader.set(1)
    m.observe_expiry("ecr", {"1.dkr.ecr.eu-west-1.amazonaws.com": 1_800_000_000.0})
    m.observe_expiry("static", None)  # nothing known: no series
    m.observe_request("patch", 409)
    m.observe_request("get", None)
    samples = scrape(server.port)
    assert samples[("regcred_reconcile_total", (("result", "success"),))] == 1
    assert samples[("regcred_reconcile_total", (("result", "error"),))] == 1
    assert samples[("regcred_reconcile_errors_total", ())] == 1
    assert samples[("regcred_reconcile_duration_seconds_count", ())] == 2
    assert samples[("regcred_reconcile_duration_seconds_bucket", (("le", "0.025"),))] == 1
    assert samples[("regcred_reconcile_duration_seconds_bucket", (("le", "5.0"),))] == 2
    assert samples[("regcred_workqueue_depth", ())] == 7
    assert samples[("regcred_watch_restarts_total", (("kind", "Secret"),))] == 1
    assert samples[("regcred_managed_objects", (("kind", "Secret"),))] == 30
    assert samples[("regcred_uncovered_namespaces", (("spec", "team-a"),))] == 2
    assert samples[("regcred_leader", ())] == 1
    expiry = ("regcred_credential_expiry_timestamp_seconds",
              (("registry", "1.dkr.ecr.eu-west-1.amazonaws.com"), ("spec", "ecr")))
    assert samples[expiry] == 1_800_000_000
    assert not any(name == expiry[0] and ("spec", "static") in labels for name, labels in samples)
    assert samples[("regcred_api_requests_total", (("code", "409"), ("verb", "patch")))] == 1
    assert samples[("regcred_api_requests_total", (("code", "<error>"), ("verb", "get")))] == 1
    # its own registry: nothing of the default one (process_*, python_gc_*) mixed in
    assert not any(name.startswith(("process_", "python_")) for name, _ in samples)


def test_api_requests_counted_through_the_client_observer(fake_kube: Any,
                                                          metrics: tuple[ControllerMetrics, HttpEndpoints]) -> None:
    m, server = metrics
    api = connect(ClusterConfig(kubeconfig=str(fake_kube.kubeconfig)))
    api.observer = m.observe_request
    api.get("Namespace", "default")
    api.list("Namespace")
    with pytest.raises(KubeNotFound):
        api.get("Namespace", "no-such-namespace")
    samples = scrape(server.port)
    assert samples[("regcred_api_requests_total", (("code", "200"), ("verb", "get")))] == 1
    assert samples[("regcred_api_requests_total", (("code", "200"), ("verb", "list")))] == 1
    assert samples[("regcred_api_requests_total", (("code", "404"), ("verb", "get")))] == 1


def test_probes_readyz_flips_once_ready() -> None:
    ready = {"synced": False}
    server = serve_probes("127.0.0.1:0", ready=lambda: ready["synced"])
    base = f"http://127.0.0.1:{server.port}"
    try:
        assert httpx.get(f"{base}/healthz").status_code == 200
        assert httpx.get(f"{base}/readyz").status_code == 503
        ready["synced"] = True
        assert httpx.get(f"{base}/readyz").status_code == 200
        assert httpx.get(f"{base}/metrics").status_code == 404  # metrics are on their own address
    finally:
        server.stop()
    with pytest.raises(httpx.ConnectError):  # stopped: nothing listens any more
        httpx.get(f"{base}/healthz", timeout=2)


def test_bind_addresses() -> None:
    assert parse_bind(":8080") == ("", 8080)
    assert parse_bind("127.0.0.1:0") == ("127.0.0.1", 0)
    assert parse_bind("[::1]:8081") == ("::1", 8081)
    for bad in ("8080", "host:", "host:http", ":70000"):
        with pytest.raises(InputError):
            parse_bind(bad)
    taken = serve_probes("127.0.0.1:0", ready=lambda: True)
    try:
        with pytest.raises(InputError, match="cannot listen on"):
            serve_probes(f"127.0.0.1:{taken.port}", ready=lambda: True)
    finally:
        taken.stop()


def test_the_cli_does_not_import_prometheus_client() -> None:
    code = "import sys, regcred.cli.main; print('prometheus_client' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_watches_count_as_requests_with_their_code_and_restarts(fake_kube: Any,
                                                               metrics: tuple[ControllerMetrics, HttpEndpoints]) -> None:
    import threading
    import time

    from regcred.controller.informer import Informer

    m, server = metrics
    fake_kube.server.fail("watch", "namespaces", 500)  # the first watch is refused; the retry opens
    api = connect(ClusterConfig(kubeconfig=str(fake_kube.kubeconfig)))
    api.observer = m.observe_request
    stop = threading.Event()
    informer = Informer(api, "Namespace", stop=stop, metrics=m)
    informer.start()
    try:
        assert informer.wait_synced(10)
        deadline = time.monotonic() + 10
        while informer.watches < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.2)
        samples = scrape(server.port)
        assert samples[("regcred_api_requests_total", (("code", "500"), ("verb", "watch")))] == 1
        assert samples[("regcred_api_requests_total", (("code", "200"), ("verb", "watch")))] == 1
        assert samples[("regcred_api_requests_total", (("code", "200"), ("verb", "list")))] == 1
        assert samples[("regcred_watch_restarts_total", (("kind", "Namespace"),))] == 1
    finally:
        stop.set()
        informer.join(5)
        api.close()


def test_webhook_metrics(metrics: tuple[ControllerMetrics, HttpEndpoints]) -> None:
    m, server = metrics
    samples = scrape(server.port)
    for result in ("patched", "allowed", "skipped", "invalid", "error"):  # zeros from the start
        assert samples[("regcred_webhook_admission_requests_total", (("result", result),))] == 0
    m.observe_admission("patched", 0.0007)
    m.observe_admission("allowed", 0.0004)
    m.observe_secret_on_admission("created")
    m.observe_secret_on_admission("timeout")
    samples = scrape(server.port)
    assert samples[("regcred_webhook_admission_requests_total", (("result", "patched"),))] == 1
    assert samples[("regcred_webhook_patches_total", ())] == 1  # only the patched answer counts as a patch
    assert samples[("regcred_webhook_admission_duration_seconds_bucket", (("le", "0.0005"),))] == 1
    assert samples[("regcred_webhook_admission_duration_seconds_count", ())] == 2
    assert samples[("regcred_webhook_secrets_created_total", ())] == 1
    assert samples[("regcred_webhook_secret_failures_total", (("reason", "timeout"),))] == 1


def test_expiry_series_follow_the_specs_registries_and_go_with_the_spec(
        metrics: tuple[ControllerMetrics, HttpEndpoints]) -> None:
    m, server = metrics
    name = "regcred_credential_expiry_timestamp_seconds"

    def series() -> dict[tuple[tuple[str, str], ...], float]:
        return {labels: value for (metric, labels), value in scrape(server.port).items() if metric == name}

    m.observe_expiry("harbor", {"a.example.com": 1.0e9, "b.example.com": 2.0e9})
    m.observe_expiry("other", {"a.example.com": 3.0e9})
    assert set(series()) == {(("registry", "a.example.com"), ("spec", "harbor")),
                             (("registry", "b.example.com"), ("spec", "harbor")),
                             (("registry", "a.example.com"), ("spec", "other"))}
    m.observe_expiry("harbor", {"b.example.com": 2.5e9})  # a.example.com no longer expires: its series goes
    m.observe_expiry("harbor", None)  # a reconcile that did not tell changes nothing
    assert series()[(("registry", "b.example.com"), ("spec", "harbor"))] == 2.5e9
    assert (("registry", "a.example.com"), ("spec", "harbor")) not in series()
    m.uncovered_namespaces.labels(spec="harbor").set(3)
    m.forget_spec("harbor")  # the spec was deleted
    assert set(series()) == {(("registry", "a.example.com"), ("spec", "other"))}
    assert not any(metric == "regcred_uncovered_namespaces" for metric, _ in scrape(server.port))

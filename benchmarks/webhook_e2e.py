"""End to end on a real kube-apiserver (envtest): 200 Pods, each created right after its namespace.

The controller runs in this process (`regcred controller`), once without and once with its webhook (registered
through clientConfig.url with a throwaway CA, as tests/kube/webhook/test_admission.py does). Counted: Pods created
without the pull Secret in `spec.imagePullSecrets`, namespaces whose Secret did not exist when their Pod's create
returned, and the Pod create latency the client saw. Needs KUBEBUILDER_ASSETS (kube-apiserver and etcd).
"""

from __future__ import annotations

import dataclasses
import os
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

PODS = 200
PASSWORD = "pw-bench-not-printed"


def run_e2e(pods: int = PODS) -> None:
    if not os.environ.get("KUBEBUILDER_ASSETS"):
        print("SKIP e2e: KUBEBUILDER_ASSETS not set (a directory with kube-apiserver and etcd)")
        return
    from regcred.controller.manager import Options

    if "webhook" not in {f.name for f in dataclasses.fields(Options)}:
        print("SKIP e2e: this controller has no webhook yet")
        return
    from tests.support.envtest import EnvtestCluster

    with tempfile.TemporaryDirectory() as tmp:
        cluster = EnvtestCluster(Path(tmp) / "envtest")
        cluster.start()
        try:
            print("| controller | Pods without the Secret | Secret missing when the Pod was created | "
                  "Pod create p50 ms | p99 ms |\n|---|---|---|---|---|")
            for webhook in (False, True):
                print(_round(cluster, Path(tmp), pods, webhook=webhook), flush=True)
        finally:
            cluster.stop()


def _round(cluster: Any, tmp: Path, pods: int, *, webhook: bool) -> str:
    from tests.kube.controller.test_reconcile import spec_doc
    from tests.kube.controller.test_status import SPECS, install_crd
    from tests.kube.webhook.test_admission import eventually, free_port, pod, pull_secrets, registration
    from tests.support.envtest import EnvtestBackend

    from regcred.controller.manager import Options, run
    from regcred.localregistry.tls import generate_pki

    os.environ["REG_PW"] = PASSWORD
    kube = EnvtestBackend(cluster, tmp / f"backend-{webhook}")
    tag = "hook" if webhook else "plain"
    team, home, name = f"bench-{tag}", f"regcred-{tag}", f"harbor-{tag}"
    install_crd(kube)
    kube.create_namespace(home)
    doc = spec_doc([], name=name, selector={"team": team})
    doc["spec"]["namespaces"].pop("include")
    assert kube.request("POST", SPECS, json={**doc, "metadata": {"name": name}}).status_code == 201
    certs = tmp / f"certs-{tag}"
    pki = generate_pki("webhook")
    pki.write(certs, cert="tls.crt", key="tls.key")
    port, probes = free_port(), free_port()
    extra: dict[str, Any] = {"webhook": True, "webhook_bind_address": f"127.0.0.1:{port}",
                             "webhook_cert_dir": str(certs)} if webhook else {}
    options = Options(kubeconfig=str(kube.kubeconfig), metrics_bind_address="0",
                      health_probe_bind_address=f"127.0.0.1:{probes}", workers=2, leader_election_namespace=home,
                      **extra)
    stop = threading.Event()
    thread = threading.Thread(target=lambda: run(options, stop), daemon=True)
    thread.start()
    try:
        assert eventually(lambda: _ready(probes), 60), "the controller never became ready"
        if webhook:
            kube.create(registration(f"regcred-{tag}", f"https://127.0.0.1:{port}/mutate-pods", pki.ca_pem, team,
                                     home))
            kube.create_namespace(f"probe-{tag}", {"team": team})
            assert eventually(lambda: name in pull_secrets(kube.create(pod(f"probe-{tag}"), dry_run=True)), 30)
        missing_ref = missing_secret = 0
        latencies = []
        for i in range(pods):
            ns = f"{tag}-{i:03d}"
            kube.create_namespace(ns, {"team": team})
            started = time.perf_counter()
            created = kube.create(pod(ns))
            latencies.append((time.perf_counter() - started) * 1e3)
            missing_ref += name not in pull_secrets(created)
            missing_secret += kube.get("v1", "Secret", name, ns) is None
        cuts = statistics.quantiles(latencies, n=100)
        return (f"| {'with webhook' if webhook else 'without webhook'} | {missing_ref} / {pods} | "
                f"{missing_secret} / {pods} | {cuts[49]:.1f} | {cuts[98]:.1f} |")
    finally:
        stop.set()
        thread.join(timeout=10)
        if webhook:
            kube.delete("admissionregistration.k8s.io/v1", "MutatingWebhookConfiguration", f"regcred-{tag}")
        kube.cleanup()
        kube.close()


def _ready(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False

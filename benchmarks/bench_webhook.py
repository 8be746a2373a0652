"""Benchmark: admission latency of POST /mutate-pods over HTTPS keep-alive, and the race for new namespaces closed.

Shapes (load generator: `hey`, Debian package `hey`, on the same loopback and the same 2 cores):
- open loop at a fixed 200 requests/s (10 workers × 20/s) for 20 s: p50 and p99 (goal p99 < 5 ms);
- closed loop, 100 concurrent clients for 20 s: average, p99 and throughput, against Kyverno's published average of
  42.67 ms (1 replica, 100 virtual users).
The server runs in its own process with the real handler (the controller's PodMutator over the caches of a synced
controller) over realistic Pods (a Deployment's Pod: generateName, owner reference, two containers and an init
container, the ServiceAccount plugin's token volume, about 4 kB as an AdmissionReview); the floor is the same
server answering a constant. `--stacks` repeats both shapes for every
candidate server stack (benchmarks/webhook_stacks.py), the measurement behind docs/decisions.md.
`--e2e` (needs KUBEBUILDER_ASSETS): a real kube-apiserver, the controller with its webhook registered through
clientConfig.url, 200 namespaces each followed at once by a Pod: Pods created without the pull Secret, with and
without the webhook.

    .venv/bin/python benchmarks/bench_webhook.py [--seconds 20] [--stacks] [--e2e] [--rounds 1]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

KYVERNO_AVG_MS = 42.67


def pod(namespace: str, i: int = 0) -> dict[str, Any]:
    """A Pod as the ReplicaSet controller creates it, after the built-in admission plugins."""
    volume = "kube-api-access-x7k2p"
    mount = {"name": volume, "readOnly": True, "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"}
    common = {"terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File",
              "imagePullPolicy": "IfNotPresent", "volumeMounts": [mount]}
    return {"kind": "Pod", "apiVersion": "v1", "metadata": {
        "generateName": "web-7d4b9c8f6-", "namespace": namespace,
        "labels": {"app": "web", "pod-template-hash": "7d4b9c8f6", "tier": "frontend"},
        "annotations": {"kubectl.kubernetes.io/restartedAt": "2026-12-01T10:00:00Z"},
        "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-7d4b9c8f6",
                             "uid": str(uuid.UUID(int=i)), "controller": True, "blockOwnerDeletion": True}]},
        "spec": {
            "volumes": [{"name": volume, "projected": {"sources": [
                {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
                {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {
                    "apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}}], "defaultMode": 420}}],
            "initContainers": [{"name": "migrate", "image": "harbor.example.com/team-a/migrate:1.4.2",
                                "resources": {}, **common}],
            "containers": [
                {"name": "web", "image": "harbor.example.com/team-a/web:1.4.2",
                 "ports": [{"containerPort": 8080, "protocol": "TCP"}],
                 "env": [{"name": f"SETTING_{k}", "value": "x" * 24} for k in range(8)],
                 "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "256Mi"}},
                 "readinessProbe": {"httpGet": {"path": "/healthz", "port": 8080, "scheme": "HTTP"},
                                    "periodSeconds": 10, "timeoutSeconds": 1, "successThreshold": 1,
                                    "failureThreshold": 3}, **common},
                {"name": "proxy", "image": "docker.io/envoyproxy/envoy:v1.31.0", "resources": {}, **common}],
            "restartPolicy": "Always", "terminationGracePeriodSeconds": 30, "dnsPolicy": "ClusterFirst",
            "serviceAccountName": "default", "serviceAccount": "default", "securityContext": {},
            "schedulerName": "default-scheduler", "enableServiceLinks": True, "priority": 0,
            "preemptionPolicy": "PreemptLowerPriority",
            "tolerations": [{"key": f"node.kubernetes.io/{t}", "operator": "Exists", "effect": "NoExecute",
                             "tolerationSeconds": 300} for t in ("not-ready", "unreachable")]},
        "status": {}}


def review(namespace: str = "team-a", *, dry_run: bool = False) -> bytes:
    gvk, gvr = {"group": "", "version": "v1", "kind": "Pod"}, {"group": "", "version": "v1", "resource": "pods"}
    return json.dumps({"kind": "AdmissionReview", "apiVersion": "admission.k8s.io/v1", "request": {
        "uid": str(uuid.uuid4()), "kind": gvk, "resource": gvr, "requestKind": gvk, "requestResource": gvr,
        "namespace": namespace, "operation": "CREATE",
        "userInfo": {"username": "system:serviceaccount:kube-system:replicaset-controller",
                     "uid": str(uuid.uuid4()), "groups": ["system:serviceaccounts",
                                                          "system:serviceaccounts:kube-system",
                                                          "system:authenticated"]},
        "object": pod(namespace), "oldObject": None, "dryRun": dry_run,
        "options": {"kind": "CreateOptions", "apiVersion": "meta.k8s.io/v1"}}}).encode()


def handler() -> Callable[[bytes], bytes]:
    """The controller's PodMutator over the caches a synced controller holds: 5 specs, 1,000 namespaces, each with
    its managed Secret (the hot path: no API call), and the controller's metrics."""
    from tests.support.memapi import MemApi

    from regcred.controller.cachedapi import Store
    from regcred.controller.metrics import ControllerMetrics
    from regcred.controller.webhook.mutator import PodMutator
    from regcred.core.credentials.pullsecret import MANAGED_BY_LABEL, MANAGED_BY_VALUE

    os.environ.setdefault("REG_PW", "pw-bench-not-printed")
    api = MemApi()
    names = [f"team-{i:04d}" for i in range(1000)] + ["team-a"]
    for ns in names:
        api.namespace(ns)
    specs = [{"apiVersion": "regcred.dev/v1alpha1", "kind": "RegistryCredential",
              "metadata": {"name": f"registry-{k}", "resourceVersion": "1"},
              "spec": {"registries": [{"server": server, "username": "u", "passwordFrom": {"env": "REG_PW"}}],
                       "namespaces": {"include": ["team-*"]}}}
             for k, server in enumerate(["harbor.example.com", "ghcr.io", "quay.io", "registry.gitlab.com",
                                         "123456789012.dkr.ecr.eu-west-1.amazonaws.com"])]
    secrets = [{"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/dockerconfigjson",
                "metadata": {"name": spec["metadata"]["name"], "namespace": ns, "resourceVersion": "5",
                             "labels": {MANAGED_BY_LABEL: MANAGED_BY_VALUE}}, "data": {}}
               for ns in names for spec in specs]
    caches = {"RegistryCredential": Store(specs), "Namespace": Store(api.list("Namespace")),
              "ServiceAccount": Store(api.list("ServiceAccount")), "Secret": Store(secrets)}
    return PodMutator(api, caches, metrics=ControllerMetrics())


# --- load generation ---------------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def hey(url: str, body: Path, args: list[str]) -> dict[str, float]:
    out = subprocess.run(["hey", *args, "-m", "POST", "-T", "application/json", "-D", str(body), url],
                         capture_output=True, text=True, check=True).stdout

    def number(pattern: str) -> float:
        found = re.search(pattern, out)
        return float(found.group(1)) if found else float("nan")

    codes = {int(c): int(n) for c, n in re.findall(r"\[(\d+)\]\s+(\d+) responses", out)}
    errors = sum(int(n) for n in re.findall(r"\]\s+(\d+)\s+errors?", out)) if "Error distribution" in out else 0
    return {"avg": number(r"Average:\s+([\d.]+)") * 1e3, "rps": number(r"Requests/sec:\s+([\d.]+)"),
            "p50": number(r"50% in ([\d.]+)") * 1e3, "p99": number(r"99% in ([\d.]+)") * 1e3,
            "ok": codes.get(200, 0), "bad": sum(n for c, n in codes.items() if c != 200) + errors}


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(stack: str, cert_dir: Path, body: Path, seconds: int) -> dict[str, dict[str, float]]:
    """Both shapes against one server process of `stack`."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, str(ROOT / "benchmarks" / "webhook_stacks.py"), stack, str(port),
                             str(cert_dir)], stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError(f"{stack}: the server did not start") from None
                time.sleep(0.05)
        url = f"https://127.0.0.1:{port}/mutate-pods?timeout=5s"
        hey(url, body, ["-n", "2000", "-c", "100"])  # warm-up: connections, caches
        start = cpu_seconds(proc.pid)
        closed = hey(url, body, ["-c", "100", "-z", f"{seconds}s"])
        closed["cpu_us"] = (cpu_seconds(proc.pid) - start) / max(closed["ok"], 1) * 1e6
        # open loop, evenly spaced: one request every 5 ms (hey throttles each worker with its own ticker; at answers
        # well under 5 ms no request waits for the one before)
        opened = hey(url, body, ["-c", "1", "-q", "200", "-z", f"{seconds}s"])
        # the same rate in bursts: 10 workers whose tickers fire together, 10 requests at once every 50 ms
        bursts = hey(url, body, ["-c", "10", "-q", "20", "-z", f"{seconds}s"])
        return {"open": opened, "bursts": bursts, "closed": closed}
    finally:
        proc.terminate()
        proc.wait(10)


def row(name: str, r: dict[str, dict[str, float]]) -> str:
    o, b, c = r["open"], r["bursts"], r["closed"]
    return (f"| {name} | {o['p50']:.2f} | {o['p99']:.2f} | {b['p50']:.2f} | {b['p99']:.2f} | {c['avg']:.2f} | "
            f"{c['p99']:.2f} | {c['rps']:.0f} | {c['cpu_us']:.0f} | {int(o['bad'] + b['bad'] + c['bad'])} |")


HEADER = ("| server | open 200/s p50 ms | p99 ms | in bursts of 10: p50 ms | p99 ms | closed 100 avg ms | p99 ms | "
          "req/s | server CPU µs/req | non-200 |\n|---|---|---|---|---|---|---|---|---|---|")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--stacks", action="store_true", help="compare the candidate server stacks")
    parser.add_argument("--e2e", action="store_true", help="200 Pods right after their namespace, real apiserver")
    args = parser.parse_args()
    if shutil.which("hey") is None:
        print("SKIP: `hey` not found (Debian: apt-get install -y hey); the latency shapes need it")
    else:
        from regcred.localregistry.tls import generate_pki

        with tempfile.TemporaryDirectory() as tmp:
            cert_dir, body = Path(tmp) / "certs", Path(tmp) / "review.json"
            generate_pki("webhook").write(cert_dir, cert="tls.crt", key="tls.key")
            body.write_bytes(review())
            print(f"AdmissionReview: {body.stat().st_size} bytes; {os.cpu_count()} CPUs; "
                  f"load average {os.getloadavg()[0]:.1f}")
            stacks = ["regcred", "floor"]
            if args.stacks:
                from benchmarks.webhook_stacks import STACKS

                stacks = [*STACKS, "floor"]
            print(HEADER)
            for _ in range(args.rounds):
                for stack in stacks:
                    try:
                        print(row(stack, measure(stack, cert_dir, body, args.seconds)), flush=True)
                    except (RuntimeError, subprocess.CalledProcessError) as exc:
                        print(f"| {stack} | skipped: {exc} |")
            print(f"Kyverno (published, 1 replica, 100 virtual users): average {KYVERNO_AVG_MS} ms")
    if args.e2e:
        from benchmarks.webhook_e2e import run_e2e

        run_e2e()


if __name__ == "__main__":
    main()

"""Benchmark: memory of the controller's caches with 10,000 Namespaces and 20,000 ServiceAccounts (goal < 200 MiB).

Objects are synthetic but shaped like a real apiserver's (managedFields, kubectl's last-applied annotation,
labels, the token-less ServiceAccounts of 1.24+), serialised to JSON and decoded one by one as a watch would,
then passed through the informer's transform into an Informer cache. Figures: the caches' own size
(tracemalloc, allocated and still held) with the ready-made transforms and with the generic one, and the
process's peak RSS (interpreter, httpx and the regcred modules included) after the slim run.

    .venv/bin/python benchmarks/bench_controller_cache.py [--namespaces 10000] [--sas 20000] [--generic] [--rss]
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import threading
import tracemalloc
from pathlib import Path
from typing import Any, cast

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from regcred.controller.informer import Informer  # noqa: E402
from regcred.core.controller.cachefields import keep_needed_fields, transform_for  # noqa: E402

MANAGED = [{"manager": "kubectl-client-side-apply", "operation": "Update", "apiVersion": "v1",
            "time": "2026-01-01T00:00:00Z", "fieldsType": "FieldsV1",
            "fieldsV1": {"f:metadata": {"f:annotations": {".": {}, "f:kubectl.kubernetes.io/last-applied-configuration":
                                                          {}}, "f:labels": {".": {}, "f:team": {}, "f:env": {}}}}}]


def namespace(i: int) -> dict[str, Any]:
    name = f"team-{i:05d}-workloads"
    labels = {"kubernetes.io/metadata.name": name, "team": f"t{i % 50}", "env": "prod" if i % 3 else "dev"}
    last = json.dumps({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}})
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {
        "name": name, "uid": f"0c9f4a2e-{i:04x}-4f1b-9a7e-5d3c2b1a0f9e", "resourceVersion": str(100000 + i),
        "creationTimestamp": "2026-01-01T00:00:00Z", "labels": labels,
        "annotations": {"kubectl.kubernetes.io/last-applied-configuration": last}, "managedFields": MANAGED},
        "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}}


def serviceaccount(i: int) -> dict[str, Any]:
    ns = f"team-{i // 2:05d}-workloads"
    return {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {
        "name": "default" if i % 2 == 0 else "builder", "namespace": ns,
        "uid": f"7d1e3b5c-{i:04x}-4a2f-8b6d-1c9e0f7a3b2d", "resourceVersion": str(200000 + i),
        "creationTimestamp": "2026-01-01T00:00:00Z", "managedFields": MANAGED},
        "imagePullSecrets": [{"name": "regcred-harbor"}] if i % 2 == 0 else None}


def fill(kind: str, count: int, make: Any, transform: Any) -> Informer:
    inf = Informer(cast(Any, None), kind, transform=transform, stop=threading.Event())
    for i in range(count):
        inf.write_through(json.loads(json.dumps(make(i))))  # decoded from its own text, as off the wire
    return inf


def measure(args: argparse.Namespace, generic: bool) -> tuple[float, int]:
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    pick = (lambda kind: keep_needed_fields) if generic else transform_for
    caches = [fill("Namespace", args.namespaces, namespace, pick("Namespace")),
              fill("ServiceAccount", args.sas, serviceaccount, pick("ServiceAccount"))]
    held = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    assert sum(len(c) for c in caches) == args.namespaces + args.sas
    return held / 2**20, sum(len(c) for c in caches)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--namespaces", type=int, default=10_000)
    parser.add_argument("--sas", type=int, default=20_000)
    parser.add_argument("--generic", action="store_true", help="also measure the generic transform")
    parser.add_argument("--rss", action="store_true", help="only fill the caches (no tracemalloc) and print RSS")
    args = parser.parse_args()
    if args.rss:
        caches = [fill("Namespace", args.namespaces, namespace, transform_for("Namespace")),
                  fill("ServiceAccount", args.sas, serviceaccount, transform_for("ServiceAccount"))]
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"peak RSS with {sum(map(len, caches))} cached objects, no tracing: {rss:.0f} MiB")
        return
    raw = len(json.dumps(namespace(1))) * args.namespaces + len(json.dumps(serviceaccount(0))) * args.sas
    print(f"{args.namespaces} namespaces + {args.sas} ServiceAccounts, {raw / 2**20:.1f} MiB as JSON on the wire")
    slim, n = measure(args, generic=False)
    print(f"caches with the ready-made transforms: {slim:.1f} MiB held for {n} objects "
          f"({slim * 2**20 / n:.0f} bytes each)")
    if args.generic:
        full, _ = measure(args, generic=True)
        print(f"caches with the generic transform (all but managedFields): {full:.1f} MiB held")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"process peak RSS: {rss:.0f} MiB (goal: under 200 MiB for the whole controller)")


if __name__ == "__main__":
    main()

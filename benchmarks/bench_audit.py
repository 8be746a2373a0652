"""Benchmark: `regcred audit` of a 10,000-pod dump (1,000 distinct images, 200 Secrets, 50 namespaces) offline.

Goal: under 2 s. Reports three figures: the core simulation on objects already in memory, reading the
JSON dump plus the simulation (what `audit -f dump.json` does inside), and the whole CLI as a child process
(`regcred audit -f dump.json -o json`, interpreter start and JSON output included).

    .venv/bin/python benchmarks/bench_audit.py [--pods 10000] [--images 1000] [--secrets 200] [--namespaces 50]
                                               [--repeat 3] [--json]
"""

from __future__ import annotations

import argparse
import base64
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from regcred.core.audit.findings import ClusterState
from regcred.core.audit.simulation import audit
from regcred.shells.clusterdump import read_manifests

REGISTRIES = ("reg-a.example.com", "reg-b.example.com:5000", "quay.io", "docker.io", "ghcr.io")


def dump(pods: int, images: int, secrets: int, namespaces: int) -> list[dict[str, Any]]:
    """Pods spread over namespaces; each namespace holds secrets/namespaces Secrets; some pods reference two."""
    objects: list[dict[str, Any]] = []
    per_ns = max(1, secrets // namespaces)
    for n in range(namespaces):
        ns = f"ns-{n}"
        names = []
        for s in range(per_ns):
            reg = REGISTRIES[(n + s) % len(REGISTRIES)]
            auth = base64.b64encode(f"robot-{n}-{s}:pw-{n}-{s}".encode()).decode()
            payload = json.dumps({"auths": {reg: {"auth": auth}}})
            names.append(f"pull-{s}")
            objects.append({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": f"pull-{s}", "namespace": ns},
                            "type": "kubernetes.io/dockerconfigjson",
                            "data": {".dockerconfigjson": base64.b64encode(payload.encode()).decode()}})
        objects.append({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default", "namespace": ns},
                        "imagePullSecrets": [{"name": names[0]}]})
    for i in range(pods):
        ns_index = i % namespaces
        image = i % images
        reg = REGISTRIES[image % len(REGISTRIES)]
        secrets_of_pod = [{"name": f"pull-{i % per_ns}"}] + ([{"name": f"pull-{(i + 1) % per_ns}"}] if i % 3 else [])
        objects.append({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": f"app-{i}", "namespace": f"ns-{ns_index}",
                         "ownerReferences": [{"kind": "ReplicaSet", "name": f"app-{i // 10}", "apiVersion": "apps/v1"}]},
            "spec": {"imagePullSecrets": secrets_of_pod, "containers": [
                {"name": "app", "image": f"{reg}/team-{image % 37}/app-{image}:1.{image % 7}"},
                {"name": "proxy", "image": "docker.io/library/envoy:v1.30"},
            ]},
        })
    return objects


def best(fn: Any, repeat: int) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return min(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pods", type=int, default=10_000)
    parser.add_argument("--images", type=int, default=1_000)
    parser.add_argument("--secrets", type=int, default=200)
    parser.add_argument("--namespaces", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()

    objects = dump(args.pods, args.images, args.secrets, args.namespaces)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "dump.json"
        path.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": objects}))
        core, report = best(lambda: audit(ClusterState(objects)), args.repeat)
        with_read, _ = best(lambda: audit(ClusterState(read_manifests([str(path)]))), args.repeat)
        regcred = Path(sys.executable).with_name("regcred")

        def cli() -> subprocess.CompletedProcess[bytes]:
            done = subprocess.run([str(regcred), "audit", "-f", str(path), "-o", "json"], capture_output=True,
                                  check=False)
            if done.returncode not in (0, 1):  # 1: findings; anything else is a failed run, not a figure
                sys.exit(f"regcred audit exited {done.returncode}:\n{done.stderr.decode()}")
            return done

        whole, proc = best(cli, args.repeat)
    cli_report = json.loads(proc.stdout)
    if (len(cli_report["images"]), len(cli_report["findings"])) != (len(report.images), len(report.findings)):
        sys.exit(f"the CLI reported {len(cli_report['images'])} image rows and {len(cli_report['findings'])} "
                 f"findings, the in-process audit {len(report.images)} and {len(report.findings)}")
    distinct = len({row["image"] for row in report.images})
    figures = {
        "pods": args.pods, "distinct_images": distinct, "secrets": args.secrets, "namespaces": args.namespaces,
        "image_rows": len(report.images), "findings": len(report.findings), "cli_exit": proc.returncode,
        "core_s": round(core, 3), "read_and_audit_s": round(with_read, 3), "cli_s": round(whole, 3),
        "goal_s": 2.0, "met": whole < 2.0,
    }
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    print(f"audit of {args.pods} pods, {distinct} distinct images, {args.secrets} Secrets, {args.namespaces} "
          f"namespaces ({len(report.images)} image rows, {len(report.findings)} findings), best of {args.repeat}:")
    print(f"  core simulation (objects in memory) {core:7.3f} s")
    print(f"  read JSON dump + simulation         {with_read:7.3f} s")
    print(f"  whole CLI (child process, -o json)  {whole:7.3f} s   goal < 2 s: {'met' if whole < 2 else 'NOT met'}")


if __name__ == "__main__":
    main()

"""Benchmark: `regcred plan` for 500 namespaces x 3 ServiceAccounts + 2,000 workloads (goal: under 5 s).

Two figures: the in-process pipeline (read through the spec shell from an in-memory API, resolve, plan), and
the whole CLI as a child process (`regcred plan -f spec.yaml -o json`) against the project's fake kube-apiserver
(tests/support/fakekube, HTTP, paged lists) — interpreter start, kubeconfig loading, httpx, JSON included.
Both count the requests: the reads are LISTs only (no per-object GET), a constant number whatever the size.

    .venv/bin/python benchmarks/bench_plan.py [--namespaces 500] [--sas 3] [--workloads 2000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SPEC = """\
apiVersion: regcred.dev/v1alpha1
kind: RegistryCredential
metadata: {name: harbor}
spec:
  registries:
    - {server: harbor.example.com, username: robot, passwordFrom: {env: BENCH_PW}}
  serviceAccounts: ["*"]
  workloads: {enabled: true}
"""


def cluster(namespaces: int, sas: int, workloads: int) -> list[dict[str, Any]]:
    objs: list[dict[str, Any]] = []
    for i in range(namespaces):
        ns = f"ns-{i:04d}"
        objs.append({"kind": "Namespace", "metadata": {"name": ns, "resourceVersion": "1"}})
        for s in range(sas):
            objs.append({"kind": "ServiceAccount", "metadata": {"name": "default" if s == 0 else f"sa-{s}",
                                                                "namespace": ns, "resourceVersion": "1"}})
    for w in range(workloads):
        image = "harbor.example.com/app:1" if w % 2 else "docker.io/library/nginx:1"
        objs.append({"kind": "Deployment", "metadata": {"name": f"web-{w}", "namespace": f"ns-{w % namespaces:04d}",
                                                        "resourceVersion": "1"},
                     "spec": {"template": {"spec": {"containers": [{"name": "c", "image": image}]}}}})
    return objs


def in_process(objs: list[dict[str, Any]]) -> tuple[float, int, int]:
    from tests.support.memapi import MemApi

    from regcred.core.spec.planner import plan
    from regcred.shells.spec.source import load_inputs, resolve_all
    from regcred.usecases.specs import read_cluster_state

    api = MemApi()
    for obj in objs:
        api.add(obj)
    with tempfile.TemporaryDirectory() as tmp:
        spec_file = Path(tmp) / "spec.yaml"
        spec_file.write_text(SPEC)
        start = time.perf_counter()
        specs = load_inputs([str(spec_file)]).specs
        desired = resolve_all(specs, None)
        result = plan(desired, read_cluster_state(api, specs))
        elapsed = time.perf_counter() - start
    return elapsed, len(result.changes), len(api.log)


API_VERSIONS = {"Namespace": "v1", "ServiceAccount": "v1", "Deployment": "apps/v1"}


def as_cli(objs: list[dict[str, Any]]) -> tuple[float, int, int]:
    """`regcred plan` as a child process against the project's fake kube-apiserver (tests/support/fakekube)."""
    from tests.support.fakekube.server import FakeKube

    with FakeKube() as server, tempfile.TemporaryDirectory() as tmp:
        for obj in objs:
            meta = {k: v for k, v in obj["metadata"].items() if k != "resourceVersion"}
            server.seed({**obj, "apiVersion": API_VERSIONS[obj["kind"]], "metadata": meta})
        kubeconfig = server.write_kubeconfig(Path(tmp) / "kubeconfig")
        spec_file = Path(tmp) / "spec.yaml"
        spec_file.write_text(SPEC)
        server.request_log.clear()
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "regcred", "plan", "-f", str(spec_file), "-o", "json",
                               "--kubeconfig", str(kubeconfig), "--qps", "0"], capture_output=True, text=True,
                              env={**os.environ, "BENCH_PW": "pw"}, check=False)
        elapsed = time.perf_counter() - start
        if done.returncode not in (0, 1):
            raise SystemExit(f"regcred plan failed: {done.stderr}")
        records = list(server.request_log.records)
        assert all(r.verb == "list" for r in records), "plan must read with LIST requests only"
        return elapsed, len(json.loads(done.stdout)["changes"]), len(records)


def main() -> None:
    os.environ.setdefault("BENCH_PW", "pw")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--namespaces", type=int, default=500)
    parser.add_argument("--sas", type=int, default=3)
    parser.add_argument("--workloads", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    objs = cluster(args.namespaces, args.sas, args.workloads)
    print(f"cluster: {args.namespaces} namespaces x {args.sas} ServiceAccounts, {args.workloads} Deployments")
    for name, run in (("in-process (read+resolve+plan)", in_process), ("CLI child process against the fake API", as_cli)):
        timings = []
        for _ in range(args.repeat):
            elapsed, changes, requests = run(objs)
            timings.append(elapsed)
        print(f"{name}: best {min(timings):.2f} s, median {sorted(timings)[len(timings) // 2]:.2f} s; "
              f"{changes} changes planned, {requests} API requests (LIST only)")


if __name__ == "__main__":
    main()

"""`regcred sa attach -A` over 1,000 namespaces against the in-process fake API server.

Measures: requests per namespace that needs a change (goal <= 2), requests for namespaces already done (goal: none
beyond the shared lists), and wall time of the real CLI process. Half the namespaces start already attached.

    .venv/bin/python benchmarks/bench_sa_attach.py [--namespaces 1000] [--done 500] [--workers 8]
"""

from __future__ import annotations

import argparse
import base64
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.fakekube import FakeKube  # noqa: E402

from regcred.core.cluster.serviceaccounts import ADDED_ANNOTATION  # noqa: E402
from regcred.core.credentials.pullsecret import dockerconfigjson_payload  # noqa: E402

NS_PATH = re.compile(r"/namespaces/(bench-\d+)/")


def seed(fake: FakeKube, count: int, done: int) -> None:
    payload = base64.b64encode(dockerconfigjson_payload("r.example", "u", "p")).decode()
    for i in range(count):
        ns = f"bench-{i:04d}"
        fake.seed({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns, "labels": {"bench": "sa"}}})
        fake.seed({"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/dockerconfigjson",
                   "metadata": {"name": "pull", "namespace": ns}, "data": {".dockerconfigjson": payload}})
        sa = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default", "namespace": ns},
              "imagePullSecrets": [{"name": "other"}]}
        if i < done:
            sa["imagePullSecrets"].append({"name": "pull"})
            sa["metadata"]["annotations"] = {ADDED_ANNOTATION: "pull"}
        fake.seed(sa)


def run(count: int, done: int, workers: int, qps: float) -> dict[str, float]:
    with FakeKube() as fake, tempfile.TemporaryDirectory() as tmp:
        seed(fake, count, done)
        kubeconfig = fake.write_kubeconfig(Path(tmp) / "kubeconfig")
        fake.request_log.clear()
        start = time.perf_counter()
        result = subprocess.run(
            [sys.executable, "-m", "regcred", "sa", "attach", "pull", "--namespace-selector", "bench=sa",
             "--kubeconfig", str(kubeconfig), "--workers", str(workers), "--qps", str(qps), "-o", "json"],
            capture_output=True, text=True, check=False,
        )
        wall = time.perf_counter() - start
        if result.returncode != 0:
            sys.exit(f"sa attach failed ({result.returncode}): {result.stderr.strip()}")
        records = fake.request_log.filter()
        per_ns: Counter[str] = Counter()
        shared = 0
        for rec in records:
            m = NS_PATH.search(rec.path)
            if m:
                per_ns[m.group(1)] += 1
            else:
                shared += 1
        changed = [f"bench-{i:04d}" for i in range(done, count)]
        already = [f"bench-{i:04d}" for i in range(done)]
        attached = sum(1 for i in range(done, count)
                       if [e["name"] for e in fake.get_object("v1", "ServiceAccount", "default",
                                                              f"bench-{i:04d}")["imagePullSecrets"]]
                       == ["other", "pull"])
        return {
            "namespaces": count, "needing_change": len(changed), "attached_ok": attached,
            "total_requests": len(records), "shared_list_requests": shared,
            "max_requests_per_changed_ns": max((per_ns[n] for n in changed), default=0),
            "mean_requests_per_changed_ns": sum(per_ns[n] for n in changed) / max(1, len(changed)),
            "requests_for_done_ns": sum(per_ns[n] for n in already),
            "wall_seconds": wall,
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--namespaces", type=int, default=1000)
    parser.add_argument("--done", type=int, default=500, help="namespaces already attached before the run")
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--qps", type=float, default=50.0, help="client-side rate limit given to regcred")
    args = parser.parse_args()
    for qps in (args.qps, 0.0):
        figures = run(args.namespaces, args.done, args.workers, qps)
        print(f"--qps {qps:g}: " + ", ".join(f"{k}={v:.2f}" if isinstance(v, float) else f"{k}={v}"
                                             for k, v in figures.items()))
        assert figures["max_requests_per_changed_ns"] <= 2, "goal: at most 2 requests per namespace that changes"
        assert figures["requests_for_done_ns"] == 0, "goal: no request for a namespace already done"
        assert figures["attached_ok"] == figures["needing_change"]


if __name__ == "__main__":
    main()

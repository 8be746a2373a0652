"""Benchmark: `regcred inject` vs `kubectl kustomize` adding one pull secret to 4,000 workloads.

Generates a stream of Deployments, StatefulSets, DaemonSets and CronJobs (comments, quoted scalars),
then runs both tools as child processes on the same stream and reports wall time and peak memory
(ru_maxrss of that child, from os.wait4). kustomize gets the equivalent JSON 6902 patch per kind in a
kustomization.yaml. Both outputs are checked to carry the secret on every workload.

    .venv/bin/python benchmarks/bench_inject.py [--workloads 4000] [--repeat 3] [--skip-kustomize] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

KINDS = ("Deployment", "StatefulSet", "DaemonSet", "CronJob")
SECRET = "regsecret"


def workload(i: int) -> str:
    kind = KINDS[i % len(KINDS)]
    pod = (
        f"# pod spec of app-{i}\n"
        "containers:\n"
        "- name: app\n"
        f'  image: "registry.example.com/team/app-{i}:1.{i}"\n'
        "  ports:\n"
        "  - containerPort: 8080\n"
        "  env:\n"
        "  - name: MODE\n"
        "    value: 'prod'  # quoted on purpose\n"
    )
    if kind == "CronJob":
        head = 'spec:\n  schedule: "*/5 * * * *"\n  jobTemplate:\n    spec:\n      template:\n        spec:\n'
        body = head + "".join("          " + line + "\n" for line in pod.splitlines())
        api = "batch/v1"
    else:
        head = (
            f"spec:\n  selector:\n    matchLabels: {{app: app-{i}}}\n  template:\n    metadata:\n"
            f"      labels:\n        app: app-{i}\n    spec:\n"
        )
        body = head + "".join("      " + line + "\n" for line in pod.splitlines())
        api = "apps/v1"
    return f"# workload {i}\napiVersion: {api}\nkind: {kind}\nmetadata:\n  name: app-{i}\n  namespace: ns-{i % 50}\n{body}"


def kustomization() -> str:
    lines = ["apiVersion: kustomize.config.k8s.io/v1beta1", "kind: Kustomization", "resources:", "- workloads.yaml",
             "patches:"]
    for kind in KINDS:
        path = "/spec/jobTemplate/spec/template/spec" if kind == "CronJob" else "/spec/template/spec"
        group = "batch" if kind == "CronJob" else "apps"
        lines += [
            "- target:",
            f"    group: {group}",
            f"    kind: {kind}",
            "  patch: |-",
            "    - op: add",
            f"      path: {path}/imagePullSecrets",
            f"      value: [{{name: {SECRET}}}]",
        ]
    return "\n".join(lines) + "\n"


def run_child(argv: list[str], out_path: Path) -> tuple[float, int]:
    """Wall seconds and peak RSS (KiB) of one child process, which must succeed."""
    with out_path.open("wb") as out:
        started = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.PIPE)
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        stderr = proc.stderr.read().decode() if proc.stderr else ""
        raise SystemExit(f"{argv[0]} failed ({proc.returncode}): {stderr.strip()[:500]}")
    return elapsed, usage.ru_maxrss


def count_secret(path: Path) -> int:
    text = path.read_text()
    return text.count(f"name: {SECRET}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workloads", type=int, default=4000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip-kustomize", action="store_true")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()

    regcred = Path(sys.executable).with_name("regcred")
    work = Path(tempfile.mkdtemp(prefix="bench-inject-"))
    try:
        stream = work / "workloads.yaml"
        stream.write_text("---\n".join(workload(i) for i in range(args.workloads)))
        (work / "kustomization.yaml").write_text(kustomization())
        figures: dict[str, object] = {"workloads": args.workloads, "input_bytes": stream.stat().st_size}

        runs = [run_child([str(regcred), "inject", SECRET, "-f", str(stream)], work / "out-regcred.yaml")
                for _ in range(args.repeat)]
        found = count_secret(work / "out-regcred.yaml")
        if found != args.workloads:
            raise SystemExit(f"regcred inject added the secret to {found} of {args.workloads} workloads")
        figures["regcred_seconds"] = round(statistics.median(r[0] for r in runs), 3)
        figures["regcred_peak_rss_mib"] = round(max(r[1] for r in runs) / 1024, 1)

        kubectl = shutil.which("kubectl")
        if not args.skip_kustomize and kubectl:
            seconds, rss = run_child([kubectl, "kustomize", str(work)], work / "out-kustomize.yaml")
            found = count_secret(work / "out-kustomize.yaml")
            if found != args.workloads:
                raise SystemExit(f"kustomize added the secret to {found} of {args.workloads} workloads")
            figures["kustomize_seconds"] = round(seconds, 3)
            figures["kustomize_peak_rss_mib"] = round(rss / 1024, 1)
            figures["speedup"] = round(seconds / float(figures["regcred_seconds"]), 1)  # type: ignore[arg-type]
        elif not args.skip_kustomize:
            figures["kustomize"] = "kubectl not found: skipped"
    finally:
        shutil.rmtree(work, ignore_errors=True)

    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        for key, value in figures.items():
            print(f"{key:26} {value}")


if __name__ == "__main__":
    main()

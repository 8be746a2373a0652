"""Benchmark: the controller on a real kube-apiserver: cold convergence over 1,000 namespaces, rotation of the
source Secret, and the idle steady state; each against the raw-write floor measured in the same run.

1. cold: one spec selecting 1,000 labelled namespaces (each with its `default` ServiceAccount), nothing
   converged; the controller process starts; done when a watch of the benchmark has seen every namespace's Secret
   and its `default` ServiceAccount listing it. Goal: within 2x the floor.
2. floor: the same Secret creates and ServiceAccount merge patches (bodies taken from what the controller
   wrote) on 1,000 other namespaces, sent with httpx by as many threads as the controller has workers, keep-alive,
   logged in as a user bound to the same ClusterRole.
3. rotation: the source Secret's password changes; done when the watch has seen all 1,000 copies with new data.
   Floor: 1,000 conditional merge patches of the floor's Secrets' data, same threads. Goal: within 2x.
4. idle: the converged controller left alone `--idle-seconds` (300 for the documented figure); its requests
   are counted by the API server's audit log (and by its own regcred_api_requests metric). Goal: 0 writes,
   0 LISTs. No --leader-elect, so there are no Lease renewals.

    KUBEBUILDER_ASSETS=/opt/envtest/bin .venv/bin/python benchmarks/bench_controller.py \
        [--namespaces 1000] [--workers 2] [--idle-seconds 300] [--controller-arg=--kube-api-qps=0 ...]
"""

from __future__ import annotations

import argparse
import base64
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import httpx
from controllerbench import (
    KEY,
    MERGE,
    PARAMS,
    SPECS,
    WRITES,
    Bench,
    Controller,
    Convergence,
    create_namespaces,
    create_source_secret,
    floor,
    floor_patches,
    floor_sample,
    fmt,
    ok,
    require_envtest,
    rotate_source,
    spec_body,
    started_cluster,
    summarize,
    unowned,
    watch_both,
)

from regcred.core.credentials.pullsecret import dockerconfigjson_payload
from regcred.core.spec.planner import entries_change

SPEC = "bench"


def cold(b: Bench, names: list[str], args: argparse.Namespace) -> tuple[Controller, float, float]:
    conv = Convergence(set(names), SPEC)
    watches = watch_both(b.admin, conv)
    user, kubeconfig = b.user("controller")
    offset = b.cluster.audit_offset()
    ctrl = Controller(kubeconfig, args.workers, args.controller_arg, b.workdir / "controller.log")
    ready = ctrl.wait_ready()
    if not conv.wait(args.timeout):
        sys.exit(f"cold: only {conv.done()} of {len(names)} namespaces converged in {args.timeout} s")
    seconds = conv.last() - ctrl.started
    time.sleep(3)  # the status writes that follow the last reconcile
    for w in watches:
        w.close()
    events = b.cluster.audit_since(offset, user)
    print(f"cold: {len(names)} namespaces converged {seconds:.2f} s after the controller process started "
          f"(ready — caches synced — after {ready:.2f} s)")
    print(f"  controller's requests (audit log): {fmt(summarize(events))}")
    print(f"  controller's own metric: {fmt(ctrl.api_requests())}; {ctrl.reconciles()}")
    return ctrl, seconds, ready


def floor_cold(b: Bench, sas: dict[str, Any], sample: dict[str, Any], workers: int) -> tuple[float, dict[str, str]]:
    user, _ = b.user("floor")
    versions: dict[str, str] = {}
    offset = b.cluster.audit_offset()

    def job(ns: str) -> Any:
        def run(client: httpx.Client) -> None:
            made = ok(client.post(f"/api/v1/namespaces/{ns}/secrets", params=PARAMS, json=sample))
            versions[ns] = made["metadata"]["resourceVersion"]
            patch = unowned(entries_change(sas[ns], [SPEC], [])[1])
            ok(client.patch(f"/api/v1/namespaces/{ns}/serviceaccounts/default", params=PARAMS, json=patch,
                            headers=MERGE))
        return run

    seconds = floor(lambda: b.client("floor"), [job(ns) for ns in sas], workers)
    print(f"floor (cold): {len(sas)} Secret creates + {len(sas)} ServiceAccount patches by {workers} threads: "
          f"{seconds:.2f} s ({fmt(summarize(b.cluster.audit_since(offset, user)))})")
    return seconds, versions


def rotation(b: Bench, names: list[str], old: str, args: argparse.Namespace) -> float:
    conv = Convergence(set(names), SPEC, secret_ok=lambda o: (o.get("data") or {}).get(KEY) != old, need_sa=False)
    watches = watch_both(b.admin, conv)
    user, _ = b.user("controller")
    offset = b.cluster.audit_offset()
    started = time.monotonic()
    rotate_source(b.admin, "pw-rotated-2")
    if not conv.wait(args.timeout):
        sys.exit(f"rotation: only {conv.done()} of {len(names)} copies updated in {args.timeout} s")
    seconds = conv.last() - started
    time.sleep(3)
    for w in watches:
        w.close()
    print(f"rotation: {len(names)} copies updated {seconds:.2f} s after the source Secret changed")
    print(f"  controller's requests (audit log): {fmt(summarize(b.cluster.audit_since(offset, user)))}")
    return seconds


def idle(b: Bench, ctrl: Controller, seconds: float) -> dict[str, int]:
    user, _ = b.user("controller")
    before = ctrl.api_requests()
    offset = b.cluster.audit_offset()
    time.sleep(seconds)
    events = b.cluster.audit_since(offset, user)
    counts = summarize(events)
    metric = ctrl.api_requests() - before
    writes = sum(1 for ev in events if ev.get("verb") in WRITES)
    lists = sum(1 for ev in events if ev.get("verb") == "list")
    print(f"idle {seconds:.0f} s: {writes} writes, {lists} LISTs; all requests (audit log): {fmt(counts)}; "
          f"own metric: {fmt(metric)}")
    return {"writes": writes, "lists": lists, "total": len(events)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--namespaces", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=2, help="the controller's --workers and the floor's threads")
    parser.add_argument("--idle-seconds", type=float, default=300.0, help="idle window (documented figure: 300)")
    parser.add_argument("--timeout", type=float, default=900.0, help="give up on a phase after this long")
    parser.add_argument("--controller-arg", action="append", default=[], help="passed to `regcred controller`")
    args = parser.parse_args()
    require_envtest()
    with started_cluster() as b:
        create_source_secret(b.admin, "pw-initial-1")
        names = [f"cold-{i:04d}" for i in range(args.namespaces)]
        floor_names = [f"floor-{i:04d}" for i in range(args.namespaces)]
        started = time.perf_counter()
        create_namespaces(b.admin, names, {"bench": "cold"})
        sas = create_namespaces(b.admin, floor_names, {"bench": "floor"})
        print(f"set-up: {2 * args.namespaces} namespaces + default ServiceAccounts in "
              f"{time.perf_counter() - started:.1f} s; controller args: {args.controller_arg or 'defaults'}")
        ok(b.admin.post(SPECS, json=spec_body(SPEC, {"bench": "cold"})))

        ctrl, cold_s, ready_s = cold(b, names, args)
        ctrl.stop()  # the floor runs alone
        sample = floor_sample(b.admin, names[0], SPEC)
        floor_s, versions = floor_cold(b, sas, sample, args.workers)
        new = base64.b64encode(dockerconfigjson_payload("registry.bench.example", "puller", "pw-rotated-2")).decode()
        rot_floor_s = floor_patches(b, versions, SPEC, new, args.workers)
        print(f"floor (rotation): {len(versions)} conditional Secret patches by {args.workers} threads: "
              f"{rot_floor_s:.2f} s")

        user, kubeconfig = b.user("controller")
        offset = b.cluster.audit_offset()
        ctrl = Controller(kubeconfig, args.workers, args.controller_arg, b.workdir / "controller.log")
        try:
            ready = ctrl.wait_ready()
            time.sleep(5)
            restart = summarize(b.cluster.audit_since(offset, user))
            print(f"restart of the converged controller: ready after {ready:.2f} s; requests in its first "
                  f"{ready + 5:.0f} s: {fmt(restart)}")
            rot_s = rotation(b, names, sample["data"][KEY], args)
            idle_counts = idle(b, ctrl, args.idle_seconds)
        finally:
            ctrl.stop()
    print(f"\ncold convergence: {cold_s:.2f} s from the process's start vs floor {floor_s:.2f} s = "
          f"{cold_s / floor_s:.2f}x; from its caches synced: {cold_s - ready_s:.2f} s = "
          f"{(cold_s - ready_s) / floor_s:.2f}x (goal <= 2x)")
    print(f"rotation: {rot_s:.2f} s vs floor {rot_floor_s:.2f} s = {rot_s / rot_floor_s:.2f}x (goal <= 2x)")
    print(f"idle {args.idle_seconds:.0f} s: {idle_counts['writes']} writes, {idle_counts['lists']} LISTs "
          f"(goal 0 and 0)")


if __name__ == "__main__":
    main()

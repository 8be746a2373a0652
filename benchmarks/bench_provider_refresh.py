"""Benchmark: a credential-provider plugin's refresh fanned out to 1,000 namespaces by the controller on a real
kube-apiserver, against the raw-write floor measured in the same run.

1. converge: one spec whose registry is a credential-provider plugin (tests/support/credplugin.py: `token-<n>`
   on its n-th call, cacheDuration `--duration`) selects 1,000 labelled namespaces; the controller process
   (`--workers 2`) writes token-1 into every namespace's Secret and lists it in every `default` ServiceAccount.
2. refresh: at 80 % of the cacheDuration after the plugin's first answer, every namespace's key falls due; the
   first reconcile runs the plugin again (token-2), every one writes its Secret. Measured from the start of that
   plugin call (a timestamp the plugin writes once its interpreter is up: CREDPLUGIN_TIMES) to the moment the
   benchmark's watch has seen the last of the 1,000 Secrets holding the new token. Then the plugin's calls are
   counted (goal: one per refresh). `--refreshes N` measures N refreshes in a row (each 0.8 x duration apart).
3. floor: 1,000 Secrets like the controller's (another name, its ownership marks renamed: the controller leaves
   them alone) in 1,000 other namespaces; then, `--floor-lead` seconds before each refresh falls due and once after the last, 1,000
   conditional merge patches of their data: the rotation floor of bench_controller.py (httpx, as many threads as
   the controller has workers, keep-alive, a user bound to the same ClusterRole). The controller keeps running
   (a new process would have no plugin answer and refresh at once) but is paused (SIGSTOP) during each floor:
   it watches every Secret and would spend CPU on the floor's events. Each refresh is compared with the mean of
   the floors just before and just after it, as the shared machine's load drifts. Goal: within 2x.

    KUBEBUILDER_ASSETS=/opt/envtest/bin .venv/bin/python benchmarks/bench_provider_refresh.py \
        [--namespaces 1000] [--workers 2] [--duration 120] [--refreshes 3] [--floor-lead 30] [--controller-arg=...]
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
    PARAMS,
    SPECS,
    Bench,
    Controller,
    Convergence,
    Obj,
    create_namespaces,
    floor,
    floor_patches,
    floor_sample,
    fmt,
    ok,
    require_envtest,
    started_cluster,
    summarize,
    watch_both,
)

from regcred.core.credentials.pullsecret import dockerconfigjson_payload

SPEC = "bench-plugin"
FLOOR = "bench-floor"  # the floor's Secrets: not the spec's Secret name, which the controller would look at
SERVER = "123456789012.dkr.ecr.eu-west-1.amazonaws.com"
PLUGIN = Path(__file__).resolve().parents[1] / "tests" / "support" / "credplugin.py"


def data_for(token: str) -> str:
    """The Secret's .dockerconfigjson, base64, holding the plugin's `token` (its default user)."""
    return base64.b64encode(dockerconfigjson_payload(SERVER, "plugin-user", token)).decode()


def plugin_spec(b: Bench, duration: float) -> Obj:
    env = {"CREDPLUGIN_CALLS": str(b.workdir / "plugin-calls"), "CREDPLUGIN_TIMES": str(b.workdir / "plugin-times"),
           "CREDPLUGIN_DURATION": f"{duration:g}s"}
    return {"apiVersion": "regcred.dev/v1alpha1", "kind": "RegistryCredential", "metadata": {"name": SPEC},
            "spec": {"registries": [{"server": SERVER, "credentialProvider": {
                "command": str(PLUGIN), "env": [{"name": k, "value": v} for k, v in env.items()]}}],
                     "namespaces": {"selector": {"matchLabels": {"bench": "plugin"}}}}}


def plugin_calls(b: Bench) -> list[float]:
    """When each plugin call started, as time.monotonic() of this process (the plugin writes time.time())."""
    path = b.workdir / "plugin-times"
    shift = time.time() - time.monotonic()
    return [float(line) - shift for line in path.read_text().split()] if path.exists() else []


def converge(b: Bench, names: list[str], args: argparse.Namespace) -> Controller:
    want = data_for("token-1")
    conv = Convergence(set(names), SPEC, secret_ok=lambda o: (o.get("data") or {}).get(KEY) == want)
    watches = watch_both(b.admin, conv)
    _, kubeconfig = b.user("controller")
    ctrl = Controller(kubeconfig, args.workers, args.controller_arg, b.workdir / "controller.log")
    ready = ctrl.wait_ready()
    if not conv.wait(args.timeout):
        sys.exit(f"converge: only {conv.done()} of {len(names)} namespaces hold token-1 after {args.timeout} s")
    for w in watches:
        w.close()
    seen, count = ctrl.reconcile_totals()[0], -1.0
    while count != (count := ctrl.reconcile_totals()[0]):  # the reconciles of the last events, before a refresh
        time.sleep(2)
    calls = plugin_calls(b)
    print(f"converged: {len(names)} namespaces hold token-1 {conv.last() - ctrl.started:.2f} s after the "
          f"controller process started (ready after {ready:.2f} s); {count:.0f} reconciles in all, "
          f"{count - seen:.0f} of them after the watch had seen the last namespace; plugin calls: {len(calls)}")
    if len(calls) != 1:
        sys.exit(f"converge: the plugin ran {len(calls)} times before the refresh; raise --duration")
    return ctrl


def refresh(b: Bench, ctrl: Controller, names: list[str], n: int, args: argparse.Namespace) -> float:
    """Refresh number `n` (the plugin's call n + 1): seconds from that call's start to the last Secret seen."""
    token = f"token-{n + 1}"
    want = data_for(token)
    conv = Convergence(set(names), SPEC, secret_ok=lambda o: (o.get("data") or {}).get(KEY) == want, need_sa=False)
    watches = watch_both(b.admin, conv)
    user, _ = b.user("controller")
    offset, before = b.cluster.audit_offset(), ctrl.reconcile_totals()
    if conv.done():
        sys.exit(f"refresh {n}: {conv.done()} namespaces already held {token} when the watch started")
    if not conv.wait(args.duration + args.timeout):
        sys.exit(f"refresh {n}: only {conv.done()} of {len(names)} namespaces hold {token}")
    time.sleep(3)  # the status writes that follow, and any late plugin call
    for w in watches:
        w.close()
    calls = plugin_calls(b)
    if len(calls) != n + 1:
        sys.exit(f"refresh {n}: the plugin ran {len(calls)} times in all, {n + 1} expected (one per refresh)")
    started, due = calls[n], calls[n - 1] + 0.8 * args.duration
    seconds = conv.last() - started
    first = min(conv.secret_at.values()) - started
    print(f"refresh {n}: 1 plugin call, {started - due:+.2f} s from the due time (the previous call's start + "
          f"80 % of {args.duration:g} s); first Secret with {token} seen {first:.2f} s after the call, "
          f"the last of {len(names)} {seconds:.2f} s after it")
    print(f"  controller's requests (audit log): {fmt(summarize(b.cluster.audit_since(offset, user)))}; "
          f"{ctrl.reconciles(before)}")
    return seconds


def floor_secrets(b: Bench, names: list[str], sample: Obj, workers: int) -> dict[str, str]:
    """The floor's own Secrets, one per namespace (not timed as a figure): namespace -> resourceVersion."""
    versions: dict[str, str] = {}
    b.user("floor")  # once, before the threads ask for its client

    def job(ns: str) -> Any:
        def run(client: httpx.Client) -> None:
            made = ok(client.post(f"/api/v1/namespaces/{ns}/secrets", params=PARAMS, json=sample))
            versions[ns] = made["metadata"]["resourceVersion"]
        return run

    seconds = floor(lambda: b.client("floor"), [job(ns) for ns in names], workers)
    print(f"floor set-up: {len(names)} Secret creates by {workers} threads in {seconds:.2f} s")
    return versions


def floor_round(b: Bench, ctrl: Controller, versions: dict[str, str], n: int, args: argparse.Namespace) -> float:
    """One floor: 1,000 conditional patches of the floor's Secrets, the controller paused meanwhile (it watches
    every Secret; stopped, not ended, it keeps its plugin answer); then it catches up on the floor's events."""
    ctrl.pause()
    try:
        seconds = floor_patches(b, versions, FLOOR, data_for(f"floor-{n}"), args.workers)
    finally:
        ctrl.resume()
    started, cpu, last = time.monotonic(), ctrl.cpu_seconds(), -1.0
    while last != (last := ctrl.cpu_seconds()):
        time.sleep(1)
    print(f"floor {n}: {len(versions)} conditional Secret patches by {args.workers} threads: {seconds:.2f} s, the "
          f"controller paused; resumed, it took {last - cpu:.2f} s of CPU in {time.monotonic() - started:.0f} s "
          "to catch up on the floor's Secret events")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--namespaces", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=2, help="the controller's --workers and the floor's threads")
    parser.add_argument("--duration", type=float, default=120.0,
                        help="the plugin's cacheDuration in seconds: a refresh every 80 %% of it; convergence "
                             "must end before the first")
    parser.add_argument("--refreshes", type=int, default=3, help="refreshes measured in a row")
    parser.add_argument("--floor-lead", type=float, default=30.0,
                        help="each floor starts this many seconds before the refresh falls due")
    parser.add_argument("--timeout", type=float, default=600.0, help="give up on a phase after this long")
    parser.add_argument("--controller-arg", action="append", default=[], help="passed to `regcred controller`")
    args = parser.parse_args()
    require_envtest()
    with started_cluster() as b:
        names = [f"plugin-{i:04d}" for i in range(args.namespaces)]
        floor_names = [f"floor-{i:04d}" for i in range(args.namespaces)]
        started = time.perf_counter()
        create_namespaces(b.admin, names, {"bench": "plugin"})
        create_namespaces(b.admin, floor_names, {"bench": "floor"})
        print(f"set-up: {2 * args.namespaces} namespaces + default ServiceAccounts in "
              f"{time.perf_counter() - started:.1f} s; controller args: {args.controller_arg or 'defaults'}")
        ok(b.admin.post(SPECS, json=plugin_spec(b, args.duration)))
        ctrl = converge(b, names, args)
        try:
            sample = floor_sample(b.admin, names[0], SPEC)
            sample["metadata"]["name"] = FLOOR
            versions = floor_secrets(b, floor_names, sample, args.workers)
            floors, refreshes = [], []
            for n in range(1, args.refreshes + 1):
                due = plugin_calls(b)[n - 1] + 0.8 * args.duration
                idle = (time.monotonic(), ctrl.cpu_seconds())
                time.sleep(max(0.0, due - args.floor_lead - time.monotonic()))
                print(f"idle controller: {(ctrl.cpu_seconds() - idle[1]) / (time.monotonic() - idle[0]) * 1000:.0f} "
                      "ms of CPU per second")
                floors.append(floor_round(b, ctrl, versions, n, args))
                if time.monotonic() > due - 1:
                    sys.exit(f"floor {n} ended {time.monotonic() - due + 1:.1f} s too late, next to the refresh: "
                             "raise --floor-lead or --duration")
                refreshes.append(refresh(b, ctrl, names, n, args))
            floors.append(floor_round(b, ctrl, versions, args.refreshes + 1, args))
        finally:
            ctrl.stop()
    print()
    for n, mine in enumerate(refreshes, 1):
        raw = (floors[n - 1] + floors[n]) / 2
        print(f"refresh {n}: {mine:.2f} s from the plugin's call to the last of {args.namespaces} Secrets vs floor "
              f"{raw:.2f} s (the mean of the floors before and after it) = {mine / raw:.2f}x (goal <= 2x); "
              "1 plugin call")


if __name__ == "__main__":
    main()

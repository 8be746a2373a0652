"""Benchmark: big inputs through the input rules (issue 11): a 600,000-entry config and a long manifest stream.

Runs the real CLI as child processes and reports wall time and peak memory (ru_maxrss from os.wait4) for
`auth list` on a config.json with N entries and for `inject` / `spec validate` on a stream of Deployments, plus
what the bounds cost in-process: the JSON depth scan next to json.loads, and the YAML alias/depth walk next to
PyYAML's load of the same stream. Inputs over the default 64 MiB cap are run with REGCRED_MAX_INPUT_BYTES raised.

    .venv/bin/python benchmarks/bench_input.py [--entries 600000] [--workloads 20000] [--big-stream 157000] [--json]

--big-stream N also runs `inject` alone on a stream of N workloads (issue 11's 157,000 Deployments: ~80 s).
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_inject import workload

SPEC = ("apiVersion: regcred.dev/v1alpha1\nkind: RegistryCredential\nmetadata: {name: team}\nspec:\n"
        "  secretName: pull\n  registries:\n  - server: registry.example.com\n    username: u\n"
        "    passwordFrom: {env: PW}\n")


def run_child(args: list[str], env: dict[str, str]) -> dict[str, Any]:
    """Wall seconds, peak RSS (MiB) and exit code of `regcred ARGS`."""
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "regcred", *args], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, env={**os.environ, **env})
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    stderr = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 1):
        raise SystemExit(f"regcred {' '.join(args)} exited {code}: {stderr.strip()}")
    return {"seconds": round(wall, 2), "peak_mib": round(usage.ru_maxrss / 1024), "exit": code}


def timed(func: Any, *args: Any) -> float:
    started = time.perf_counter()
    func(*args)
    return round(time.perf_counter() - started, 3)


def write_inputs(config: Path, stream: Path, entries: int, workloads: int) -> None:
    auths = {f"r{i}.example.com": {"username": "u", "password": "p", "auth": "dTpw"} for i in range(entries)}
    config.write_text(json.dumps({"auths": auths}, indent="\t") + "\n")
    stream.write_text("---\n".join([SPEC, *(workload(i) for i in range(workloads))]))


def main() -> None:
    if sys.argv[1:2] == ["--write"]:
        write_inputs(Path(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=600_000)
    parser.add_argument("--workloads", type=int, default=20_000)
    parser.add_argument("--big-stream", type=int, default=0, help="also run inject on this many workloads")
    parser.add_argument("--json", action="store_true")
    options = parser.parse_args()

    import yaml

    from regcred.core import safeload

    results: dict[str, Any] = {}
    env = {"REGCRED_MAX_INPUT_BYTES": "4G"}
    with tempfile.TemporaryDirectory() as tmp:
        config, stream = Path(tmp) / "config.json", Path(tmp) / "stream.yaml"
        # inputs are written by a child, so that this process stays small: a child's peak RSS counts the
        # memory it shared with this process before exec
        subprocess.run([sys.executable, __file__, "--write", str(config), str(stream), str(options.entries),
                        str(options.workloads)], check=True)
        auth_list = run_child(["auth", "list", "--file", str(config)], env)
        inject = run_child(["inject", "regsecret", "-f", str(stream)], env)
        validate = run_child(["spec", "validate", "-f", str(stream)], env)
        text = config.read_text()
        results["config"] = {"entries": options.entries, "mib": round(len(text) / 2**20, 1),
                             "depth_scan_s": timed(safeload.json_too_deep, text), "json_loads_s": timed(json.loads, text),
                             "auth_list": auth_list}
        text = stream.read_text()
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        results["stream"] = {
            "workloads": options.workloads, "mib": round(len(text) / 2**20, 1),
            "pyyaml_load_s": timed(lambda t: list(yaml.load_all(t, Loader=loader)), text),
            "bounded_load_s": timed(lambda t: list(safeload.load_all(t)), text),
            "inject": inject, "spec_validate": validate,
        }
        if options.big_stream:
            subprocess.run([sys.executable, __file__, "--write", str(config), str(stream), "1",
                            str(options.big_stream)], check=True)
            results["big_stream"] = {"workloads": options.big_stream, "mib": round(stream.stat().st_size / 2**20, 1),
                                     "inject": run_child(["inject", "regsecret", "-f", str(stream)], env)}
    if options.json:
        print(json.dumps(results, indent=2))
        return
    c, s = results["config"], results["stream"]
    print(f"config.json, {c['entries']:,} entries ({c['mib']} MiB): depth scan {c['depth_scan_s']} s "
          f"(json.loads {c['json_loads_s']} s); auth list {c['auth_list']['seconds']} s, "
          f"{c['auth_list']['peak_mib']} MiB peak")
    print(f"stream, {s['workloads']:,} workloads ({s['mib']} MiB): bounded load {s['bounded_load_s']} s "
          f"(PyYAML alone {s['pyyaml_load_s']} s); inject {s['inject']['seconds']} s, {s['inject']['peak_mib']} MiB; "
          f"spec validate {s['spec_validate']['seconds']} s, {s['spec_validate']['peak_mib']} MiB")
    if "big_stream" in results:
        b = results["big_stream"]
        print(f"stream, {b['workloads']:,} workloads ({b['mib']} MiB): inject {b['inject']['seconds']} s, "
              f"{b['inject']['peak_mib']} MiB")


if __name__ == "__main__":
    main()

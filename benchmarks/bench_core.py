"""Benchmark of the credential core against its goals.

(a) cold start of `regcred --help` and `regcred match` (goal < 150 ms): median of repeated runs of the real
    entry point in a fresh interpreter, next to `kubectl --help` (the CLI users compare us with) when present;
(b) keyring lookups per second for 1,000 registry keys and 100,000 image references (goal >= 200,000/s),
    next to a naive scan of every key per lookup (what a non-indexed keyring does).

Run: .venv/bin/python benchmarks/bench_core.py
"""

from __future__ import annotations

import json
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from regcred.core.credentials import gomatch
from regcred.core.credentials.keyring import Credential, Keyring
from regcred.core.credentials.registrykey import parse_schemeless

RUNS = 15


def cold_start(cmd: list[str]) -> float:
    """Median wall time in ms of a command run RUNS times."""
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        done = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
        times.append((time.perf_counter() - start) * 1000)
        if done.returncode != 0:  # a failing command is not a start-up time
            sys.exit(f"{' '.join(cmd)} exited {done.returncode}:\n{done.stderr.decode()}")
    return statistics.median(times)


def make_keys(rng: random.Random, n: int) -> list[str]:
    keys = []
    for i in range(n):
        host = f"reg{i}.corp{i % 37}.example.com"
        choice = i % 10
        if choice == 0:
            keys.append(f"https://{host}/v1/")
        elif choice == 1:
            keys.append(f"{host}:5000")
        elif choice == 2:
            keys.append(f"{host}/team{i % 7}")
        elif choice == 3 and i % 50 == 3:
            keys.append(f"*.corp{i % 37}.example.com")
        else:
            keys.append(host)
    return keys


def make_repositories(rng: random.Random, n: int, keys: int) -> list[str]:
    repos = []
    for j in range(n):
        i = rng.randrange(keys * 2)  # half of them hit no key
        port = ":5000" if i % 10 == 1 else ""
        repos.append(f"reg{i}.corp{i % 37}.example.com{port}/team{j % 7}/app{j}")
    return repos


def naive_lookup(entries: list[tuple[str, Credential]], repository: str) -> list[Credential]:
    """Scan every key in reverse byte order, as the kubelet itself does (no host index)."""
    target = parse_schemeless(repository)
    assert target is not None
    out = []
    for _key, parsed, cred in entries:  # type: ignore[misc]
        if (
            parsed.port == target.port
            and len(parsed.host.split(".")) == len(target.host.split("."))
            and all(gomatch.match(p, t) for p, t in zip(parsed.host.split("."), target.host.split("."), strict=True))
            and target.path.startswith(parsed.path)
        ):
            out.append(cred)
    return out


def main() -> None:
    rng = random.Random(42)
    exe = Path(sys.executable).with_name("regcred")
    with tempfile.TemporaryDirectory() as tmp:
        cfg = Path(tmp) / "config.json"
        cfg.write_text(json.dumps({"auths": {"reg.example.com": {"auth": "YTpi"}}}))
        print(f"cold start (median of {RUNS} runs)")
        print(f"  regcred --help            {cold_start([str(exe), '--help']):7.1f} ms   (goal < 150 ms)")
        print(f"  regcred match             {cold_start([str(exe), 'match', 'reg.example.com/a/b:1', '--file', str(cfg)]):7.1f} ms   (goal < 150 ms)")
        kubectl = shutil.which("kubectl")
        if kubectl:
            print(f"  kubectl --help (peer)     {cold_start([kubectl, '--help']):7.1f} ms")
        print(f"  python -c pass (floor)    {cold_start([sys.executable, '-c', 'pass']):7.1f} ms")

    keys = make_keys(rng, 1000)
    repos = make_repositories(rng, 100_000, 1000)
    keyring = Keyring()
    for k in keys:
        keyring.add(Credential(k, "u", "p"))
    start = time.perf_counter()
    hits = sum(1 for r in repos if keyring.lookup_repository(r))
    elapsed = time.perf_counter() - start
    print("keyring: 1,000 keys, 100,000 repositories")
    print(f"  indexed lookup            {len(repos) / elapsed:10,.0f} lookups/s   ({hits:,} with credentials; goal >= 200,000/s)")

    from regcred.core.credentials.registrykey import index_key

    entries = []
    for k in keys:
        ik = index_key(k)
        parsed = parse_schemeless(ik) if ik else None
        if parsed:
            entries.append((ik, parsed, Credential(k, "u", "p")))
    entries.sort(key=lambda e: e[0], reverse=True)
    sample = repos[:2000]
    start = time.perf_counter()
    for r in sample:
        naive_lookup(entries, r)
    naive = len(sample) / (time.perf_counter() - start)
    print(f"  full scan (kubelet-style) {naive:10,.0f} lookups/s   (2,000-repository sample)")


if __name__ == "__main__":
    main()

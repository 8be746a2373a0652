"""How long `node install` and `node doctor` take on a node whose config.json already holds many registries.

Run: .venv/bin/python benchmarks/bench_node.py [ENTRIES]   (in-process, best of 5; plus one cold CLI start)
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from regcred.shells.host import HostRoot, kubelet_settings
from regcred.shells.nodefiles import install_entries
from regcred.usecases.nodedoctor import diagnose


def best(fn, rounds: int = 5) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times) * 1000


def main() -> None:
    entries = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        path = root / "var/lib/kubelet/config.json"
        path.parent.mkdir(parents=True)
        auths = {f"reg{i}.example.com": {"username": "u", "password": "p", "auth": "dTpw"} for i in range(entries)}
        path.write_text(json.dumps({"auths": auths}))
        host = HostRoot(root)
        settings = kubelet_settings(host)
        counter = iter(range(10**6))

        def install() -> None:
            install_entries(host, settings, [(f"new{next(counter)}.example.com", "u", "p", "")], runtime="none")

        install_ms = best(install)
        doctor_ms = best(lambda: diagnose(host, settings, ["reg5.example.com/app:v1"]))
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "regcred", "node", "doctor", "--host-root", tmp, "-o", "json"],
                              capture_output=True, check=False)
        cold_ms = (time.perf_counter() - start) * 1000
        if done.returncode != 0:  # a failed run is not a figure
            sys.exit(f"regcred node doctor exited {done.returncode}:\n{done.stdout.decode()}{done.stderr.decode()}")
    print(f"entries={entries} install(merge one, atomic write, fsync)={install_ms:.1f} ms "
          f"doctor={doctor_ms:.1f} ms cold `node doctor` process={cold_ms:.0f} ms")


if __name__ == "__main__":
    main()

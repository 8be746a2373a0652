"""Benchmark: `regcred verify` of 50 registries is dominated by network time, not by Python.

Starting 50 real registries is too heavy, so two measurements:

1. 50 lightweight local fakes of the v2 API (Basic auth: 401 challenge, login, HEAD manifest) answering after an
   artificial latency. The run is compared with the network floor, requests x latency x ceil(50 / concurrency),
   and the same run at zero latency gives the pure client overhead.
2. One real Debian docker-registry (htpasswd) for the same three-request check, to show the fakes are honest.

    .venv/bin/python benchmarks/bench_verify.py [--registries 50] [--latency-ms 50] [--concurrency 8] [--json]
"""

from __future__ import annotations

import argparse
import base64
import json
import math
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from regcred.core.verify.plan import Target
from regcred.core.verify.repository import RepositoryRef
from regcred.localregistry.registry import REGISTRY_BIN, RegistryServer
from regcred.shells.registry import RegistryClient, VerifyOptions

USER, PASSWORD = "bench", "bench-password"
BASIC = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
REQUESTS_PER_CHECK = 3  # GET /v2/ (challenge), GET /v2/ (login), HEAD manifest


def fake_registry(latency: float) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def _reply(self, status: int, headers: dict[str, str]) -> None:
            time.sleep(latency)
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", "2" if self.command != "HEAD" else "0")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(b"{}")

        def do_GET(self) -> None:
            if self.headers.get("Authorization") != BASIC:
                self._reply(401, {"WWW-Authenticate": 'Basic realm="bench"'})
            else:
                self._reply(200, {"Content-Type": "application/json"})

        def do_HEAD(self) -> None:
            self._reply(200 if self.headers.get("Authorization") == BASIC else 401, {})

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return server


def run_fakes(count: int, latency: float, concurrency: int) -> float:
    servers = [fake_registry(latency) for _ in range(count)]
    try:
        targets = [Target(f"127.0.0.1:{s.server_address[1]}", USER, PASSWORD, (RepositoryRef("team/app", "v1"),))
                   for s in servers]
        with RegistryClient(VerifyOptions(insecure_http=True, concurrency=concurrency)) as client:
            start = time.perf_counter()
            results = client.verify_all(targets)
            elapsed = time.perf_counter() - start
        assert all(r.ok for r in results), [r.errors for r in results if not r.ok]
        return elapsed
    finally:
        for s in servers:
            s.shutdown()
            s.server_close()


def run_cli_fakes(count: int, latency: float, concurrency: int) -> float:
    servers = [fake_registry(latency) for _ in range(count)]
    try:
        auth = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        with tempfile.TemporaryDirectory() as tmp:
            config = Path(tmp) / "config.json"
            config.write_text(json.dumps({"auths": {f"127.0.0.1:{s.server_address[1]}": {"auth": auth}
                                                    for s in servers}}))
            regcred = Path(sys.executable).with_name("regcred")
            start = time.perf_counter()
            proc = subprocess.run([str(regcred), "verify", "--file", str(config), "--repository", "team/app:v1",
                                   "--insecure-http", "--concurrency", str(concurrency), "-o", "json"],
                                  capture_output=True, check=False)
            elapsed = time.perf_counter() - start
        assert proc.returncode == 0, proc.stderr.decode()
        return elapsed
    finally:
        for s in servers:
            s.shutdown()
            s.server_close()


def run_real() -> float | None:
    if not (Path(REGISTRY_BIN).is_file() and shutil.which("skopeo") and shutil.which("htpasswd")):
        return None

    server = RegistryServer("htpasswd", users={USER: PASSWORD})
    server.start()
    try:
        server.push("team/app", "v1", USER, PASSWORD)
        target = Target(server.host, USER, PASSWORD, (RepositoryRef("team/app", "v1"),))
        with RegistryClient(VerifyOptions(insecure_http=True)) as client:
            client.verify(target)  # warm the connection pool like the fakes' first round
            start = time.perf_counter()
            for _ in range(20):
                result = client.verify(target)
            elapsed = (time.perf_counter() - start) / 20
        assert result.ok, result.errors
        return elapsed
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--registries", type=int, default=50)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    latency = args.latency_ms / 1000
    floor = REQUESTS_PER_CHECK * latency * math.ceil(args.registries / args.concurrency)
    with_latency = run_fakes(args.registries, latency, args.concurrency)
    zero = run_fakes(args.registries, 0.0, args.concurrency)
    cli = run_cli_fakes(args.registries, latency, args.concurrency)
    real = run_real()
    figures = {
        "registries": args.registries, "latency_ms": args.latency_ms, "concurrency": args.concurrency,
        "network_floor_s": round(floor, 3), "verify_s": round(with_latency, 3),
        "overhead_share": round(1 - floor / with_latency, 3), "zero_latency_s": round(zero, 3),
        "per_registry_overhead_ms": round(zero / args.registries * 1000, 2), "cli_s": round(cli, 3),
        "real_registry_check_ms": round(real * 1000, 2) if real is not None else None,
    }
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    print(f"verify of {args.registries} fake registries, {args.latency_ms:g} ms per reply, concurrency "
          f"{args.concurrency}:")
    print(f"  network floor ({REQUESTS_PER_CHECK} requests x latency x rounds)  {floor:7.3f} s")
    print(f"  measured (in process)                           {with_latency:7.3f} s  "
          f"({figures['overhead_share']:.0%} above the floor)")
    print(f"  same at zero latency (pure client overhead)     {zero:7.3f} s  "
          f"({figures['per_registry_overhead_ms']} ms per registry)")
    print(f"  whole CLI (child process, with latency)         {cli:7.3f} s")
    if real is not None:
        print(f"  one real docker-registry check (warm, mean)     {real * 1000:7.2f} ms")
    else:
        print("  real docker-registry: skipped (docker-registry/skopeo/htpasswd not installed)")


if __name__ == "__main__":
    main()

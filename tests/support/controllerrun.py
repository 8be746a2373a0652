"""The running controller for the scenario tests (tests/kube/controller/scenarios): in a thread or as processes.

Why one module: every scenario starts the real controller (`manager.run`, or `regcred controller` in a child
process), makes a spec through the API, waits with a deadline for an outcome and reads objects back the same way;
the spec builders, `pulls` and `install_crd` are the existing ones from the controller's own tests.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import re
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from regcred.controller.manager import Manager, Options, run
from tests.kube.controller.test_reconcile import PASSWORD, pulls, spec_doc
from tests.kube.controller.test_status import SPECS, install_crd
from tests.support.envtest import free_port
from tests.support.kube import KubeBackend

__all__ = ["PASSWORD", "SPECS", "ControllerProcess", "Coverage", "Running", "Specs", "auth_in", "condition",
           "controller", "coverage", "create_spec", "dockerconfig", "events_about", "forget_specs", "get_spec",
           "install_crd", "namespaces", "pulls", "rewritten", "spec_doc", "wait_until", "written_twice"]
ROOT = Path(__file__).resolve().parents[2]
WRITE_SAMPLE = re.compile(r'^regcred_api_requests_total\{.*verb="(create|update|patch|delete)"')


def wait_until(check: Callable[[], Any], what: str, timeout: float = 10.0) -> Any:
    """Poll `check` every 50 ms until it returns something truthy (returned); fail naming `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        assert time.monotonic() < deadline, f"timed out after {timeout} s waiting for: {what}"
        time.sleep(0.05)


@dataclass
class Running:
    """`manager.run` in a thread; `manager` once it is ready (caches synced, workers started)."""

    thread: threading.Thread
    stop: threading.Event
    codes: list[int] = field(default_factory=list)
    ready: list[Manager] = field(default_factory=list)

    @property
    def manager(self) -> Manager:
        return self.ready[0]

    def finish(self) -> int:
        self.stop.set()
        self.thread.join(timeout=10)
        assert not self.thread.is_alive(), "the controller did not stop"
        return self.codes[0]


class _Errors(logging.Handler):
    """The controller's ERROR records (a crashed reconcile logs one, with its traceback)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"{record.name}: {record.getMessage()}")


@contextmanager
def controller(kube: KubeBackend, *, kubeconfig: Path | None = None, **options: Any) -> Iterator[Running]:
    """The whole controller (`run`) on `kube` until the block ends; it must stop with exit code 0, having
    logged no error (a race or a refusal is an expected answer, handled, never a crashed reconcile)."""
    opts = Options(kubeconfig=str(kubeconfig or kube.kubeconfig), metrics_bind_address="0",
                   health_probe_bind_address="0", **options)
    stop = threading.Event()
    running = Running(threading.Thread(target=lambda: None), stop)
    running.thread = threading.Thread(target=lambda: running.codes.append(run(opts, stop,
                                                                             on_ready=running.ready.append)),
                                      name="scenario-controller", daemon=True)
    errors = _Errors()
    logger = logging.getLogger("regcred")
    logger.addHandler(errors)
    running.thread.start()
    try:
        wait_until(lambda: running.ready or running.codes, "the controller's caches to sync", 30)
        assert running.ready, f"the controller exited with {running.codes}"
        yield running
    finally:
        code = running.finish()
        logger.removeHandler(errors)
    assert code == 0
    assert errors.lines == [], errors.lines


# -- objects --------------------------------------------------------------------------------------------------

def namespaces(kube: KubeBackend, prefix: str, count: int, labels: dict[str, str] | None = None) -> list[str]:
    """`count` new namespaces (each with its `default` ServiceAccount)."""
    names = [kube.unique_ns(prefix) for _ in range(count)]
    for name in names:
        kube.create_namespace(name, labels)
    return names


def create_spec(kube: KubeBackend, doc: dict[str, Any]) -> dict[str, Any]:
    """POST a RegistryCredential (spec_doc's `generation` is the server's to set)."""
    body = {**doc, "metadata": {"name": doc["metadata"]["name"]}}
    answer = kube.request("POST", SPECS, json=body)
    assert answer.status_code == 201, answer.text
    created: dict[str, Any] = answer.json()
    return created


def get_spec(kube: KubeBackend, name: str) -> dict[str, Any] | None:
    answer = kube.request("GET", f"{SPECS}/{name}")
    if answer.status_code == 404:
        return None
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found


def condition(kube: KubeBackend, name: str, type_: str) -> dict[str, Any]:
    """The spec's condition of this type ({} when there is none yet)."""
    status = (get_spec(kube, name) or {}).get("status") or {}
    return next((c for c in status.get("conditions") or [] if c.get("type") == type_), {})


class Specs:
    """Creates RegistryCredentials and remembers them for the clean-up (envtest shares one apiserver)."""

    def __init__(self, kube: KubeBackend) -> None:
        self.kube = kube
        self.names: list[str] = []

    def create(self, doc: dict[str, Any]) -> dict[str, Any]:
        self.names.append(doc["metadata"]["name"])
        return create_spec(self.kube, doc)


def forget_specs(kube: KubeBackend, names: list[str]) -> None:
    """Drop the test's specs with their finalizers (envtest shares one apiserver; no controller runs now)."""
    for name in names:
        kube.request("PATCH", f"{SPECS}/{name}", content=b'{"metadata":{"finalizers":null}}',
                     content_type="application/merge-patch+json")
        kube.request("DELETE", f"{SPECS}/{name}")


def events_about(kube: KubeBackend, name: str) -> list[dict[str, Any]]:
    """The Events regarding a spec (cluster-scoped: recorded in `default`)."""
    answer = kube.request("GET", "/apis/events.k8s.io/v1/namespaces/default/events",
                          params={"fieldSelector": f"regarding.name={name}"})
    assert answer.status_code == 200, answer.text
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


def auth_in(kube: KubeBackend, namespace: str, secret: str, server: str) -> str | None:
    """The decoded `user:password` for `server` in a pull Secret's .dockerconfigjson (None: no such entry)."""
    obj = kube.get("v1", "Secret", secret, namespace)
    if obj is None:
        return None
    config = json.loads(base64.b64decode((obj.get("data") or {}).get(".dockerconfigjson", "")) or b"{}")
    entry = (config.get("auths") or {}).get(server)
    return base64.b64decode(entry["auth"]).decode() if entry and "auth" in entry else None


def dockerconfig(server: str, user: str, password: str) -> str:
    """A .dockerconfigjson for one registry (a `fromSecret` source's content)."""
    auth = base64.b64encode(f"{user}:{password}".encode()).decode()
    return json.dumps({"auths": {server: {"username": user, "password": password, "auth": auth}}})


@dataclass(frozen=True)
class Coverage:
    """Where a spec's Secret and `default` ServiceAccount entry are, with their resourceVersions (namespace -> rv)."""

    secrets: dict[str, str]
    entries: dict[str, str]

    def complete(self, targets: list[str]) -> bool:
        return set(targets) <= self.secrets.keys() and set(targets) <= self.entries.keys()


def coverage(kube: KubeBackend, secret: str) -> Coverage:
    """Two cluster-wide LISTs (cheap enough to poll with hundreds of namespaces)."""
    secrets = {s["metadata"]["namespace"]: s["metadata"]["resourceVersion"]
               for s in kube.list("v1", "Secret", field_selector=f"metadata.name={secret}")}
    entries = {sa["metadata"]["namespace"]: sa["metadata"]["resourceVersion"]
               for sa in kube.list("v1", "ServiceAccount", field_selector="metadata.name=default")
               if any(e.get("name") == secret for e in sa.get("imagePullSecrets") or [])}
    return Coverage(secrets, entries)


def rewritten(before: Coverage, after: Coverage) -> list[str]:
    """Objects that were in place in `before` and were written again by `after` (a duplicate write)."""
    return [f"Secret {ns}" for ns, rv in before.secrets.items() if after.secrets.get(ns) != rv] + \
        [f"ServiceAccount {ns}" for ns, rv in before.entries.items() if after.entries.get(ns) != rv]


def written_twice(kube: KubeBackend, targets: list[str]) -> list[str]:
    """From the fake's request log: a Secret created, or a `default` ServiceAccount patched, other than exactly
    once in each target namespace, and every 409 on them (a write planned on a stale view)."""
    log = kube.request_log
    created = Counter(r.namespace for r in log.filter(method="POST", resource="secrets", status=201))
    patched = Counter(r.namespace for r in log.filter(method="PATCH", resource="serviceaccounts", status=200)
                      if r.name == "default")
    problems = [f"Secret in {ns} created {created[ns]} times" for ns in targets if created[ns] != 1]
    problems += [f"ServiceAccount in {ns} patched {patched[ns]} times" for ns in targets if patched[ns] != 1]
    return problems + [f"409 on {r.method} {r.path}" for r in log.filter(status=409)
                       if r.resource in ("secrets", "serviceaccounts")]  # (two candidates may race for the Lease)


# -- `regcred controller` processes ---------------------------------------------------------------------------

class ControllerProcess:
    """`python -m regcred controller` as a child process, JSON logs read by a thread with their arrival times."""

    def __init__(self, kubeconfig: Path, logfile: Path, *args: str) -> None:
        self.metrics_port = free_port()
        self.logfile = logfile
        self.lines: list[tuple[float, dict[str, Any]]] = []
        env = {**os.environ, "REG_PW": PASSWORD}
        env.pop("REGCRED_DEBUG", None)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "regcred", "controller", "--kubeconfig", str(kubeconfig), "--log-format",
             "json", "--metrics-bind-address", f"127.0.0.1:{self.metrics_port}", "--health-probe-bind-address",
             "0", *args], cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE, text=True)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        with self.logfile.open("a") as out:
            for line in self.proc.stderr:
                out.write(line)
                out.flush()
                try:
                    record = json.loads(line)
                except ValueError:
                    record = {"msg": line.strip()}
                self.lines.append((time.monotonic(), record if isinstance(record, dict) else {"msg": line}))

    def logged(self, msg: str) -> list[tuple[float, dict[str, Any]]]:
        return [(at, r) for at, r in list(self.lines) if r.get("msg") == msg]

    @property
    def identity(self) -> str | None:
        """The Lease identity, once this process has led."""
        found = self.logged("leading")
        return str(found[0][1].get("identity")) if found else None

    def writes(self) -> float:
        """Writes this process sent to the API so far, from its own /metrics (Lease renewals not counted)."""
        text = httpx.get(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=10).text
        return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                   if WRITE_SAMPLE.match(line))

    def kill(self) -> float:
        """SIGKILL (no goodbye, no lease release); the monotonic time it was sent."""
        at = time.monotonic()
        self.proc.kill()
        self.proc.wait(timeout=10)
        return at

    def end(self) -> int | None:
        """SIGTERM, then SIGKILL after 10 s; the exit code (None when it had to be killed)."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                return self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
                return None
        return self.proc.returncode

    def tail(self, n: int = 20) -> str:
        return "\n".join(json.dumps(r) for _, r in self.lines[-n:])

"""What the controller benchmarks share: a real kube-apiserver with an audit log, the controller as a process,
watches that timestamp what the API server shows, and the raw-write floor.

Not a benchmark itself (no `bench_` prefix: `./dev bench` does not run it). The requests are counted from the
outside by the API server's own audit log (every request, by user, verb, resource, namespace): a TCP proxy
cannot read TLS, and the audit log is what the server actually served. The controller and the floor each log in
as their own user, both bound to the same ClusterRole (cluster-admin), so they pay the same authorization.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.envtest import EnvtestCluster, free_port  # noqa: E402
from tests.support.kube import write_kubeconfig  # noqa: E402

Obj = dict[str, Any]
CRD = ROOT / "deploy" / "crd" / "registrycredential.yaml"
SPECS = "/apis/regcred.dev/v1alpha1/registrycredentials"
SOURCE_NS, SOURCE_NAME = "bench-source", "registry-password"
WRITES = frozenset({"create", "update", "patch", "delete", "deletecollection"})
KEY = ".dockerconfigjson"
MERGE = {"Content-Type": "application/merge-patch+json"}
PARAMS = {"fieldManager": "regcred"}  # what the controller sends with every write
AUDIT_POLICY = {"apiVersion": "audit.k8s.io/v1", "kind": "Policy", "omitStages": ["RequestReceived"],
                "rules": [{"level": "Metadata"}]}
SKIP = ("skipped: set KUBEBUILDER_ASSETS to a directory with kube-apiserver and etcd (e.g. /opt/envtest/bin); "
        "the controller benchmarks measure a real API server only")


def require_envtest() -> None:
    if not os.environ.get("KUBEBUILDER_ASSETS"):
        print(SKIP)
        sys.exit(0)


def ns_of(obj: Obj) -> str:
    return str((obj.get("metadata") or {}).get("namespace") or "")


def name_of(obj: Obj) -> str:
    return str((obj.get("metadata") or {}).get("name") or "")


class AuditedCluster(EnvtestCluster):
    """tests/support/envtest's control plane, with the audit log on (Metadata level: never a Secret's data)."""

    def __init__(self, workdir: Path) -> None:
        super().__init__(workdir)
        self.audit_path = workdir / "audit.log"

    def apiserver_args(self) -> list[str]:
        policy = self.workdir / "audit-policy.yaml"
        policy.write_text(yaml.safe_dump(AUDIT_POLICY))
        return [*super().apiserver_args(), f"--audit-policy-file={policy}", f"--audit-log-path={self.audit_path}"]

    def audit_offset(self) -> int:
        return self.audit_path.stat().st_size if self.audit_path.exists() else 0

    def audit_since(self, offset: int, user: str) -> list[Obj]:
        """`user`'s requests logged after `offset`: one record per request (a watch when it starts)."""
        out = []
        with self.audit_path.open("rb") as f:
            f.seek(offset)
            for line in f:
                ev = json.loads(line)
                if (ev.get("user") or {}).get("username") != user:
                    continue
                watch = ev.get("verb") == "watch"
                if ev.get("stage") == ("ResponseStarted" if watch else "ResponseComplete"):
                    out.append(ev)
        return out


def summarize(events: list[Obj]) -> Counter[str]:
    """'verb resource[/subresource]' -> count."""
    counts: Counter[str] = Counter()
    for ev in events:
        ref = ev.get("objectRef") or {}
        sub = f"/{ref['subresource']}" if ref.get("subresource") else ""
        counts[f"{ev.get('verb')} {ref.get('resource')}{sub}"] += 1
    return counts


@dataclass
class Bench:
    """A started cluster, the admin client, and a user each for the controller and the floor."""

    cluster: AuditedCluster
    admin: httpx.Client
    workdir: Path
    users: dict[str, tuple[str, Path]] = field(default_factory=dict)  # role -> (user name, kubeconfig)
    tokens: dict[str, str] = field(default_factory=dict)

    def user(self, role: str) -> tuple[str, Path]:
        if role not in self.users:
            name, token = self.cluster.allocate_user()
            binding = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
                       "metadata": {"name": f"bench-{role}"},
                       "subjects": [{"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": name}],
                       "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                                   "name": "cluster-admin"}}
            ok(self.admin.post("/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", json=binding))
            path = write_kubeconfig(self.workdir / f"kubeconfig-{role}", self.cluster.url, token,
                                    self.cluster.ca_data)
            self.users[role] = (name, path)
            self.tokens[role] = token
        return self.users[role]

    def client(self, role: str) -> httpx.Client:
        self.user(role)
        return self.cluster.client(self.tokens[role])


def fmt(counts: Any) -> str:
    return ", ".join(f"{k}: {v}" for k, v in sorted(counts.items())) or "none"


def ok(resp: httpx.Response) -> Obj:
    if resp.status_code >= 300:
        raise RuntimeError(f"{resp.request.method} {resp.request.url.path}: {resp.status_code} {resp.text[:300]}")
    body: Obj = resp.json()
    return body


@contextmanager
def started_cluster() -> Iterator[Bench]:
    with tempfile.TemporaryDirectory(prefix="regcred-bench-") as tmp:
        cluster = AuditedCluster(Path(tmp))
        started = time.perf_counter()
        cluster.start()
        print(f"kube-apiserver + etcd ready in {time.perf_counter() - started:.1f} s ({cluster.assets})")
        admin = cluster.client()
        try:
            crd = yaml.safe_load(CRD.read_text())
            ok(admin.post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", json=crd))
            while admin.get(SPECS).status_code != 200:
                time.sleep(0.1)
            yield Bench(cluster, admin, Path(tmp))
        finally:
            admin.close()
            cluster.stop()


def create_source_secret(admin: httpx.Client, password: str) -> None:
    ok(admin.post("/api/v1/namespaces", json={"metadata": {"name": SOURCE_NS}}))
    ok(admin.post(f"/api/v1/namespaces/{SOURCE_NS}/secrets", json={
        "metadata": {"name": SOURCE_NAME}, "stringData": {"password": password}}))


def rotate_source(admin: httpx.Client, password: str) -> None:
    ok(admin.patch(f"/api/v1/namespaces/{SOURCE_NS}/secrets/{SOURCE_NAME}",
                   json={"stringData": {"password": password}},
                   headers={"Content-Type": "application/merge-patch+json"}))


def spec_body(name: str, selector: dict[str, str]) -> Obj:
    """One spec: one registry whose password is a key of the source Secret; namespaces by label."""
    return {"apiVersion": "regcred.dev/v1alpha1", "kind": "RegistryCredential", "metadata": {"name": name},
            "spec": {"registries": [{"server": "registry.bench.example", "username": "puller",
                                     "passwordFrom": {"secretKeyRef": {"namespace": SOURCE_NS, "name": SOURCE_NAME,
                                                                       "key": "password"}}}],
                     "namespaces": {"selector": {"matchLabels": selector}}}}


def create_namespaces(admin: httpx.Client, names: list[str], labels: dict[str, str], workers: int = 8,
                      ) -> dict[str, Obj]:
    """Namespaces and their `default` ServiceAccount (as kube-controller-manager would): ns -> the SA."""
    def one(ns: str) -> tuple[str, Obj]:
        ok(admin.post("/api/v1/namespaces", json={"metadata": {"name": ns, "labels": labels}}))
        return ns, ensure_default_sa(admin, ns)
    with ThreadPoolExecutor(workers) as pool:
        return dict(pool.map(one, names))


def ensure_default_sa(admin: httpx.Client, ns: str) -> Obj:
    """Create the `default` ServiceAccount (kube-controller-manager's job) unless something else did: it."""
    resp = admin.post(f"/api/v1/namespaces/{ns}/serviceaccounts", json={"metadata": {"name": "default"}})
    if resp.status_code == 409:
        return ok(admin.get(f"/api/v1/namespaces/{ns}/serviceaccounts/default"))
    return ok(resp)


class Watch:
    """A watch from the benchmark (admin), every event handed to `on_event(type, obj, monotonic time)`."""

    def __init__(self, client: httpx.Client, path: str, on_event: Callable[[str, Obj, float], None],
                 params: dict[str, str] | None = None) -> None:
        self.client, self.path, self.on_event, self.params = client, path, on_event, params or {}
        self.stop = threading.Event()
        listing = ok(client.get(path, params=self.params))
        now = time.monotonic()
        for item in listing.get("items") or []:
            on_event("ADDED", item, now)
        self.rv = str(listing["metadata"]["resourceVersion"])
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stop.is_set():
            params = {**self.params, "watch": "1", "resourceVersion": self.rv, "timeoutSeconds": "30",
                      "allowWatchBookmarks": "true"}
            try:
                with self.client.stream("GET", self.path, params=params, timeout=None) as resp:
                    for line in resp.iter_lines():
                        if not line:
                            continue
                        now = time.monotonic()
                        ev = json.loads(line)
                        obj = ev.get("object") or {}
                        self.rv = str((obj.get("metadata") or {}).get("resourceVersion") or self.rv)
                        if ev.get("type") in ("ADDED", "MODIFIED", "DELETED"):
                            self.on_event(ev["type"], obj, now)
            except (httpx.HTTPError, ValueError):
                if not self.stop.is_set():
                    time.sleep(0.1)

    def close(self) -> None:
        self.stop.set()


class Convergence:
    """When each namespace of `names` was seen with the spec's Secret (matching `secret_ok`) and, if asked,
    its `default` ServiceAccount listing it; fed by two Watches."""

    def __init__(self, names: set[str], secret: str, *, secret_ok: Callable[[Obj], bool] = lambda _: True,
                 need_sa: bool = True) -> None:
        self.names, self.secret, self.secret_ok, self.need_sa = names, secret, secret_ok, need_sa
        self.secret_at: dict[str, float] = {}
        self.sa_at: dict[str, float] = {}
        self.sa_seen: dict[str, float] = {}  # when the `default` ServiceAccount itself first showed up
        self.cond = threading.Condition()

    def on_secret(self, kind: str, obj: Obj, now: float) -> None:
        ns = ns_of(obj)
        if kind != "DELETED" and ns in self.names and name_of(obj) == self.secret and self.secret_ok(obj):
            with self.cond:
                self.secret_at.setdefault(ns, now)
                self.cond.notify_all()

    def on_sa(self, kind: str, obj: Obj, now: float) -> None:
        ns = ns_of(obj)
        entries = [e.get("name") for e in obj.get("imagePullSecrets") or [] if isinstance(e, dict)]
        if kind != "DELETED" and ns in self.names and name_of(obj) == "default":
            with self.cond:
                self.sa_seen.setdefault(ns, now)
                if self.secret in entries:
                    self.sa_at.setdefault(ns, now)
                    self.cond.notify_all()

    def done_at(self, ns: str) -> float | None:
        s = self.secret_at.get(ns)
        if not self.need_sa:
            return s
        a = self.sa_at.get(ns)
        return None if s is None or a is None else max(s, a)

    def done(self) -> int:
        return sum(1 for ns in self.names if self.done_at(ns) is not None)

    def wait(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self.cond:
            while self.done() < len(self.names):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.cond.wait(min(left, 1.0))
        return True

    def last(self) -> float:
        return max(t for t in (self.done_at(ns) for ns in self.names) if t is not None)


def unowned(body: Any) -> Any:
    """The controller's body with its ownership marks renamed (same length): a controller started later must not
    take the floor's objects for its own and clean them up."""
    text = json.dumps(body).replace("regcred.dev/", "bench.floor/").replace("/managed-by", "/floored-by")
    return json.loads(text)


def watch_both(admin: httpx.Client, conv: Convergence, owner: str = "managed-by") -> list[Watch]:
    """Watches of the Secrets (regcred's, or the floor's `floored-by` ones) and ServiceAccounts feeding `conv`."""
    return [Watch(admin, "/api/v1/secrets", conv.on_secret, {"labelSelector": f"app.kubernetes.io/{owner}=regcred"}),
            Watch(admin, "/api/v1/serviceaccounts", conv.on_sa)]


class Controller:
    """`regcred controller` as its own process (its own interpreter and GIL, as in a pod)."""

    def __init__(self, kubeconfig: Path, workers: int, extra: list[str], log: Path) -> None:
        self.metrics_port, probe = free_port(), free_port()
        args = [sys.executable, "-m", "regcred", "controller", "--kubeconfig", str(kubeconfig),
                "--workers", str(workers), "--metrics-bind-address", f"127.0.0.1:{self.metrics_port}",
                "--health-probe-bind-address", f"127.0.0.1:{probe}", "--log-level", "warning", *extra]
        self.started = time.monotonic()
        with log.open("ab") as out:
            self.proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self.log, self.probe = log, probe

    def wait_ready(self, timeout: float = 120) -> float:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the controller exited {self.proc.returncode}:\n{self.log.read_text()[-2000:]}")
            try:
                if httpx.get(f"http://127.0.0.1:{self.probe}/readyz", timeout=1).status_code == 200:
                    return time.monotonic() - self.started
            except (OSError, httpx.HTTPError):
                pass
            time.sleep(0.05)
        raise RuntimeError("the controller was not ready in time")

    def api_requests(self) -> Counter[str]:
        """The controller's own metric: regcred_api_requests_total by verb (all codes)."""
        text = httpx.get(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5).text
        counts: Counter[str] = Counter()
        for line in text.splitlines():
            if line.startswith("regcred_api_requests_total{"):
                labels, value = line.rsplit(" ", 1)
                verb = labels.split('verb="', 1)[1].split('"', 1)[0]
                counts[verb] += int(float(value))
        return counts

    def reconcile_totals(self) -> tuple[float, float]:
        """How many reconciles ran so far and their summed seconds (the controller's own histogram)."""
        text = httpx.get(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5).text
        values = {line.split(" ")[0]: float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                  if line.startswith("regcred_reconcile_duration_seconds_")}
        return (values.get("regcred_reconcile_duration_seconds_count", 0.0),
                values.get("regcred_reconcile_duration_seconds_sum", 0.0))

    def reconciles(self, since: tuple[float, float] = (0.0, 0.0)) -> str:
        """How many reconciles ran (after `since`, an earlier `reconcile_totals`) and their mean duration."""
        count, total = (now - before for now, before in zip(self.reconcile_totals(), since, strict=True))
        return f"{count:.0f} reconciles, {total / max(1.0, count) * 1000:.1f} ms each on average"

    def cpu_seconds(self) -> float:
        """The process's CPU time so far (user + system, from /proc)."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def pause(self) -> None:
        """Stop the process where it stands (SIGSTOP): it keeps its memory and connections but uses no CPU."""
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        self.proc.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def floor_sample(admin: httpx.Client, namespace: str, name: str) -> Obj:
    """The Secret the controller wrote in `namespace` as a body for the floor's own: the same type, data, labels
    and annotations, its ownership marks renamed (`unowned`)."""
    made = ok(admin.get(f"/api/v1/namespaces/{namespace}/secrets/{name}"))
    meta = made["metadata"]
    sample: Obj = unowned({"apiVersion": "v1", "kind": "Secret", "type": made["type"], "data": made["data"],
                           "metadata": {"name": name, "labels": meta.get("labels") or {},
                                        "annotations": meta.get("annotations") or {}}})
    return sample


def floor_patches(b: Bench, versions: dict[str, str], name: str, data: str, workers: int) -> float:
    """The floor of a rotation: one conditional merge patch of the data of each floor Secret `name` (`versions`:
    namespace -> its resourceVersion, updated for the next round), by `workers` threads of the floor's user."""
    def job(ns: str) -> Callable[[httpx.Client], None]:
        def run(client: httpx.Client) -> None:
            body = {"metadata": {"resourceVersion": versions[ns]}, "data": {KEY: data}}
            made = ok(client.patch(f"/api/v1/namespaces/{ns}/secrets/{name}", params=PARAMS, json=body,
                                   headers=MERGE))
            versions[ns] = made["metadata"]["resourceVersion"]
        return run

    return floor(lambda: b.client("floor"), [job(ns) for ns in list(versions)], workers)


def floor(client_for: Callable[[], httpx.Client], jobs: list[Callable[[httpx.Client], None]], workers: int) -> float:
    """Seconds for `jobs` (each a few plain requests) run by `workers` threads, one keep-alive client each."""
    local = threading.local()
    clients: list[httpx.Client] = []

    def run(job: Callable[[httpx.Client], None]) -> None:
        if not hasattr(local, "client"):
            local.client = client_for()
            clients.append(local.client)
        job(local.client)

    started = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(run, jobs))
    seconds = time.perf_counter() - started
    for c in clients:
        c.close()
    return seconds


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]

"""A real kube-apiserver + etcd from ``$KUBEBUILDER_ASSETS`` (controller-runtime envtest style).

Why: acceptance runs the product's cluster scenarios against a real control plane; this tier
runs the same tests locally when the binaries are present. Unlike stock envtest the
ServiceAccount admission plugin stays ON (the product depends on its behaviour) and, as there
is no kube-controller-manager, the harness creates the ``default`` ServiceAccounts itself.
Restricted identities come from a static ``--token-auth-file`` pool bound through real RBAC.
"""

from __future__ import annotations

import base64
import os
import secrets
import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx

from tests.support.kube import KubeBackend, KubeError, RuleLike, to_rules, write_kubeconfig

POOL_SIZE = 200
SYSTEM_NAMESPACES = ("default", "kube-node-lease", "kube-public", "kube-system")
RBAC = "/apis/rbac.authorization.k8s.io/v1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _write_pki(certdir: Path) -> None:
    """The CA and serving cert for 127.0.0.1/localhost (shared with every local server), and the SA signing key pair."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    from regcred.localregistry.tls import generate_pki

    generate_pki("kube-apiserver").write(certdir, ca="ca.crt", cert="apiserver.crt", key="apiserver.key")
    sa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    (certdir / "sa.key").write_bytes(sa_key.private_bytes(serialization.Encoding.PEM,
                                                          serialization.PrivateFormat.TraditionalOpenSSL,
                                                          serialization.NoEncryption()))
    (certdir / "sa.pub").write_bytes(sa_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))


class Process:
    """A child process with its output in a log file; stopped with SIGTERM then SIGKILL."""

    def __init__(self, name: str, args: list[str], workdir: Path) -> None:
        self.name, self.args = name, args
        self.log = workdir / f"{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(self.args, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def tail(self, n: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)


class Etcd:
    def __init__(self, binary: Path, workdir: Path) -> None:
        self.port, peer = free_port(), free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        data = workdir / "etcd-data"
        data.mkdir(parents=True, exist_ok=True)
        peer_url = f"http://127.0.0.1:{peer}"
        args = [str(binary), "--name=envtest", f"--data-dir={data}", f"--listen-client-urls={self.url}",
                f"--advertise-client-urls={self.url}", f"--listen-peer-urls={peer_url}",
                f"--initial-advertise-peer-urls={peer_url}", f"--initial-cluster=envtest={peer_url}"]
        if _has_flag(binary, "unsafe-no-fsync"):
            args.append("--unsafe-no-fsync=true")
        self.process = Process("etcd", args, workdir)

    def start(self, timeout: float = 30) -> None:
        self.process.start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.process.alive():
                raise RuntimeError(f"etcd exited:\n{self.process.tail()}")
            try:
                if httpx.get(self.url + "/health", timeout=1).json().get("health") == "true":
                    return
            except (httpx.HTTPError, ValueError):
                pass
            time.sleep(0.1)
        raise RuntimeError(f"etcd not healthy after {timeout}s:\n{self.process.tail()}")

    def stop(self) -> None:
        self.process.stop()


def _has_flag(binary: Path, flag: str) -> bool:
    try:
        out = subprocess.run([str(binary), "--help"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return f"--{flag}" in (out.stdout + out.stderr)


class EnvtestCluster:
    """etcd + kube-apiserver on loopback ports in ``workdir``; one per test session."""

    def __init__(self, workdir: Path, assets: str | None = None) -> None:
        self.assets = Path(assets or os.environ["KUBEBUILDER_ASSETS"])
        self.workdir = workdir
        self.certdir = workdir / "pki"
        self.certdir.mkdir(parents=True, exist_ok=True)
        self.admin_token = secrets.token_hex(16)
        self.pool = [(f"regcred-user-{i:02d}", secrets.token_hex(16)) for i in range(1, POOL_SIZE + 1)]
        self._next_user = 0
        self._lock = threading.Lock()
        self.port = free_port()
        self.url = f"https://127.0.0.1:{self.port}"
        self.etcd = Etcd(self.assets / "etcd", workdir)
        self.apiserver: Process | None = None
        self.baseline_namespaces: set[str] = set()

    @property
    def ca_file(self) -> Path:
        return self.certdir / "ca.crt"

    @property
    def ca_data(self) -> str:
        return base64.b64encode(self.ca_file.read_bytes()).decode()

    def ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca_file))

    def _token_file(self) -> Path:
        lines = [f'{self.admin_token},kubernetes-admin,uid-admin,"system:masters"']
        lines += [f"{tok},{name},uid-{name}" for name, tok in self.pool]
        path = self.certdir / "tokens.csv"
        path.write_text("\n".join(lines) + "\n")
        return path

    def apiserver_args(self) -> list[str]:
        c = self.certdir
        return [
            str(self.assets / "kube-apiserver"),
            "--advertise-address=127.0.0.1", "--bind-address=127.0.0.1", f"--secure-port={self.port}",
            f"--etcd-servers={self.etcd.url}", f"--cert-dir={c}",
            f"--tls-cert-file={c / 'apiserver.crt'}", f"--tls-private-key-file={c / 'apiserver.key'}",
            f"--client-ca-file={c / 'ca.crt'}", f"--token-auth-file={self._token_file()}",
            "--authorization-mode=RBAC", "--anonymous-auth=false", "--allow-privileged=true",
            "--service-cluster-ip-range=10.0.0.0/24",
            f"--service-account-issuer={self.url}/", f"--service-account-key-file={c / 'sa.pub'}",
            f"--service-account-signing-key-file={c / 'sa.key'}",
        ]

    def start(self, timeout: float = 90) -> None:
        for binary in ("etcd", "kube-apiserver"):
            if not (self.assets / binary).exists():
                raise RuntimeError(f"{self.assets / binary} not found (KUBEBUILDER_ASSETS)")
        _write_pki(self.certdir)
        self.etcd.start()
        self.apiserver = Process("kube-apiserver", self.apiserver_args(), self.workdir)
        self.apiserver.start()
        client = self.client()
        deadline = time.monotonic() + timeout
        try:
            while True:
                if not self.apiserver.alive():
                    raise RuntimeError(f"kube-apiserver exited:\n{self.apiserver.tail()}")
                try:
                    if client.get("/readyz").status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"kube-apiserver not ready after {timeout}s:\n{self.apiserver.tail()}")
                time.sleep(0.2)
            self._bootstrap(client, deadline)
        except BaseException:
            self.stop()
            raise
        finally:
            client.close()

    def _bootstrap(self, client: httpx.Client, deadline: float) -> None:
        """Wait for the system namespaces, then create their default SAs (no controller-manager)."""
        for ns in SYSTEM_NAMESPACES:
            while client.get(f"/api/v1/namespaces/{ns}").status_code != 200:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"namespace {ns} never appeared")
                time.sleep(0.2)
            body = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default"}}
            client.post(f"/api/v1/namespaces/{ns}/serviceaccounts", json=body)
        items = client.get("/api/v1/namespaces").json()["items"]
        self.baseline_namespaces = {i["metadata"]["name"] for i in items}

    def client(self, token: str | None = None) -> httpx.Client:
        return httpx.Client(base_url=self.url, verify=self.ssl_context(), timeout=30,
                            headers={"Authorization": f"Bearer {token or self.admin_token}"})

    def allocate_user(self) -> tuple[str, str]:
        with self._lock:
            if self._next_user >= len(self.pool):
                raise RuntimeError(f"envtest token pool exhausted ({POOL_SIZE} restricted users per session)")
            user = self.pool[self._next_user]
            self._next_user += 1
            return user

    def stop(self) -> None:
        if self.apiserver is not None:
            self.apiserver.stop()
        self.etcd.stop()
        shutil.rmtree(self.workdir / "etcd-data", ignore_errors=True)


class EnvtestBackend(KubeBackend):
    """KubeBackend over the session's real apiserver; cleans up its namespaces afterwards."""

    name = "envtest"
    supports_hooks = False

    def __init__(self, cluster: EnvtestCluster, workdir: Path) -> None:
        self.cluster = cluster
        self.rbac_objects: list[str] = []
        super().__init__(cluster.url, cluster.admin_token, workdir, verify=cluster.ssl_context(),
                         ca_data=cluster.ca_data)

    def kubeconfig_for(self, rules: Sequence[RuleLike]) -> Path:
        name, token = self.cluster.allocate_user()
        subject = [{"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": name}]
        first: tuple[str, str, str, str] | None = None
        for i, rule in enumerate(to_rules(rules)):
            role = f"{name}-{i}"
            policies = rule.to_policies()
            if first is None and rule.verbs and rule.resources:
                group, res = rule.split_resources()[0]
                first = (rule.verbs[0], group, res, (rule.namespaces or ("",))[0])
            if rule.namespaces is None:
                self._rbac(f"{RBAC}/clusterroles", {"kind": "ClusterRole", "metadata": {"name": role},
                                                    "rules": policies})
                self._rbac(f"{RBAC}/clusterrolebindings", {
                    "kind": "ClusterRoleBinding", "metadata": {"name": role}, "subjects": subject,
                    "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role}})
                continue
            for ns in rule.namespaces:
                if self.get("v1", "Namespace", ns) is None:
                    self.create_namespace(ns)
                self._rbac(f"{RBAC}/namespaces/{ns}/roles", {"kind": "Role", "metadata": {"name": role},
                                                            "rules": policies})
                self._rbac(f"{RBAC}/namespaces/{ns}/rolebindings", {
                    "kind": "RoleBinding", "metadata": {"name": role}, "subjects": subject,
                    "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": role}})
        if first is not None:
            self._wait_allowed(token, *first)
        path = write_kubeconfig(self.workdir / f"kubeconfig-{name}", self.url, token, self.ca_data)
        self.users[path] = name
        return path

    def _rbac(self, collection: str, obj: dict[str, Any]) -> None:
        obj["apiVersion"] = "rbac.authorization.k8s.io/v1"
        self._ok(self.request("POST", collection, json=obj))
        self.rbac_objects.append(f"{collection}/{obj['metadata']['name']}")

    def _wait_allowed(self, token: str, verb: str, group: str, resource: str, ns: str,
                      timeout: float = 10) -> None:
        """RBAC is served from an informer cache: wait until the new binding is visible."""
        base, _, sub = resource.partition("/")
        group = "" if group == "*" else group
        review = {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
                  "spec": {"resourceAttributes": {"verb": verb if verb != "*" else "get", "group": group,
                                                  "resource": base if base != "*" else "pods",
                                                  "subresource": sub, "namespace": ns}}}
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            resp = self.request("POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", json=review,
                                token=token)
            if resp.status_code == 201 and resp.json().get("status", {}).get("allowed"):
                return
            time.sleep(0.05)

    def finish_namespace_deletion(self, name: str) -> bool:
        """Do the namespace controller's job: delete all content, then drop the finalizer."""
        self._purge_namespace(name)
        return self.get("v1", "Namespace", name) is None

    def _namespaced_collections(self) -> list[str]:
        out = []
        for gv_path in ["/api/v1"] + [f"/apis/{g['preferredVersion']['groupVersion']}"
                                     for g in self._ok(self.request("GET", "/apis"))["groups"]]:
            try:
                doc = self._ok(self.request("GET", gv_path))
            except KubeError:
                continue
            for r in doc.get("resources", []):
                if r.get("namespaced") and "/" not in r["name"] and {"list", "deletecollection"} <= set(r["verbs"]):
                    out.append(f"{gv_path}/namespaces/{{ns}}/{r['name']}")
        return out

    def _purge_namespace(self, ns: str) -> None:
        resp = self.request("DELETE", f"/api/v1/namespaces/{ns}")
        if resp.status_code == 404:
            return
        for coll in self._namespaced_collections():
            path = coll.format(ns=ns)
            listing = self.request("GET", path)
            if listing.status_code != 200:
                continue
            for item in listing.json().get("items", []):
                if item["metadata"].get("finalizers"):
                    self.request("PATCH", f"{path}/{item['metadata']['name']}", content=b'{"metadata":{"finalizers":null}}',
                                 content_type="application/merge-patch+json")
            self.request("DELETE", path, params={"gracePeriodSeconds": "0"})
        body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}, "spec": {"finalizers": []}}
        self.request("PUT", f"/api/v1/namespaces/{ns}/finalize", json=body)

    def cleanup(self) -> None:
        """Remove what the test left behind so fixed namespace names can be reused."""
        for path in reversed(self.rbac_objects):
            self.request("DELETE", path)
        items = self._ok(self.request("GET", "/api/v1/namespaces"))["items"]
        for item in items:
            name = item["metadata"]["name"]
            if name not in self.cluster.baseline_namespaces:
                self._purge_namespace(name)

"""FakeKube: an in-process kube-apiserver on 127.0.0.1 for tests, plus its test hooks.

Why in-process and over real HTTP: the product's real client library (lightkube/httpx) is
exercised end to end, while tests can seed state, inject faults and count requests.
"""

from __future__ import annotations

import base64
import contextlib
import re
import socket
import ssl
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from . import admission as adm
from .api import NAMESPACES, SERVICEACCOUNTS, Writer
from .auth import Authenticator, Rule, User
from .controllers import Options
from .crd import default_crd, established_status
from .decode import convert_secret
from .defaults import default_object
from .faults import Fault, Faults, Race
from .listwatch import Reader
from .request import ApiRequest, deep_copy
from .resources import ResourceType, lookup
from .router import WriteEvent
from .shapes import shape
from .store import Store
from .tls import Pki, shared_pki

BOOTSTRAP_NAMESPACES = ("default", "kube-node-lease", "kube-public", "kube-system")
# What kube-controller-manager (--use-service-account-credentials) creates in kube-system.
CONTROLLER_SERVICE_ACCOUNTS = (
    "attachdetach-controller", "bootstrap-signer", "certificate-controller", "clusterrole-aggregation-controller",
    "cronjob-controller", "daemon-set-controller", "deployment-controller", "disruption-controller",
    "endpoint-controller", "endpointslice-controller", "endpointslicemirroring-controller",
    "ephemeral-volume-controller", "expand-controller", "generic-garbage-collector", "horizontal-pod-autoscaler",
    "job-controller", "legacy-service-account-token-cleaner", "namespace-controller", "node-controller",
    "persistent-volume-binder", "pod-garbage-collector", "pv-protection-controller", "pvc-protection-controller",
    "replicaset-controller", "replication-controller", "resourcequota-controller", "root-ca-cert-publisher",
    "service-account-controller", "service-cidrs-controller", "service-controller", "statefulset-controller",
    "token-cleaner", "ttl-after-finished-controller", "ttl-controller", "validatingadmissionpolicy-status-controller",
)


@dataclass
class Record:
    """One served request, for assertions such as "at most 2 requests per namespace"."""

    method: str
    path: str
    query: dict[str, list[str]]
    content_type: str
    status: int
    verb: str
    resource: str
    namespace: str
    name: str
    user: str
    seconds: float


@dataclass
class RequestLog:
    records: list[Record] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, req: ApiRequest, code: int, seconds: float) -> None:
        # As in RequestInfo, /api/v1/namespaces/<name> counts as a request "in" namespace <name>.
        ns = req.namespace or (req.name if req.rt is not None and req.rt.plural == "namespaces" else "")
        rec = Record(req.method, req.path, req.query, req.content_type, code, req.verb,
                     req.rt.key if req.rt else "", ns, req.name, req.user.name if req.user else "", seconds)
        with self.lock:
            self.records.append(rec)

    def filter(self, method: str | None = None, path: str | None = None, status: int | None = None,
               verb: str | None = None, resource: str | None = None, namespace: str | None = None) -> list[Record]:
        """Records matching all given criteria; ``path`` is a regular expression (re.search)."""
        rx = re.compile(path) if path else None
        with self.lock:
            recs = list(self.records)
        return [r for r in recs if (method is None or r.method == method.upper())
                and (rx is None or rx.search(r.path)) and (status is None or r.status == status)
                and (verb is None or r.verb == verb) and (resource is None or r.resource == resource)
                and (namespace is None or r.namespace == namespace)]

    def count(self, method: str | None = None, path: str | None = None, status: int | None = None,
              verb: str | None = None, resource: str | None = None, namespace: str | None = None) -> int:
        return len(self.filter(method, path, status, verb, resource, namespace))

    def clear(self) -> None:
        with self.lock:
            self.records.clear()

    def counts(self) -> Counter[tuple[str, str]]:
        """Requests per (verb, resource), e.g. ``{("watch", "secrets"): 2}`` for "0 writes at idle" tests."""
        with self.lock:
            return Counter((r.verb, r.resource) for r in self.records)

    def __len__(self) -> int:
        return len(self.records)

    def __iter__(self) -> Iterator[Record]:
        with self.lock:
            return iter(list(self.records))


class FakeKube:
    """A faithful fake kube-apiserver (v1.36 behaviour) served over HTTP on 127.0.0.1."""

    def __init__(self, *, options: Options | None = None, admin_token: str | None = None,
                 bootstrap: bool = True, controller_service_accounts: bool = False, tls: bool = False,
                 host: str = "127.0.0.1", port: int = 0, **overrides: Any) -> None:
        self.options = options or Options(**overrides)
        self.store = Store()
        self.writer = Writer(self.store, self.options)
        self.reader = Reader(self.store, self.options.too_large_rv_wait, self.options.bookmark_period)
        self.auth = Authenticator()
        self.admin: User = self.auth.add("kubernetes-admin", None, admin_token or uuid.uuid4().hex,
                                         groups=("system:masters",))
        self.faults = Faults()
        self.grants: dict[str, list[Rule]] = {}  # rules for identities minted later (SA tokens)
        self.request_log = RequestLog()
        self.before_write: Callable[[WriteEvent], None] | None = None
        self.flowschema_uid = str(uuid.uuid4())
        self.prioritylevel_uid = str(uuid.uuid4())
        self.host, self.port = host, port
        self.pki: Pki | None = shared_pki() if tls else None
        self._server: Any = None
        self._thread: threading.Thread | None = None
        if bootstrap:
            for ns in BOOTSTRAP_NAMESPACES:
                self.seed({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
        if controller_service_accounts:
            for name in CONTROLLER_SERVICE_ACCOUNTS:
                self.seed({"apiVersion": "v1", "kind": "ServiceAccount",
                           "metadata": {"name": name, "namespace": "kube-system"}})

    # -- lifecycle -------------------------------------------------------------
    def start(self) -> FakeKube:
        from .handler import KubeHTTPServer

        ctx = self.pki.server_context() if self.pki is not None else None
        self._server = KubeHTTPServer((self.host, self.port), self, ctx)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"fakekube:{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.writer.webhooks.close()
        with self.store.cond:
            self.store.stopped = True
            self.store.cond.notify_all()
        if self._server is not None:
            self._server.shutdown()
            for conn in list(self._server.connections):
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeKube:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return f"{'https' if self.pki else 'http'}://{self.host}:{self.port}"

    @property
    def ca_data(self) -> str | None:
        """base64 CA bundle for kubeconfig ``certificate-authority-data`` (None without TLS)."""
        return base64.b64encode(self.pki.ca_pem).decode() if self.pki else None

    def ssl_context(self) -> ssl.SSLContext | bool:
        """What an httpx client needs to verify this server."""
        if self.pki is None:
            return True
        return ssl.create_default_context(cadata=self.pki.ca_pem.decode())

    # -- identities ------------------------------------------------------------
    def add_user(self, rules: Iterable[Rule] | None, name: str | None = None, token: str | None = None,
                 groups: Iterable[str] = ()) -> User:
        """Register a bearer token; ``rules=None`` makes a cluster-admin."""
        return self.auth.add(name, rules, token, groups)

    def grant(self, username: str, rules: Iterable[Rule]) -> None:
        """Give an identity (e.g. ``system:serviceaccount:ns:name``) rules, like an RBAC binding."""
        rules = list(rules)
        self.grants[username] = rules
        for user in list(self.auth.users.values()):
            if user.name == username:
                user.rules = tuple(rules)

    def write_kubeconfig(self, path: Path, user: User | None = None, namespace: str | None = None) -> Path:
        user = user or self.admin
        context: dict[str, Any] = {"cluster": "test", "user": "test"}
        if namespace:
            context["namespace"] = namespace
        doc = {"apiVersion": "v1", "kind": "Config", "preferences": {},
               "clusters": [{"name": "test", "cluster": {"server": self.url, **(
                   {"certificate-authority-data": self.ca_data} if self.pki else {})}}],
               "users": [{"name": "test", "user": {"token": user.token}}],
               "contexts": [{"name": "test", "context": context}], "current-context": "test"}
        path.write_text(yaml.safe_dump(doc, sort_keys=False))
        return path

    # -- test hooks ------------------------------------------------------------
    def fail_next(self, method: str, path_regex: str, status: int, *, times: int = 1, message: str | None = None,
                  reason: str | None = None, retry_after: int | None = None, apply: bool = False) -> None:
        """Answer the next ``times`` matching requests with ``status``.

        ``apply=True`` lets the request take effect first and only replaces the response
        (a lost reply after a committed write).
        """
        self.faults.items.append(Fault(method.upper(), re.compile(path_regex), status, times, message, reason,
                                       retry_after, apply))

    def fail(self, verb: str | None, resource: str | None, status: int, *, times: int = 1, name: str | None = None,
             retry_after: int | None = None, message: str | None = None, reason: str | None = None,
             apply: bool = False) -> None:
        """Answer the next ``times`` requests with this verb (get/list/watch/create/update/patch/delete)
        on this resource (plural ``secrets`` or ``leases.coordination.k8s.io``; None: any) with ``status``.

        429 carries ``Retry-After`` (default 1 s) and ``details.retryAfterSeconds`` as the apiserver's
        max-in-flight filter does; ``apply=True`` commits the write and only loses the answer.
        """
        self.faults.items.append(Fault("*", None, status, times, message, reason, retry_after, apply,
                                       verb=verb, resource=resource, name=name))

    def race_next(self, verb: str | None, resource: str | None, *, name: str | None = None, times: int = 1,
                  mutate: Callable[[dict[str, Any]], None] | None = None) -> None:
        """Before the next matching write, another writer changes the stored object (a new
        resourceVersion), so a write carrying the old resourceVersion answers 409 Conflict.

        ``mutate`` edits a copy of the stored object in place (default: bump the annotation
        ``fakekube.test/concurrent-writes``); it is the other writer's change.
        """
        self.faults.races.append(Race(verb, resource, name, times, mutate))

    def concurrent_write(self, rt: ResourceType, namespace: str, name: str,
                         mutate: Callable[[dict[str, Any]], None] | None = None) -> None:
        """Write the object behind the API's back (as another client), with a new resourceVersion."""
        with self.store.lock:
            cur = self.store.get(rt, namespace if rt.namespaced else "", name)
            if cur is None:
                return
            new = deep_copy(cur.obj)
            if mutate is not None:
                mutate(new)
            else:
                notes = new["metadata"].setdefault("annotations", {})
                notes["fakekube.test/concurrent-writes"] = str(int(notes.get("fakekube.test/concurrent-writes", 0)) + 1)
            self.store.put(rt, shape(rt, new), "MODIFIED")

    def drop_watches(self, resource: str | None = None) -> None:
        """Cut every open watch on ``resource`` (a store key such as ``secrets``; None: all) mid-stream:
        the connection closes without the chunked stream's end, as when an apiserver or LB dies."""
        key = "*" if resource is None else resource
        with self.store.cond:
            self.store.drops[key] = self.store.drops.get(key, 0) + 1
            self.store.cond.notify_all()

    def install_crd(self, crd: dict[str, Any] | Path) -> dict[str, Any]:
        """Create a CustomResourceDefinition already Established (its resource served at once).

        Creating one through the API (POST .../customresourcedefinitions) is served only after
        ``Options.crd_establish_delay``, as on a real apiserver.
        """
        doc = yaml.safe_load(crd.read_text()) if isinstance(crd, Path) else deep_copy(crd)
        default_crd(doc)
        doc["status"] = established_status(doc)
        stored = self.seed(doc)
        self.writer.crds.register(stored)
        return stored

    def lookup(self, api_version: str, kind: str) -> ResourceType:
        """A built-in or served custom resource type (KeyError when not served)."""
        rt = self.writer.crds.by_kind(api_version, kind)
        return rt if rt is not None else lookup(api_version, kind)

    def seed(self, obj: dict[str, Any], *, defaults: bool = True, ensure_namespace: bool = True) -> dict[str, Any]:
        """Store an object directly (no admission/validation), as if it had been created earlier."""
        rt = self.lookup(obj["apiVersion"], obj["kind"])
        new = deep_copy(obj)
        meta = new.setdefault("metadata", {})
        with self.store.lock:
            if rt.namespaced:
                meta.setdefault("namespace", "default")
                if ensure_namespace and self.store.get(NAMESPACES, "", meta["namespace"]) is None:
                    self.seed({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": meta["namespace"]}})
            uid = meta.get("uid") or adm.new_uid()
            if rt.kind == "Secret":
                convert_secret(new)
            if defaults:
                default_object(rt, new, creating=True)
            meta["uid"] = uid
            meta.setdefault("creationTimestamp", adm.now())
            if rt.has_generation:
                meta.setdefault("generation", 1)
            meta.pop("resourceVersion", None)
            existing = self.store.get(rt, meta.get("namespace", ""), meta["name"])
            entry = self.store.put(rt, shape(rt, new), "MODIFIED" if existing else "ADDED")
            if (rt is NAMESPACES and existing is None and self.options.auto_default_sa
                    and self.store.get(SERVICEACCOUNTS, meta["name"], "default") is None):
                self.store.put(SERVICEACCOUNTS, adm.default_service_account(meta["name"]), "ADDED")
            return deep_copy(entry.obj)

    def get_object(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> dict[str, Any] | None:
        rt = self.lookup(api_version, kind)
        with self.store.lock:
            entry = self.store.get(rt, (namespace or "default") if rt.namespaced else "", name)
            return None if entry is None else deep_copy(entry.obj)

    def finish_namespace_deletion(self, name: str) -> bool:
        """Run the namespace controller for ``name`` (it must be Terminating)."""
        return self.writer.controllers.finish_namespace_deletion(name)

    def compact(self, *, restart: bool = False) -> int:
        """Compact history: lists/watches at older revisions then answer 410.

        ``restart=True`` also forgets list snapshots, as an apiserver restart does (old
        continue tokens then answer 410 too).
        """
        return self.store.compact(restart=restart)

    @property
    def resource_version(self) -> int:
        return self.store.rv

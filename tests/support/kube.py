"""One backend API for the Kubernetes tier: the in-process fake, or a real apiserver (envtest).

Why: product tests run the SAME scenarios on both; acceptance re-runs them against a real
kube-apiserver, so helpers here only use what both backends can do over HTTP, and the fake's
extra hooks (request log, before_write, fail_next, seed) are flagged by ``supports_hooks``.

Fixtures: ``kube`` (params fake, envtest; envtest skips without KUBEBUILDER_ASSETS),
``fake_kube`` (fake only), ``envtest_cluster`` (session). Backend API (admin, over HTTP):
``create(obj, dry_run=False)``, ``get(api_version, kind, name, namespace=None)`` -> dict | None,
``list(api_version, kind, namespace=None, label_selector=, field_selector=)``, ``replace(obj)``,
``update_status(obj)``, ``patch(api_version, kind, name, patch, namespace=None, patch_type=
"merge"|"strategic"|"json"|"apply", field_manager=, force=)``, ``delete(..., missing_ok=True)``,
``request(method, path, json=, content=, content_type=, params=, token=)``,
``create_namespace(name, labels=None, default_sa=True)``, ``ensure_default_sa(ns)``,
``terminate_namespace(name)``, ``finish_namespace_deletion(name)``, ``kubeconfig_for(rules)``
(RBAC PolicyRule dicts with an optional ``namespaces`` list, or ``Rule`` objects),
``username_of(kubeconfig)``, ``unique_ns(prefix)``, ``install_crd(path)`` (served when it returns); attributes ``name``, ``kubeconfig``, ``url``,
``supports_hooks``. Fake only: ``request_log``, ``before_write(hook)``, ``fail_next(...)``,
``seed(obj)``, ``get_object(...)``, ``server`` (the FakeKube: faults, races, dropped watches,
``request_log.counts()``; docs/development/tests.md). Errors raise ``KubeError``.
"""

from __future__ import annotations

import itertools
import json as jsonlib
import os
import secrets
import ssl
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.support.fakekube import FakeKube, Rule, WriteEvent
from tests.support.fakekube.crd import resource_type
from tests.support.fakekube.resources import ResourceType, lookup

ENVTEST_SKIP = "KUBEBUILDER_ASSETS not set: envtest tier skipped; see docs/development/tests.md"
_counter = itertools.count(1)
RuleLike = Rule | dict[str, Any]


class KubeError(Exception):
    """A non-2xx answer: ``status`` code and the decoded Status ``body``."""

    def __init__(self, status: int, body: Any, method: str, path: str) -> None:
        self.status = status
        self.body = body if isinstance(body, dict) else {"message": str(body)}
        self.reason = self.body.get("reason", "")
        super().__init__(f"{method} {path}: {status} {self.reason}: {self.body.get('message', '')}")


def unique_ns(prefix: str = "t") -> str:
    """A namespace name unique in this session (envtest shares one apiserver across tests)."""
    suffix = f"-{next(_counter)}-{secrets.token_hex(2)}"
    return (prefix[: 63 - len(suffix)] + suffix).lower()


def to_rules(rules: Sequence[RuleLike]) -> list[Rule]:
    return [r if isinstance(r, Rule) else Rule.from_policy(r) for r in rules]


# Custom resource types the tests installed (install_crd): URL paths for the object helpers.
CUSTOM_TYPES: dict[tuple[str, str], ResourceType] = {}


def api_path(api_version: str, kind: str, namespace: str | None = None, name: str | None = None) -> str:
    rt = CUSTOM_TYPES.get((api_version, kind)) or lookup(api_version, kind)
    base = f"/api/{rt.version}" if not rt.group else f"/apis/{rt.group}/{rt.version}"
    if rt.namespaced and namespace:
        base += f"/namespaces/{namespace}"
    base += f"/{rt.plural}"
    return base + (f"/{name}" if name else "")


def write_kubeconfig(path: Path, server: str, token: str, ca_data: str | None = None,
                     namespace: str | None = None) -> Path:
    cluster: dict[str, Any] = {"server": server}
    if ca_data:
        cluster["certificate-authority-data"] = ca_data
    context: dict[str, Any] = {"cluster": "test", "user": "test"}
    if namespace:
        context["namespace"] = namespace
    doc = {"apiVersion": "v1", "kind": "Config", "preferences": {}, "current-context": "test",
           "clusters": [{"name": "test", "cluster": cluster}], "users": [{"name": "test", "user": {"token": token}}],
           "contexts": [{"name": "test", "context": context}]}
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


class KubeBackend:
    """Admin access over HTTP plus the fixtures' helpers; subclasses: FakeBackend, EnvtestBackend."""

    name = "base"
    supports_hooks = False

    def __init__(self, url: str, token: str, workdir: Path, verify: ssl.SSLContext | bool = True,
                 ca_data: str | None = None) -> None:
        self.url, self.token, self.workdir, self.ca_data = url, token, workdir, ca_data
        workdir.mkdir(parents=True, exist_ok=True)
        self.kubeconfig = write_kubeconfig(workdir / "kubeconfig", url, token, ca_data)
        self.http = httpx.Client(base_url=url, verify=verify, timeout=30,
                                 headers={"Authorization": f"Bearer {token}", "Accept": "application/json",
                                          "User-Agent": "regcred-tests/0.1"})
        self.users: dict[Path, str] = {}
        self.namespaces: list[str] = []

    def close(self) -> None:
        self.http.close()

    # -- raw HTTP ----------------------------------------------------------------
    def request(self, method: str, path: str, *, json: Any = None, content: bytes | str | None = None,
                content_type: str | None = None, params: dict[str, Any] | None = None,
                token: str | None = None) -> httpx.Response:
        headers = {}
        if content_type:
            headers["Content-Type"] = content_type
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return self.http.request(method, path, json=json, content=content, params=params, headers=headers)

    def _ok(self, resp: httpx.Response) -> Any:
        if resp.status_code >= 300:
            try:
                body = resp.json()
            except ValueError:
                body = resp.text
            raise KubeError(resp.status_code, body, resp.request.method, resp.request.url.path)
        return resp.json()

    # -- object helpers (admin) -------------------------------------------------
    def create(self, obj: dict[str, Any], *, dry_run: bool = False) -> dict[str, Any]:
        meta = obj.get("metadata") or {}
        path = api_path(obj["apiVersion"], obj["kind"], meta.get("namespace") or "default")
        resp = self.request("POST", path, json=obj, params={"dryRun": "All"} if dry_run else None)
        out = self._ok(resp)
        if obj["kind"] == "Namespace" and not dry_run:
            self.namespaces.append(meta["name"])
        return out

    def get(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> dict[str, Any] | None:
        resp = self.request("GET", api_path(api_version, kind, namespace or "default", name))
        if resp.status_code == 404:
            return None
        return self._ok(resp)

    def list(self, api_version: str, kind: str, namespace: str | None = None, *,
             label_selector: str | None = None, field_selector: str | None = None) -> list[dict[str, Any]]:
        params = {k: v for k, v in (("labelSelector", label_selector), ("fieldSelector", field_selector)) if v}
        return self._ok(self.request("GET", api_path(api_version, kind, namespace), params=params))["items"]

    def replace(self, obj: dict[str, Any]) -> dict[str, Any]:
        meta = obj["metadata"]
        path = api_path(obj["apiVersion"], obj["kind"], meta.get("namespace") or "default", meta["name"])
        return self._ok(self.request("PUT", path, json=obj))

    def update_status(self, obj: dict[str, Any]) -> dict[str, Any]:
        """PUT the status subresource (how controllers/kubelets report status)."""
        meta = obj["metadata"]
        path = api_path(obj["apiVersion"], obj["kind"], meta.get("namespace") or "default", meta["name"])
        return self._ok(self.request("PUT", path + "/status", json=obj))

    def patch(self, api_version: str, kind: str, name: str, patch: Any, namespace: str | None = None, *,
              patch_type: str = "merge", field_manager: str | None = None, force: bool = False) -> dict[str, Any]:
        """patch_type: merge | strategic | json | apply."""
        ctype = {"merge": "application/merge-patch+json", "strategic": "application/strategic-merge-patch+json",
                 "json": "application/json-patch+json", "apply": "application/apply-patch+yaml"}[patch_type]
        params: dict[str, Any] = {}
        if field_manager:
            params["fieldManager"] = field_manager
        if force:
            params["force"] = "true"
        body = patch if isinstance(patch, str | bytes) else jsonlib.dumps(patch)
        path = api_path(api_version, kind, namespace or "default", name)
        return self._ok(self.request("PATCH", path, content=body, content_type=ctype, params=params))

    def delete(self, api_version: str, kind: str, name: str, namespace: str | None = None, *,
               missing_ok: bool = True) -> None:
        resp = self.request("DELETE", api_path(api_version, kind, namespace or "default", name))
        if resp.status_code == 404 and missing_ok:
            return
        self._ok(resp)

    def install_crd(self, crd: Path | dict[str, Any], timeout: float = 30.0) -> dict[str, Any]:
        """Create a CustomResourceDefinition and wait until its resource is served (Established)."""
        doc = yaml.safe_load(crd.read_text()) if isinstance(crd, Path) else crd
        rt = resource_type(doc)
        CUSTOM_TYPES[(rt.api_version, rt.kind)] = rt
        resp = self.request("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", json=doc)
        if resp.status_code != 409:
            self._ok(resp)
        deadline = time.monotonic() + timeout
        while self.request("GET", f"/apis/{rt.group}/{rt.version}/{rt.plural}").status_code != 200:
            if time.monotonic() > deadline:
                raise TimeoutError(f"CRD {doc['metadata']['name']} not served after {timeout} s")
            time.sleep(0.05)
        return self._ok(self.request("GET", f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/"
                                            f"{doc['metadata']['name']}"))

    def create_namespace(self, name: str, labels: dict[str, str] | None = None, *, default_sa: bool = True) -> None:
        """Create a namespace and make sure its ``default`` ServiceAccount exists.

        ``default_sa=False`` leaves it without one (the window before kube-controller-manager
        creates it); ``ensure_default_sa`` closes the window later.
        """
        meta: dict[str, Any] = {"name": name}
        if labels:
            meta["labels"] = labels
        self._create_namespace({"apiVersion": "v1", "kind": "Namespace", "metadata": meta}, default_sa)
        if default_sa:
            self.ensure_default_sa(name)

    def _create_namespace(self, obj: dict[str, Any], default_sa: bool) -> None:
        self.create(obj)

    def ensure_default_sa(self, namespace: str) -> None:
        if self.get("v1", "ServiceAccount", "default", namespace) is None:
            try:
                self.create({"apiVersion": "v1", "kind": "ServiceAccount",
                             "metadata": {"name": "default", "namespace": namespace}})
            except KubeError as e:
                if e.status != 409:
                    raise

    def terminate_namespace(self, name: str) -> None:
        """DELETE the namespace and leave it Terminating (no namespace controller runs)."""
        self._ok(self.request("DELETE", f"/api/v1/namespaces/{name}"))

    def unique_ns(self, prefix: str = "t") -> str:
        return unique_ns(prefix)

    def kubeconfig_for(self, rules: Sequence[RuleLike]) -> Path:
        raise NotImplementedError

    def username_of(self, kubeconfig: Path) -> str:
        """The user name the apiserver sees for a kubeconfig from ``kubeconfig_for``."""
        return self.users[kubeconfig]

    # -- fake-only hooks ---------------------------------------------------------
    def _no_hooks(self) -> Any:
        pytest.skip(f"needs the fake API's hooks (backend {self.name})")

    @property
    def request_log(self) -> Any:
        return self._no_hooks()

    def before_write(self, hook: Callable[[WriteEvent], None] | None) -> None:
        self._no_hooks()

    def fail_next(self, method: str, path_regex: str, status: int, **kw: Any) -> None:
        self._no_hooks()

    def seed(self, obj: dict[str, Any]) -> dict[str, Any]:
        return self.create(obj)


class FakeBackend(KubeBackend):
    """The in-process FakeKube (fresh server per test)."""

    name = "fake"
    supports_hooks = True

    def __init__(self, server: FakeKube, workdir: Path) -> None:
        self.server = server
        super().__init__(server.url, server.admin.token, workdir, verify=server.ssl_context(), ca_data=server.ca_data)

    def _create_namespace(self, obj: dict[str, Any], default_sa: bool) -> None:
        options = self.server.options
        saved = options.auto_default_sa
        options.auto_default_sa = saved and default_sa
        try:
            self.create(obj)
        finally:
            options.auto_default_sa = saved

    def kubeconfig_for(self, rules: Sequence[RuleLike]) -> Path:
        user = self.server.add_user(to_rules(rules))
        path = write_kubeconfig(self.workdir / f"kubeconfig-{user.name}", self.url, user.token, self.ca_data)
        self.users[path] = user.name
        return path

    @property
    def request_log(self) -> Any:
        return self.server.request_log

    def before_write(self, hook: Callable[[WriteEvent], None] | None) -> None:
        """Call ``hook(event)`` before every write is applied (event.method/.path/.verb/...)."""
        self.server.before_write = hook

    def fail_next(self, method: str, path_regex: str, status: int, **kw: Any) -> None:
        self.server.fail_next(method, path_regex, status, **kw)

    def seed(self, obj: dict[str, Any]) -> dict[str, Any]:
        return self.server.seed(obj)

    def install_crd(self, crd: Path | dict[str, Any], timeout: float = 30.0) -> dict[str, Any]:
        stored = self.server.install_crd(crd)
        rt = resource_type(stored)
        CUSTOM_TYPES[(rt.api_version, rt.kind)] = rt
        return stored

    def get_object(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> dict[str, Any] | None:
        return self.server.get_object(api_version, kind, name, namespace)

    def finish_namespace_deletion(self, name: str) -> bool:
        return self.server.finish_namespace_deletion(name)


# -- fixtures ---------------------------------------------------------------------

def _fake_backend(tmp_path: Path) -> Iterator[FakeBackend]:
    server = FakeKube(tls=True).start()
    backend = FakeBackend(server, tmp_path / "fakekube")
    try:
        yield backend
    finally:
        backend.close()
        server.stop()


@pytest.fixture(scope="session")
def envtest_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One real kube-apiserver + etcd for the session (skips without KUBEBUILDER_ASSETS)."""
    if not os.environ.get("KUBEBUILDER_ASSETS"):
        pytest.skip(ENVTEST_SKIP)
    from tests.support.envtest import EnvtestCluster

    cluster = EnvtestCluster(tmp_path_factory.mktemp("envtest"))
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def fake_kube(tmp_path: Path) -> Iterator[FakeBackend]:
    """The in-process fake API only (tests that need its hooks)."""
    yield from _fake_backend(tmp_path)


@pytest.fixture(params=["fake", pytest.param("envtest", marks=pytest.mark.envtest)])
def kube(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[KubeBackend]:
    """The same scenario against the fake and, when available, a real kube-apiserver."""
    if request.param == "fake":
        yield from _fake_backend(tmp_path)
        return
    if not os.environ.get("KUBEBUILDER_ASSETS"):
        pytest.skip(ENVTEST_SKIP)
    cluster = request.getfixturevalue("envtest_cluster")
    from tests.support.envtest import EnvtestBackend

    backend = EnvtestBackend(cluster, tmp_path / "envtest")
    try:
        yield backend
    finally:
        backend.cleanup()
        backend.close()

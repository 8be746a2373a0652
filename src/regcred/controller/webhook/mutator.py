"""The webhook's handler: an AdmissionReview in, the answer out, from the controller's caches.

Why from the caches: a Pod CREATE waits for this answer, so the hot path reads only memory (the specs, the
namespace's labels, whether the Secret exists). The one exception is a namespace the caches have not seen yet
(a Pod created right after its namespace): its Namespace is read once, and its missing Secret is created
through the reconciler's own use case (`reconcile`, restricted to the Secret), within `deadline` seconds, on a
worker thread shared by concurrent requests for the same namespace. Past the deadline the Pod is still patched
(the Secret follows; the kubelet re-reads pull Secrets on every pull attempt). A dry-run request creates nothing.

Never raises: whatever goes wrong, the Pod is admitted unchanged, the error logged and counted. (The
registration's `failurePolicy: Ignore` covers a webhook that does not answer; an answer must still be valid.)
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Collection, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from functools import partial
from typing import Any, Protocol

from regcred.controller.cachedapi import Cache
from regcred.controller.reconciler import ReconcileResult, parse_spec, reconcile
from regcred.core.cluster.secretsync import is_managed
from regcred.core.errors import RegcredError
from regcred.core.objects import metadata
from regcred.core.webhook.patch import (
    Injection,
    opted_out,
    pull_secrets_patch,
    secrets_for,
    spec_registry_keys,
)
from regcred.core.webhook.review import (
    AdmissionRequest,
    BadReview,
    bad_request_body,
    parse_review,
    review_response,
)
from regcred.usecases.kubeapi import KubeApi, Obj
from regcred.usecases.rows import RowStatus

log = logging.getLogger("regcred.controller.webhook")
DEFAULT_DEADLINE = 2.0  # seconds for the cold path; the registration's timeoutSeconds is 3
COLD_WORKERS = 8  # new namespaces served at once; more wait their turn (still within the deadline)
ALWAYS_EXCLUDED = frozenset({"kube-system"})
REFUSED_MEMORY = 60.0  # seconds a Secret of another owner is remembered (not read again for every Pod)
Ensure = Callable[[str, str], ReconcileResult]  # (spec, namespace) -> what creating its Secret did


class AdmissionMetrics(Protocol):
    """What the mutator counts (ControllerMetrics has these methods)."""

    def observe_admission(self, result: str, seconds: float) -> None: ...

    def observe_secret_on_admission(self, outcome: str) -> None: ...


class _Snapshot:
    """The Injections of one version of the specs (and their sources), and which of them select a namespace."""

    def __init__(self, key: Any, injections: list[Injection], sources: list[tuple[str, str]]) -> None:
        self.key, self.injections, self.sources = key, injections, sources
        self._selecting: dict[tuple[str, frozenset[tuple[str, str]]], list[Injection]] = {}

    def selecting(self, namespace: str, labels: Mapping[str, str]) -> list[Injection]:
        """The Injections whose spec selects the namespace (memoised: one glob and selector pass per namespace)."""
        key = (namespace, frozenset(labels.items()))
        found = self._selecting.get(key)
        if found is None:
            found = [i for i in self.injections if i.targets(namespace, labels)]
            if len(self._selecting) > 10_000:
                self._selecting.clear()
            self._selecting[key] = found
        return found


class _Injections:
    """The specs as Injections, rebuilt only when a spec or a `fromSecret` source it reads changes.

    Per request only the (name, resourceVersion) of each cached spec and of each source is compared with the
    last build's; a spec is parsed once per resourceVersion.
    """

    def __init__(self, caches: Mapping[str, Cache]) -> None:
        self.caches = caches
        self._lock = threading.Lock()
        self._parsed: dict[tuple[str, str], Any] = {}  # (name, resourceVersion) -> spec, or None when invalid
        self._built = _Snapshot(None, [], [])

    def _spec(self, obj: Obj) -> Any:
        meta = metadata(obj)
        key = (str(meta.get("name")), str(meta.get("resourceVersion")))
        with self._lock:
            if key in self._parsed:
                return self._parsed[key]
        try:
            spec: Any = parse_spec(obj)
        except RegcredError as exc:
            log.warning("webhook ignores an invalid RegistryCredential", extra={"spec": key[0], "error": exc.line()})
            spec = None
        with self._lock:
            if len(self._parsed) > 4096:
                self._parsed.clear()
            self._parsed[key] = spec
        return spec

    def _source(self, namespace: str, name: str) -> Obj | None:
        return self.caches["Secret"].get(name, namespace)

    def _key(self, objs: list[Obj], sources: list[tuple[str, str]]) -> Any:
        return (tuple((m.get("name"), m.get("resourceVersion")) for m in map(metadata, objs)),
                tuple(metadata(self._source(*s) or {}).get("resourceVersion") for s in sources))

    def current(self) -> _Snapshot:
        objs = self.caches["RegistryCredential"].list()
        built = self._built
        if self._key(objs, built.sources) == built.key:
            return built
        live = [o for o in objs if not metadata(o).get("deletionTimestamp")]
        specs = sorted((s for s in map(self._spec, live) if s is not None), key=lambda s: str(s.name))
        sources = sorted({(r.from_secret.namespace, r.from_secret.name)
                          for spec in specs for r in spec.registries if r.from_secret is not None})
        snapshot = _Snapshot(self._key(objs, sources),
                             [Injection.of(spec, spec_registry_keys(spec, self._source)) for spec in specs], sources)
        with self._lock:
            self._built = snapshot
        return snapshot


class PodMutator:
    """`mutator(body) -> answer`: thread-safe, never raises (see the module docstring)."""

    def __init__(self, api: KubeApi, caches: Mapping[str, Cache], *, metrics: AdmissionMetrics | None = None,
                 namespaces: Collection[str] = (), excluded_namespaces: Collection[str] = (),
                 deadline: float = DEFAULT_DEADLINE, ensure: Ensure | None = None) -> None:
        self.api, self.caches, self.metrics, self.deadline = api, caches, metrics, deadline
        self.namespaces = frozenset(namespaces)  # empty: every namespace (the controller's --namespace)
        self.excluded = ALWAYS_EXCLUDED | frozenset(excluded_namespaces)
        self.ensure: Ensure = ensure or (lambda spec, ns: reconcile(api, caches, (spec, ns), kinds=("Secret",)))
        self._injections = _Injections(caches)
        self._pool = ThreadPoolExecutor(max_workers=COLD_WORKERS, thread_name_prefix="regcred-webhook-cold")
        self._lock = threading.Lock()
        self._inflight: dict[tuple[str, str], Future[Any]] = {}
        self._refused: dict[tuple[str, str], float] = {}  # (namespace, Secret) of another owner -> until when

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def __call__(self, body: bytes) -> bytes:
        started = time.monotonic()
        uid: str | None = None
        api_version = "admission.k8s.io/v1"
        try:
            request = parse_review(body)
            uid, api_version = request.uid, request.api_version
            result, patch = self._decide(request, started + self.deadline)
            answer = review_response(uid, patch, api_version=api_version)
        except BadReview as exc:
            log.warning("webhook got a body that is not an AdmissionReview", extra={"error": str(exc)})
            result, uid, api_version = "invalid", exc.uid, exc.api_version
            answer = review_response(uid, api_version=api_version) if uid else bad_request_body(str(exc))
        except Exception:  # a bug must never block a Pod: admitted unchanged
            log.exception("webhook failed; the Pod is admitted unchanged", extra={"uid": uid})
            result = "error"
            answer = review_response(uid, api_version=api_version) if uid else bad_request_body("internal error")
        self._count(result, time.monotonic() - started)
        return answer

    def _count(self, result: str, seconds: float) -> None:
        if self.metrics is not None:
            try:
                self.metrics.observe_admission(result, seconds)
            except Exception:  # metrics must not change an answer
                log.exception("webhook metrics failed")

    # --- the decision
    def _decide(self, request: AdmissionRequest, until: float) -> tuple[str, list[dict[str, Any]]]:
        """The result and the patch; the cold path (if any) ends by `until` (monotonic), whatever it still waits for."""
        pod = request.object
        namespace = request.namespace or str(metadata(pod).get("namespace") or "")
        if not request.is_pod_create or not namespace or namespace in self.excluded:
            return "skipped", []
        if self.namespaces and namespace not in self.namespaces:
            return "skipped", []
        ns = self._namespace(namespace, until)
        if opted_out(pod, ns):
            return "skipped", []
        labels = metadata(ns or {}).get("labels") or {}
        selecting = self._injections.current().selecting(namespace, labels)
        wanted = secrets_for(pod, selecting) if selecting else []
        patch = pull_secrets_patch(pod, wanted)
        if not patch:
            return "allowed", []
        cached = {secret: self.caches["Secret"].get(secret, namespace) for secret in wanted}
        # another owner's Secret of that name (the caches see every Secret): never added, as the controller never
        # attaches it to a ServiceAccount
        refused = {secret for secret, obj in cached.items() if obj is not None and not is_managed(dict(obj))}
        missing = {secret for secret, obj in cached.items() if obj is None}
        if missing and not request.dry_run:
            refused |= self._create_secrets(namespace, missing, until)
        if refused:
            patch = pull_secrets_patch(pod, [s for s in wanted if s not in refused])
        log.debug("webhook patches a Pod", extra={"uid": request.uid, "namespace": namespace,
                                                  "pod": request.name or metadata(pod).get("generateName")})
        return ("patched", patch) if patch else ("allowed", [])

    # --- the cold path: bounded, shared by concurrent requests for the same namespace
    def _bounded(self, key: tuple[str, str], work: Callable[[], Any], until: float) -> tuple[bool, Any]:
        """(finished, result) of `work`, run once for concurrent callers with the same key, waited for until `until`.

        An exception of `work` is the result (logged here): the caller goes on without it.
        """
        with self._lock:
            future = self._inflight.get(key)
            mine = future is None
            if future is None:
                future = self._pool.submit(work)
                self._inflight[key] = future
        if mine:  # outside the lock: a future already done runs the callback at once
            future.add_done_callback(lambda f: self._forget(key, f))
        try:
            return True, future.result(timeout=max(0.0, until - time.monotonic()))
        except FutureTimeout:
            return False, None
        except Exception as exc:  # the cold path failed: the answer goes on without it
            log.warning("webhook cold path failed", extra={"work": key[0], "namespace": key[1],
                                                           "error": f"{type(exc).__name__}: {exc}"})
            return True, exc

    def _forget(self, key: tuple[str, str], future: Future[Any]) -> None:
        with self._lock:
            if self._inflight.get(key) is future:
                del self._inflight[key]

    def _namespace(self, name: str, until: float) -> Obj | None:
        """The Namespace from the cache; one GET (written through) when the watch has not brought it yet."""
        cache = self.caches["Namespace"]
        found = cache.get(name)
        if found is not None:
            return found

        def read() -> Obj | None:
            fresh = self.api.get_optional("Namespace", name)
            if fresh is not None:
                cache.write_through(fresh)
            return cache.get(name) if fresh is not None else None

        finished, fresh = self._bounded(("Namespace", name), read, until)
        if not finished:
            log.warning("webhook could not read a new namespace in time", extra={"namespace": name})
        return fresh if isinstance(fresh, dict) else None

    def _create_secrets(self, namespace: str, secrets: set[str], until: float) -> set[str]:
        """Create each missing Secret (through its first spec); the names refused: another owner's Secret."""
        by_secret = {i.secret: i.spec for i in reversed(self._injections.current().injections) if i.secret in secrets}
        now = time.monotonic()
        with self._lock:
            self._refused = {k: t for k, t in self._refused.items() if t > now}
            refused = {secret for secret in by_secret if (namespace, secret) in self._refused}
        for secret, spec in sorted(by_secret.items()):
            if secret in refused:
                continue
            finished, result = self._bounded((spec, namespace), partial(self.ensure, spec, namespace), until)
            if not finished:
                log.warning("webhook did not create a pull Secret in time; the Pod is patched anyway",
                            extra={"namespace": namespace, "secret": secret, "deadline": self.deadline})
                self._secret_outcome("timeout")
                continue
            if not isinstance(result, ReconcileResult):
                self._secret_outcome("error")
                continue
            if f"{namespace}/{secret}" in result.not_owned:
                refused.add(secret)
                with self._lock:
                    self._refused[(namespace, secret)] = time.monotonic() + REFUSED_MEMORY
            if any(r.name == f"Secret/{secret}" and r.status is RowStatus.CREATED for r in result.rows):
                self._secret_outcome("created")
            elif result.failed:
                log.warning("webhook could not create a pull Secret", extra={
                    "namespace": namespace, "secret": secret, "error": "; ".join(result.errors) or "not owned"})
                self._secret_outcome("error")
        return refused

    def _secret_outcome(self, outcome: str) -> None:
        if self.metrics is not None:
            self.metrics.observe_secret_on_admission(outcome)

"""An informer: a cache of one kind kept current by LIST then WATCH, and handlers told of every change.

client-go's reflector semantics, in one thread per informer: LIST (remember its resourceVersion), WATCH from
there with bookmarks and a server-side timeout picked at random in 5-10 minutes (so replicas do not reconnect
together), and when a watch ends WATCH again from the last resourceVersion seen — a bookmark moves it on and
emits nothing. Only 410 Gone (the version was compacted) LISTs again; the new list replaces the cache and
handlers get the difference (adds, updates, deletes). Errors and dropped connections back off 0.8 s -> 30 s
with jitter (reset after a healthy watch); a 429 waits its Retry-After. `stop` ends the thread at once: a
waiter thread aborts the open stream.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

from regcred.core.controller.backoff import JitteredBackoff
from regcred.core.controller.cachefields import keep_needed_fields
from regcred.shells.kube.client import KubeApi
from regcred.shells.kube.errors import KubeApiError
from regcred.shells.kube.watch import WatchExpired, list_for_watch, watch_events

Obj = dict[str, Any]
Handler = Callable[[str, Obj | None, Obj | None], None]
Key = tuple[str, str]
log = logging.getLogger("regcred.controller.informer")

WATCH_TIMEOUT = (300, 600)  # seconds, client-go's minWatchTimeout .. 2x
HEALTHY_WATCH = 1.0  # a watch that ran this long (or brought events) resets the backoff


class _Counter(Protocol):
    def inc(self, amount: float = ...) -> None: ...


class _Labelled(Protocol):
    def labels(self, **labels: str) -> _Counter: ...


class WatchMetrics(Protocol):
    """What an informer reports (ControllerMetrics has it): watch restarts by kind."""

    @property
    def watch_restarts(self) -> _Labelled: ...


def _key(obj: Obj) -> Key:
    meta = obj.get("metadata") or {}
    return str(meta.get("namespace") or ""), str(meta.get("name") or "")


def _rv(obj: Obj | None) -> str:
    return str(((obj or {}).get("metadata") or {}).get("resourceVersion") or "")


def newer(candidate: Obj, cached: Obj | None) -> bool:
    """True when `candidate` is at least as new as `cached` (resourceVersions compared as integers).

    resourceVersions are opaque by contract, but every apiserver backed by etcd sends integers; anything
    else is taken as newer (the write's answer is the latest thing seen).
    """
    a, b = _rv(candidate), _rv(cached)
    if cached is None or not (a.isdigit() and b.isdigit()):
        return True
    return int(a) >= int(b)


class Informer:
    """A thread-safe cache of one kind (optionally one namespace and selectors) fed by a list-and-watch."""

    def __init__(self, api: KubeApi, kind: str, *, namespace: str | None = None, label_selector: str | None = None,
                 field_selector: str | None = None, transform: Callable[[Obj], Obj] = keep_needed_fields,
                 stop: threading.Event, metrics: WatchMetrics | None = None) -> None:
        self.api, self.kind, self.namespace = api, kind, namespace
        self.label_selector, self.field_selector = label_selector, field_selector
        self.transform, self.stop, self.metrics = transform, stop, metrics
        self.watch_timeout = WATCH_TIMEOUT
        self.backoff = JitteredBackoff()
        self.lists = 0  # LISTs sent (a steady informer sends none)
        self.watches = 0  # watches opened
        self.resource_version = ""
        self._items: dict[Key, Obj] = {}
        self._by_ns: dict[str, dict[str, Obj]] = {}  # namespace -> name -> object: a reconcile lists one namespace
        self._lock = threading.Lock()
        self._handlers: list[Handler] = []
        self._synced = threading.Event()
        self._abort: Callable[[], None] | None = None
        self._thread: threading.Thread | None = None

    # -- the cache ------------------------------------------------------------------------------------------

    def add_handler(self, handler: Handler) -> None:
        """handler(type, old, new) for ADDED/MODIFIED/DELETED, called on the informer's thread."""
        self._handlers.append(handler)

    @property
    def has_synced(self) -> bool:
        return self._synced.is_set()

    def wait_synced(self, timeout: float) -> bool:
        return self._synced.wait(timeout)

    def get(self, name: str, namespace: str | None = None) -> Obj | None:
        with self._lock:
            return self._items.get((namespace or "", name))

    def list(self, namespace: str | None = None) -> list[Obj]:
        with self._lock:
            if namespace is None:
                return list(self._items.values())
            return list((self._by_ns.get(namespace) or {}).values())

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def write_through(self, obj: Obj) -> None:
        """Store a write's answer when it is at least as new as the cached copy (the watch event follows).

        An answer being deleted with no finalizer left is an object the API server has already removed (its
        DELETED event may even have come first): it is dropped, never stored back for ever."""
        slim = self.transform(obj)
        key = _key(slim)
        meta = slim.get("metadata") or {}
        with self._lock:
            if meta.get("deletionTimestamp") and not meta.get("finalizers"):
                self._drop(key)
            elif newer(slim, self._items.get(key)):
                self._store(key, slim)

    def forget(self, name: str, namespace: str | None = None) -> None:
        """Drop an object a delete answered for (its DELETED event follows)."""
        with self._lock:
            self._drop((namespace or "", name))

    def _store(self, key: Key, obj: Obj) -> None:
        """Under the lock: the object in both maps."""
        self._items[key] = obj
        self._by_ns.setdefault(key[0], {})[key[1]] = obj

    def _drop(self, key: Key) -> None:
        self._items.pop(key, None)
        names = self._by_ns.get(key[0])
        if names is not None:
            names.pop(key[1], None)
            if not names:
                del self._by_ns[key[0]]

    # -- the thread -----------------------------------------------------------------------------------------

    def start(self) -> None:
        """Start the list-and-watch thread (and the waiter that aborts its stream when `stop` is set)."""
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name=f"informer-{self.kind}", daemon=True)
        self._thread.start()
        threading.Thread(target=self._abort_on_stop, name=f"informer-{self.kind}-stop", daemon=True).start()

    def join(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    def _abort_on_stop(self) -> None:
        self.stop.wait()
        self.abort_watch()

    def abort_watch(self) -> None:
        """End the open watch now (as a dropped connection would); the thread resumes unless stopped."""
        abort = self._abort
        if abort is not None:
            abort()

    def _on_open(self, abort: Callable[[], None]) -> None:
        self._abort = abort
        if self.stop.is_set():
            abort()

    def _run(self) -> None:
        while not self.stop.is_set():
            try:
                if not self.resource_version:
                    self._relist()
                if self._watch_once():
                    self.backoff.reset()
                    if not self.stop.is_set():
                        self._restarted()  # the server's timeout: watch again from the last resourceVersion
                    continue
                wait = self.backoff.next()  # ended at once with nothing: a server in trouble
            except WatchExpired:
                listing = not self.resource_version  # the LIST itself expired (its continue token)
                log.info("watch of %s expired; listing again", self.kind)
                self.resource_version = ""
                self._restarted()
                if not listing:
                    continue
                wait = self.backoff.next()
            except KubeApiError as exc:
                wait = exc.retry_after if exc.status == 429 and exc.retry_after is not None else self.backoff.next()
                self._failed(exc, wait)
            except Exception as exc:  # dropped connection, broken stream, bad configuration: retry later
                wait = self.backoff.next()
                self._failed(exc, wait)
            finally:
                self._abort = None
            self.stop.wait(wait)

    def _failed(self, exc: Exception, wait: float) -> None:
        if not self.stop.is_set():
            log.warning("watch of %s failed (%s); retrying in %.1f s", self.kind, exc, wait)
            self._restarted()

    def _restarted(self) -> None:
        if self.metrics is not None:
            self.metrics.watch_restarts.labels(kind=self.kind).inc()

    def _relist(self) -> None:
        items, list_rv = list_for_watch(self.api, self.kind, self.namespace, label_selector=self.label_selector,
                                        field_selector=self.field_selector)
        self.lists += 1
        fresh = {}
        for item in items:
            slim = self.transform(item)
            fresh[_key(slim)] = slim
        with self._lock:
            old, self._items = self._items, fresh
            self._by_ns = {}
            for (ns, name), obj in fresh.items():
                self._by_ns.setdefault(ns, {})[name] = obj
        for key, obj in fresh.items():
            before = old.get(key)
            if before is None:
                self._emit("ADDED", None, obj)
            elif _rv(before) != _rv(obj):
                self._emit("MODIFIED", before, obj)
        for key, obj in old.items():
            if key not in fresh:
                self._emit("DELETED", obj, None)
        self.resource_version = list_rv
        self._synced.set()

    def _watch_once(self) -> bool:
        """One watch until the server ends it; True when it was healthy (ran a while or brought events)."""
        started, seen = time.monotonic(), 0
        self.watches += 1
        for event in watch_events(self.api, self.kind, self.namespace, resource_version=self.resource_version,
                                  label_selector=self.label_selector, field_selector=self.field_selector,
                                  timeout_seconds=random.randint(*self.watch_timeout), on_open=self._on_open):
            if self.stop.is_set():
                return True
            seen += 1
            rv = _rv(event.object)
            if event.type != "BOOKMARK":
                self._apply(event.type, event.object)
            if rv:
                self.resource_version = rv
        return seen > 0 or time.monotonic() - started >= HEALTHY_WATCH or self.stop.is_set()

    def _apply(self, kind: str, obj: Obj) -> None:
        slim = self.transform(obj)
        key = _key(slim)
        with self._lock:
            old = self._items.get(key)
            if kind == "DELETED":
                self._drop(key)
            elif newer(slim, old):  # not older than a write-through copy
                self._store(key, slim)
        if kind == "DELETED":
            self._emit("DELETED", old or slim, None)
        else:
            self._emit("MODIFIED" if old is not None else "ADDED", old, slim)

    def _emit(self, kind: str, old: Obj | None, new: Obj | None) -> None:
        for handler in self._handlers:
            try:
                handler(kind, old, new)
            except Exception:  # a handler bug must not stop the cache
                log.exception("handler of %s failed on %s", self.kind, kind)

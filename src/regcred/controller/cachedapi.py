"""A `KubeApi` that reads from the controller's caches and writes to the API server.

Why: the controller reconciles through the same use cases as `regcred apply`; they read with get/list and
write with create/patch/delete. Served from informer caches, a reconcile at steady state sends nothing. A
write's answer is written through to the cache, so the next reconcile of the key plans against it even before
the watch event arrives. After a 409 the object is stale in the cache too: the conditional-write helper's
re-read of that object goes to the API server (fresh), once.

Kinds without a cache are read from the API. Every 403 met is recorded (`forbidden`) so the reconciler can
name the missing verb and resource in the Degraded condition. One instance per reconcile (not thread-shared).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from regcred.core.controller.selectors import field_predicate, label_predicate
from regcred.shells.kube.errors import KubeConflict, KubeForbidden, KubeNotFound
from regcred.usecases.kubeapi import KubeApi, Obj


class Cache(Protocol):
    """What an informer offers for one kind (the `Informer` has exactly these methods)."""

    def get(self, name: str, namespace: str | None = None) -> Obj | None: ...

    def list(self, namespace: str | None = None) -> list[Obj]: ...

    def write_through(self, obj: Obj) -> None: ...


def _rv(obj: Mapping[str, Any] | None) -> int:
    try:
        return int(((obj or {}).get("metadata") or {}).get("resourceVersion") or -1)
    except ValueError:
        return -1


def _where(obj: Mapping[str, Any]) -> tuple[str | None, str]:
    meta = obj.get("metadata") or {}
    return meta.get("namespace"), str(meta.get("name"))


class Store:
    """An in-memory cache of one kind with the informer's read/write-through methods (tests, the manager)."""

    def __init__(self, objects: list[Obj] | None = None) -> None:
        self._lock = threading.Lock()
        self._items: dict[tuple[str | None, str], Obj] = {}
        for obj in objects or ():
            self.put(obj)

    def put(self, obj: Obj) -> None:
        with self._lock:
            self._items[_where(obj)] = obj

    def remove(self, name: str, namespace: str | None = None) -> None:
        with self._lock:
            self._items.pop((namespace, name), None)

    def get(self, name: str, namespace: str | None = None) -> Obj | None:
        with self._lock:
            return self._items.get((namespace, name))

    def list(self, namespace: str | None = None) -> list[Obj]:
        with self._lock:
            return [o for (ns, _), o in self._items.items() if namespace is None or ns == namespace]

    def write_through(self, obj: Obj) -> None:
        """Store a write's answer unless the cache already holds a newer version (a watch event won)."""
        with self._lock:
            key = _where(obj)
            if _rv(obj) >= _rv(self._items.get(key)):
                self._items[key] = obj


class Layered:
    """Several caches of one kind seen as one (managed Secrets by label + the source Secrets specs name)."""

    def __init__(self, *caches: Cache) -> None:
        self.caches = caches

    def get(self, name: str, namespace: str | None = None) -> Obj | None:
        return next((o for c in self.caches if (o := c.get(name, namespace)) is not None), None)

    def list(self, namespace: str | None = None) -> list[Obj]:
        seen: dict[tuple[str | None, str], Obj] = {}
        for cache in self.caches:
            for obj in cache.list(namespace):
                seen.setdefault(_where(obj), obj)
        return list(seen.values())

    def write_through(self, obj: Obj) -> None:
        """Into every cache that holds the object, else the first whose watch would bring it (its label selector:
        another owner's Secret read after a 409 goes to the identity-only cache, never into the managed one)."""
        holders = [c for c in self.caches if c.get(_where(obj)[1], _where(obj)[0]) is not None]
        selecting = [c for c in self.caches if label_predicate(getattr(c, "label_selector", None))(obj)]
        for cache in holders or selecting[:1] or self.caches[:1]:
            cache.write_through(obj)


class CachedApi:
    """`KubeApi`: reads of cached kinds from `caches`, everything else and every write to `api`."""

    def __init__(self, api: KubeApi, caches: Mapping[str, Cache]) -> None:
        self.api = api
        self.caches = caches
        self._stale: set[tuple[str, str | None, str]] = set()  # objects a 409 proved stale in the cache
        self.forbidden: list[Any] = []  # the KubeForbidden errors met (verb, resource, namespace)

    @property
    def default_namespace(self) -> str:
        return self.api.default_namespace

    def _call(self, fn: Any, *args: Any, **kw: Any) -> Any:
        try:
            return fn(*args, **kw)
        except KubeForbidden as exc:
            self.forbidden.append(exc)
            raise

    def get_optional(self, kind: str, name: str, namespace: str | None = None) -> Obj | None:
        cache = self.caches.get(kind)
        if cache is not None and (kind, namespace, name) not in self._stale:
            return cache.get(name, namespace)
        fresh: Obj | None = self._call(self.api.get_optional, kind, name, namespace)
        self._stale.discard((kind, namespace, name))
        if cache is not None and fresh is not None:
            cache.write_through(fresh)
        return fresh

    def read_fresh(self, kind: str, name: str, namespace: str | None = None) -> Obj | None:
        """A GET from the API that leaves the cache alone (an object a selective cache must not hold)."""
        found: Obj | None = self._call(self.api.get_optional, kind, name, namespace)
        return found

    def get(self, kind: str, name: str, namespace: str | None = None) -> Obj:
        found = self.get_optional(kind, name, namespace)
        if found is None:
            raise KubeNotFound(f"{kind} {name!r} not found", status=404, verb="get", resource=kind, name=name,
                               namespace=namespace)
        return found

    def iter_list(self, kind: str, namespace: str | None = None, *, label_selector: str | None = None,
                  field_selector: str | None = None) -> Iterator[Obj]:
        cache = self.caches.get(kind)
        if cache is None:
            yield from self._call(self.api.list, kind, namespace, label_selector=label_selector,
                                  field_selector=field_selector)
            return
        labels, fields = label_predicate(label_selector), field_predicate(field_selector)
        yield from (o for o in cache.list(namespace) if labels(o) and fields(o))

    def list(self, kind: str, namespace: str | None = None, *, label_selector: str | None = None,
             field_selector: str | None = None) -> list[Obj]:
        return list(self.iter_list(kind, namespace, label_selector=label_selector, field_selector=field_selector))

    def _written(self, kind: str, fn: Any, key: tuple[str | None, str], *args: Any, dry_run: bool,
                 **kw: Any) -> Obj:
        try:
            answer: Obj = self._call(fn, *args, dry_run=dry_run, **kw)
        except KubeConflict:
            self._stale.add((kind, key[0], key[1]))
            raise
        cache = self.caches.get(kind)
        if cache is not None and not dry_run and answer.get("kind", kind) == kind and "metadata" in answer:
            answer.setdefault("kind", kind)
            cache.write_through(answer)
        return answer

    def create(self, obj: Obj, namespace: str | None = None, *, dry_run: bool = False) -> Obj:
        kind = str(obj.get("kind"))
        ns = namespace or (obj.get("metadata") or {}).get("namespace")
        return self._written(kind, self.api.create, (ns, _where(obj)[1]), obj, namespace, dry_run=dry_run)

    def patch(self, kind: str, name: str, namespace: str | None, patch: Any, *, patch_type: str = "merge",
              dry_run: bool = False) -> Obj:
        return self._written(kind, self.api.patch, (namespace, name), kind, name, namespace, patch,
                             patch_type=patch_type, dry_run=dry_run)

    def delete(self, kind: str, name: str, namespace: str | None = None, *, dry_run: bool = False) -> Obj:
        answer: Obj = self._call(self.api.delete, kind, name, namespace, dry_run=dry_run)
        cache = self.caches.get(kind)
        if not dry_run and isinstance(cache, Store):
            cache.remove(name, namespace)  # an informer learns it from the DELETED event
        return answer


if TYPE_CHECKING:  # mypy fails here when CachedApi stops satisfying the use cases' protocol
    def _is_a_kube_api(api: CachedApi) -> KubeApi:
        return api

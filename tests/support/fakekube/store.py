"""In-memory object storage with one global resourceVersion counter and an event log.

Why: resourceVersion is the etcd revision shared by all types; watches, list snapshots for
``continue`` tokens and ``resourceVersionMatch=Exact`` all replay the same ordered log.
Stored dicts are never mutated after ``put`` so readers can serialise them without copying.
"""

from __future__ import annotations

import bisect
import json
import threading
from collections import OrderedDict
from typing import Any

from .errors import expired
from .resources import ResourceType

META_ORDER = ("name", "generateName", "namespace", "selfLink", "uid", "resourceVersion", "generation",
              "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "labels", "annotations",
              "ownerReferences", "finalizers", "managedFields")


def stamp(meta: dict[str, Any], rv: int, *, unstructured: bool = False) -> None:
    """Set metadata.resourceVersion keeping Go's ObjectMeta field order (sorted when unstructured)."""
    meta["resourceVersion"] = str(rv)
    order = sorted(meta) if unstructured else META_ORDER
    ordered = {k: meta[k] for k in order if k in meta}
    ordered.update({k: v for k, v in meta.items() if k not in ordered})
    meta.clear()
    meta.update(ordered)


def dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


class Entry:
    """A stored object plus lazily cached encodings (full for GET, item for LIST)."""

    __slots__ = ("_full", "_item", "keep_type", "obj")

    def __init__(self, obj: dict[str, Any], keep_type: bool = False) -> None:
        self.obj = obj
        self.keep_type = keep_type  # custom resources keep kind/apiVersion in list items
        self._full: bytes | None = None
        self._item: bytes | None = None

    def full(self) -> bytes:
        if self._full is None:
            self._full = dumps(self.obj)
        return self._full

    def item(self) -> bytes:
        if self._item is None and self.keep_type:
            self._item = self.full()
        if self._item is None:
            self._item = dumps({k: v for k, v in self.obj.items() if k not in ("kind", "apiVersion")})
        return self._item


class Event:
    __slots__ = ("entry", "key", "name", "ns", "prev", "rv", "type")

    def __init__(self, rv: int, key: str, ns: str, name: str, type_: str, entry: Entry, prev: Entry | None) -> None:
        self.rv, self.key, self.ns, self.name, self.type, self.entry, self.prev = rv, key, ns, name, type_, entry, prev


def sort_key(ns: str, name: str) -> str:
    """etcd key order: /<ns>/<name> compares namespace+'/' first."""
    return f"{ns}/{name}" if ns else name


class Store:
    """All objects, guarded by one lock; ``cond`` wakes watchers on every write."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.cond = threading.Condition(self.lock)
        self.rv = 1
        self.data: dict[str, dict[str, dict[str, Entry]]] = {}
        self.events: list[Event] = []
        self.event_rvs: list[int] = []
        self.event_base = 0
        self.compacted = 0
        self.snapshots: OrderedDict[tuple[str, str, int], list[tuple[str, Entry]]] = OrderedDict()
        self.stopped = False
        self.drops: dict[str, int] = {}  # per resource key ("*": all): bumped to drop open watches

    # -- reads ---------------------------------------------------------------
    def get(self, rt: ResourceType, ns: str, name: str) -> Entry | None:
        return self.data.get(rt.key, {}).get(ns, {}).get(name)

    def entries(self, rt: ResourceType, ns: str | None) -> list[tuple[str, Entry]]:
        """Current objects sorted in etcd key order, as (sort key, entry)."""
        by_ns = self.data.get(rt.key, {})
        out: list[tuple[str, Entry]] = []
        spaces = [ns] if ns is not None else sorted(by_ns, key=lambda n: n + "/")
        for space in spaces:
            names = by_ns.get(space, {})
            out.extend((sort_key(space, n), names[n]) for n in sorted(names))
        return out

    def namespace_is_empty(self, ns: str) -> bool:
        return not any(by_ns.get(ns) for by_ns in self.data.values())

    # -- writes --------------------------------------------------------------
    def next_rv(self) -> int:
        self.rv += 1
        return self.rv

    def put(self, rt: ResourceType, obj: dict[str, Any], etype: str) -> Entry:
        """Store ``obj`` (ADDED or MODIFIED) with a fresh resourceVersion."""
        rv = self.next_rv()
        meta = obj["metadata"]
        stamp(meta, rv, unstructured=rt.custom)
        ns, name = meta.get("namespace", ""), meta["name"]
        bucket = self.data.setdefault(rt.key, {}).setdefault(ns, {})
        prev = bucket.get(name)
        entry = Entry(obj, rt.custom)
        bucket[name] = entry
        self._record(Event(rv, rt.key, ns, name, etype, entry, prev))
        return entry

    def remove(self, rt: ResourceType, ns: str, name: str, final: dict[str, Any]) -> Entry:
        """Delete; the DELETED event carries the last state stamped with the deletion revision."""
        rv = self.next_rv()
        stamp(final["metadata"], rv, unstructured=rt.custom)
        bucket = self.data.get(rt.key, {}).get(ns, {})
        prev = bucket.pop(name, None)
        if not bucket:
            self.data.get(rt.key, {}).pop(ns, None)
        entry = Entry(final, rt.custom)
        self._record(Event(rv, rt.key, ns, name, "DELETED", entry, prev))
        return entry

    def _record(self, ev: Event) -> None:
        self.events.append(ev)
        self.event_rvs.append(ev.rv)
        self.cond.notify_all()

    # -- history -------------------------------------------------------------
    def event_index(self, after_rv: int) -> int:
        """Absolute index of the first event with rv > after_rv."""
        return self.event_base + bisect.bisect_right(self.event_rvs, after_rv)

    def events_from(self, index: int) -> list[Event]:
        return self.events[max(0, index - self.event_base):]

    def compact(self, rv: int | None = None, *, restart: bool = False) -> int:
        """Drop history up to ``rv`` (default: now), like etcd compaction.

        List snapshots (continue tokens) survive unless ``restart`` (an apiserver restart).
        """
        with self.lock:
            target = self.rv if rv is None else rv
            cut = bisect.bisect_right(self.event_rvs, target)
            del self.events[:cut]
            del self.event_rvs[:cut]
            self.event_base += cut
            self.compacted = max(self.compacted, target)
            if restart:
                self.snapshots.clear()
            return target

    def state_at(self, rt: ResourceType, ns: str | None, rv: int) -> list[tuple[str, Entry]]:
        """The list as it was at revision ``rv`` (410 when compacted away)."""
        if rv < self.compacted:
            raise expired("The resourceVersion for the provided list is too old.")
        if self.compacted > 0:
            # History before compaction is gone; rebuild from current state backwards.
            state = {sort_key(e.obj["metadata"].get("namespace", ""), e.obj["metadata"]["name"]): e
                     for _, e in self.entries(rt, ns)}
            for ev in reversed(self.events):
                if ev.rv <= rv:
                    break
                if ev.key != rt.key or (ns is not None and ev.ns != ns):
                    continue
                k = sort_key(ev.ns, ev.name)
                if ev.prev is None:
                    state.pop(k, None)
                else:
                    state[k] = ev.prev
        else:
            state = {}
            for ev in self.events:
                if ev.rv > rv:
                    break
                if ev.key != rt.key or (ns is not None and ev.ns != ns):
                    continue
                k = sort_key(ev.ns, ev.name)
                if ev.type == "DELETED":
                    state.pop(k, None)
                else:
                    state[k] = ev.entry
        return sorted(state.items())

    def snapshot(self, rt: ResourceType, ns: str | None, rv: int, items: list[tuple[str, Entry]]) -> None:
        key = (rt.key, ns or "", rv)
        self.snapshots[key] = items
        self.snapshots.move_to_end(key)
        while len(self.snapshots) > 32:
            self.snapshots.popitem(last=False)



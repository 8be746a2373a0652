"""GET, LIST and WATCH with the apiserver's resourceVersion, paging and selector semantics.

Why: paging must be a consistent snapshot (continue tokens pin the list's revision), items
carry no kind/apiVersion while watch objects do, and too-old/too-new revisions have their
own 410/504 answers.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Iterator
from typing import Any

from .errors import FieldError, bad_request, expired, not_found, options_invalid, status, too_large_rv
from .gojson import Base64Error, b64decode, go_kind, syntax_error
from .request import ApiRequest, Response
from .resources import ResourceType
from .selectors import fields_matcher, labels_match, parse_fields, parse_labels
from .store import Entry, Store, dumps, stamp
from .store import Event as StoreEvent

CONTINUE_TOO_OLD = (
    "The provided continue parameter is too old to display a consistent list result. You can start a new list "
    "without the continue parameter, or use the continue token in this response to retrieve the remainder of the "
    "results. Continuing with the provided token results in an inconsistent list - objects that were created, "
    "modified, or deleted between the time the first chunk was returned and now may show up in the list."
)


def encode_continue(rv: int, start: str) -> str:
    raw = json.dumps({"v": "meta.k8s.io/v1", "rv": rv, "start": start}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_continue(token: str) -> tuple[str, int]:
    """storage.DecodeContinue: returns (last key, rv) or raises the 400."""
    def bad(msg: str) -> Exception:
        return bad_request(f"invalid continue token: continue key is not valid: {msg}")

    try:
        data = b64decode(token, url=True, padded=False)
    except Base64Error as e:
        raise bad(str(e)) from None
    err = syntax_error(data)
    if err:
        raise bad(err)
    doc = json.loads(data)
    if not isinstance(doc, dict):
        raise bad(f"json: cannot unmarshal {go_kind(doc)} into Go value of type storage.continueToken")
    if doc.get("v") != "meta.k8s.io/v1":
        raise bad_request("invalid continue token: continue key is not valid: server does not recognize this "
                          f"encoded version {doc.get('v', '')}")
    rv, start = doc.get("rv") or 0, doc.get("start") or ""
    if rv == 0:
        raise bad_request("invalid continue token: continue key is not valid: incorrect encoded start "
                          "resourceVersion (version meta.k8s.io/v1)")
    if not start:
        raise bad_request("invalid continue token: continue key is not valid: encoded start key empty "
                          "(version meta.k8s.io/v1)")
    return start.lstrip("/").rstrip("\x00"), int(rv)


def _int_rv(s: str) -> int:
    try:
        return int(s)
    except ValueError:
        raise bad_request(f'invalid resource version: strconv.ParseUint: parsing "{s}": invalid syntax') from None


class Reader:
    """get/list/watch against a Store."""

    def __init__(self, store: Store, too_large_wait: float, bookmark_period: float = 60.0) -> None:
        self.store = store
        self.too_large_wait = too_large_wait
        self.bookmark_period = bookmark_period

    def _wait_for(self, want: int) -> None:
        deadline = time.monotonic() + self.too_large_wait
        while self.store.rv < want:
            left = deadline - time.monotonic()
            if left <= 0:
                raise too_large_rv(want, self.store.rv)
            self.store.cond.wait(left)

    def get(self, req: ApiRequest) -> Response:
        rt = req.rt
        assert rt is not None
        rv = req.q("resourceVersion") or ""
        with self.store.lock:
            if rv not in ("", "0"):
                self._wait_for(_int_rv(rv))
            entry = self.store.get(rt, req.namespace, req.name)
            if entry is None:
                raise not_found(rt.plural, rt.group, req.name)
            return Response(200, entry.full())

    def _selectors(self, req: ApiRequest, rt: ResourceType) -> tuple[Callable[[dict[str, Any]], bool], bool]:
        reqs = parse_labels(req.q("labelSelector") or "")
        terms = parse_fields(req.q("fieldSelector") or "", rt)
        if req.name:
            terms.append(("metadata.name", "=", req.name))
        fmatch = fields_matcher(terms)

        def match(obj: dict[str, Any]) -> bool:
            return labels_match(reqs, obj["metadata"].get("labels")) and fmatch(obj)

        return match, not reqs and not terms

    def list(self, req: ApiRequest) -> Response:
        rt = req.rt
        assert rt is not None
        watch = (req.q("watch") or "").lower() in ("1", "true")
        rv, rvm, cont = req.q("resourceVersion") or "", req.q("resourceVersionMatch") or "", req.q("continue") or ""
        errs: list[FieldError] = []
        initial = req.q("sendInitialEvents")
        if initial is not None and watch and rvm != "NotOlderThan":
            errs.append(FieldError("Forbidden", "resourceVersionMatch", detail="sendInitialEvents requires "
                                   "setting resourceVersionMatch to NotOlderThan"))
        if rvm:
            if watch and initial is None:
                errs.append(FieldError("Forbidden", "resourceVersionMatch",
                                       detail="resourceVersionMatch is forbidden for watch unless sendInitialEvents "
                                              "is provided"))
            if not rv and (initial is None or not watch):
                errs.append(FieldError("Forbidden", "resourceVersionMatch",
                                       detail="resourceVersionMatch is forbidden unless resourceVersion is provided"))
            if cont:
                errs.append(FieldError("Forbidden", "resourceVersionMatch",
                                       detail="resourceVersionMatch is forbidden when continue is provided"))
            if rvm not in ("Exact", "NotOlderThan"):
                errs.append(FieldError("NotSupported", "resourceVersionMatch", rvm,
                                       supported=["Exact", "NotOlderThan", ""]))
            if rvm == "Exact" and rv == "0":
                errs.append(FieldError("Forbidden", "resourceVersionMatch",
                                       detail='resourceVersionMatch "exact" is forbidden for resourceVersion "0"'))
        if initial is not None and not watch:
            errs.append(FieldError("Forbidden", "sendInitialEvents", detail="sendInitialEvents is forbidden for list"))
        if errs:
            raise options_invalid("ListOptions", errs)
        match, unfiltered = self._selectors(req, rt)
        if watch:
            return self.watch(req, rt, match)
        limit = int(req.q("limit") or 0)
        ns = req.namespace if rt.namespaced and req.namespace else None
        start = ""
        with self.store.lock:
            if cont:
                if rv not in ("", "0"):
                    raise bad_request("specifying resource version is not allowed when using continue")
                start, list_rv = decode_continue(cont)
                snap = self.store.snapshots.get((rt.key, ns or "", list_rv))
                if snap is None and list_rv < self.store.compacted:
                    token = encode_continue(-1, start + "\x00")
                    raise expired(CONTINUE_TOO_OLD, {"continue": token})
                items = snap if snap is not None else self.store.state_at(rt, ns, list_rv)
            elif rvm == "Exact":
                list_rv = _int_rv(rv)
                self._wait_for(list_rv)
                items = self.store.state_at(rt, ns, list_rv)
            else:
                if rv not in ("", "0"):
                    self._wait_for(_int_rv(rv))
                list_rv = self.store.rv
                items = self.store.entries(rt, ns)
            if start:
                items = [kv for kv in items if kv[0] > start]
            matched = [kv for kv in items if match(kv[1].obj)] if not unfiltered else items
            meta: dict[str, Any] = {"resourceVersion": str(list_rv)}
            if limit and len(matched) > limit:
                page = matched[:limit]
                last = page[-1][0]
                if not cont:
                    self.store.snapshot(rt, ns, list_rv, items)
                meta["continue"] = encode_continue(list_rv, "/" + last + "\x00")
                if unfiltered:
                    meta["remainingItemCount"] = len(matched) - limit
                matched = page
        items_json = b"[" + b",".join(e.item() for _, e in matched) + b"]"
        if rt.custom:  # unstructured: keys sorted, an empty continue kept
            meta.setdefault("continue", "")
            head = dumps({"apiVersion": rt.api_version})
            tail = dumps({"kind": rt.list_kind, "metadata": dict(sorted(meta.items()))})
            return Response(200, head[:-1] + b',"items":' + items_json + b"," + tail[1:])
        head = dumps({"kind": rt.list_kind, "apiVersion": rt.api_version, "metadata": meta})
        return Response(200, head[:-1] + b',"items":' + items_json + b"}")

    def watch(self, req: ApiRequest, rt: ResourceType, match: Callable[[dict[str, Any]], bool]) -> Response:
        rv = req.q("resourceVersion") or ""
        send_initial = req.q("sendInitialEvents")
        bookmarks = (req.q("allowWatchBookmarks") or "").lower() == "true"
        timeout = float(req.q("timeoutSeconds") or 0)
        ns = req.namespace if rt.namespaced and req.namespace else None
        lines: list[bytes] = []
        with self.store.lock:
            if send_initial == "true" or (send_initial is None and rv in ("", "0")):
                for _, e in self.store.entries(rt, ns):
                    if match(e.obj):
                        lines.append(_event("ADDED", e))
                start_idx = self.store.event_index(self.store.rv)
                if send_initial == "true" and bookmarks:
                    mark = {"kind": rt.kind, "apiVersion": rt.api_version, "metadata": {
                        "resourceVersion": str(self.store.rv),
                        "annotations": {"k8s.io/initial-events-end": "true"}}}
                    lines.append(b'{"type":"BOOKMARK","object":' + dumps(mark) + b"}\n")
            elif rv in ("", "0"):
                start_idx = self.store.event_index(self.store.rv)
            else:
                want = _int_rv(rv)
                oldest = max(self.store.compacted, rt.served_rv)
                if want < oldest:
                    err = status(410, "Expired", f"too old resource version: {want} ({oldest})")
                    line = b'{"type":"ERROR","object":' + dumps(err) + b"}\n"
                    return Response(200, headers={}, stream=iter([line]))
                start_idx = self.store.event_index(want)
            w = Watch(rt, ns, match, bookmarks, timeout, self.store.drops)
        return Response(200, stream=self._stream(w, lines, start_idx))

    def _stream(self, w: Watch, initial: list[bytes], idx: int) -> Iterator[bytes]:
        """Events after ``idx`` until the timeout; bookmarks as the watch cache sends them."""
        yield b"".join(initial)
        store = self.store
        started = time.monotonic()
        deadline = started + w.timeout if w.timeout else None
        # A bookmark ~1 s before the timeout and every 60 s, but only if the resource's revision moved.
        pre_timeout = deadline - 1.0 if deadline is not None and w.bookmarks and w.timeout >= 2 else None
        periodic = started + self.bookmark_period if w.bookmarks else None
        moved = False
        while True:
            with store.cond:
                if store.drops.get(w.rt.key, 0) != w.drops.get(w.rt.key, 0) or store.drops.get("*", 0) != \
                        w.drops.get("*", 0):
                    raise WatchDropped
                if idx >= store.event_base + len(store.events) and not store.stopped:
                    wake = [t for t in (deadline, pre_timeout, periodic) if t is not None]
                    left = min(wake) - time.monotonic() if wake else 1.0
                    if deadline is not None and deadline - time.monotonic() <= 0:
                        return
                    if left > 0:
                        store.cond.wait(min(left, 1.0))
                if store.stopped:
                    return
                events = [] if idx >= store.event_base + len(store.events) else store.events_from(idx)
                idx = store.event_base + len(store.events)
                current_rv = store.rv
            out = []
            for ev in events:
                if ev.key != w.rt.key:
                    continue
                moved = True
                if w.ns is not None and ev.ns != w.ns:
                    continue
                out += _translate(ev, w.match, w.rt.custom)
            now = time.monotonic()
            for mark in ("pre", "periodic"):
                at = pre_timeout if mark == "pre" else periodic
                if at is not None and now >= at:
                    if moved:
                        out.append(_bookmark(w.rt, current_rv))
                    if mark == "pre":
                        pre_timeout = None
                    else:
                        periodic = at + self.bookmark_period
            if out:
                yield b"".join(out)
            else:
                yield b""  # idle tick: lets the HTTP layer notice a client that went away
            if deadline is not None and time.monotonic() >= deadline:
                return


class WatchDropped(Exception):
    """A test asked the server to drop this watch connection (no clean end of the stream)."""


class Watch:
    """One open watch: what it selects and when it sends bookmarks."""

    def __init__(self, rt: ResourceType, ns: str | None, match: Callable[[dict[str, Any]], bool], bookmarks: bool,
                 timeout: float, drops: dict[str, int]) -> None:
        self.rt, self.ns, self.match, self.bookmarks, self.timeout = rt, ns, match, bookmarks, timeout
        self.drops = dict(drops)


def _translate(ev: StoreEvent, match: Callable[[dict[str, Any]], bool], custom: bool) -> list[bytes]:
    """The watch cache's selector translation: leaving the selector is a DELETED of the old state."""
    now_m = match(ev.entry.obj)
    was_m = ev.prev is not None and match(ev.prev.obj)
    if ev.type == "ADDED":
        return [_event("ADDED", ev.entry)] if now_m else []
    if ev.type == "MODIFIED":
        if now_m:
            return [_event("MODIFIED" if was_m else "ADDED", ev.entry)]
        if was_m and ev.prev is not None:
            old = json.loads(ev.prev.full())
            stamp(old["metadata"], ev.rv, unstructured=custom)
            return [_event("DELETED", Entry(old, custom))]
        return []
    return [_event("DELETED", ev.entry)] if (was_m or now_m) else []


def _bookmark(rt: ResourceType, rv: int) -> bytes:
    obj: dict[str, Any] = {"kind": rt.kind, "apiVersion": rt.api_version, "metadata": {"resourceVersion": str(rv)}}
    if rt.custom:
        obj = {"apiVersion": rt.api_version, "kind": rt.kind, "metadata": obj["metadata"]}
    return b'{"type":"BOOKMARK","object":' + dumps(obj) + b"}\n"


def _event(kind: str, entry: Entry) -> bytes:
    return b'{"type":"' + kind.encode() + b'","object":' + entry.full() + b"}\n"

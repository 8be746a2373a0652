"""LIST-then-WATCH over the shell client: the I/O half of an informer, nothing else.

A watch is one long chunked GET answering newline-delimited events. It reuses the KubeApi's authenticated
httpx client and its token bucket. A hostile or broken server cannot crash the reader: a line is at most
MAX_LINE bytes and MAX_DEPTH levels deep (core/safeload.py), and anything that is not an event object is a
KubeUnreachable. 410 Gone (as HTTP status or as an ERROR event) is WatchExpired: the caller must LIST again.
"""

from __future__ import annotations

import contextlib
import json
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx

from regcred.core.errors import InputError
from regcred.core.safeload import check_json_depth
from regcred.shells.kube.client import KubeApi
from regcred.shells.kube.errors import KubeApiError, KubeUnreachable, error_from_status, retry_after_seconds
from regcred.shells.kube.resources import ResourceType, resource_type

Obj = dict[str, Any]
MAX_LINE = 16 * 1024 * 1024  # an object is at most ~1.5 MiB in etcd; JSON escaping can double it
LIST_PAGE_SIZE = 500
EVENT_TYPES = frozenset({"ADDED", "MODIFIED", "DELETED", "BOOKMARK"})


@dataclass(frozen=True)
class WatchEvent:
    """One event of a watch stream; a BOOKMARK's object carries only metadata.resourceVersion."""

    type: str
    object: Obj


class WatchExpired(KubeApiError):
    """410 Gone: the resourceVersion was compacted away; LIST again."""


def _selectors(label_selector: str | None, field_selector: str | None) -> dict[str, str]:
    params: dict[str, str] = {}
    if label_selector:
        params["labelSelector"] = label_selector
    if field_selector:
        params["fieldSelector"] = field_selector
    return params


def _expired(rt: ResourceType, namespace: str | None, message: str) -> WatchExpired:
    return WatchExpired(f"watch of {rt.qualified} expired: {message}", status=410, reason="Expired",
                        verb="watch", resource=rt.qualified, namespace=namespace, detail=message)


def list_for_watch(api: KubeApi, kind: str, namespace: str | None = None, *, label_selector: str | None = None,
                   field_selector: str | None = None) -> tuple[list[Obj], str]:
    """Every matching object (paged, one consistent snapshot) and the list's resourceVersion to watch from."""
    rt = resource_type(kind)
    params = {"limit": str(LIST_PAGE_SIZE), **_selectors(label_selector, field_selector)}
    items: list[Obj] = []
    list_rv = ""
    while True:
        try:
            page = api.request("GET", rt.collection_path(namespace), rt=rt, namespace=namespace, params=params)
        except KubeApiError as exc:
            if exc.status == 410:  # the continue token expired mid-list
                raise _expired(rt, namespace, exc.detail) from None
            raise
        if not isinstance(page, dict) or not isinstance(page.get("items", []), list):
            raise KubeUnreachable(f"the Kubernetes API answered a LIST of {rt.qualified} that is not a list")
        meta: Obj = page["metadata"] if isinstance(page.get("metadata"), dict) else {}
        list_rv = list_rv or str(meta.get("resourceVersion") or "")
        for item in page.get("items") or []:
            if isinstance(item, dict):
                item.setdefault("apiVersion", rt.api_version)
                item.setdefault("kind", rt.kind)
                items.append(item)
        token = meta.get("continue")
        if not token:
            return items, list_rv
        params = {**params, "continue": str(token)}


def _abort(response: httpx.Response) -> None:
    """Wake a thread blocked reading this response: shut the socket down (closing alone does not)."""
    stream = response.extensions.get("network_stream")
    sock = stream.get_extra_info("socket") if stream is not None else None
    if isinstance(sock, socket.socket):
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


def watch_events(api: KubeApi, kind: str, namespace: str | None = None, *, resource_version: str,
                 label_selector: str | None = None, field_selector: str | None = None, timeout_seconds: int,
                 allow_bookmarks: bool = True,
                 on_open: Callable[[Callable[[], None]], None] | None = None) -> Iterator[WatchEvent]:
    """The events after `resource_version` until the server ends the watch (after `timeout_seconds`).

    on_open receives an `abort()` that another thread may call to end the stream at once (stop, tests).
    """
    rt = resource_type(kind)
    params = {"watch": "1", "resourceVersion": resource_version, "timeoutSeconds": str(timeout_seconds),
              **_selectors(label_selector, field_selector)}
    if allow_bookmarks:
        params["allowWatchBookmarks"] = "true"
    api.bucket.acquire()
    api.requests.add("WATCH")
    # the server closes the stream after timeout_seconds; reads wait that long plus a margin
    timeout = httpx.Timeout(api.http.timeout.connect or 30.0, read=timeout_seconds + 30.0)
    answered = False
    try:
        with api.http.stream("GET", rt.collection_path(namespace), params=params, timeout=timeout,
                             headers={"Accept": "application/json"}) as response:
            answered = True
            if api.observer is not None:  # counted like every other request, verb "watch"
                api.observer("watch", response.status_code)
            if on_open is not None:
                on_open(lambda: _abort(response))
            if response.status_code >= 400:
                _raise_status(response, rt, namespace)
            for line in _lines(response, rt):
                event = _event(line, rt)
                if event.type == "ERROR":
                    _raise_error_event(event.object, rt, namespace)
                yield event
    except httpx.HTTPError as exc:
        if not answered and api.observer is not None:
            api.observer("watch", None)
        raise KubeUnreachable(f"watch of {rt.qualified} at {api.server} broke: "
                              f"{' '.join(str(exc).split()) or type(exc).__name__}") from None


def _raise_status(response: httpx.Response, rt: ResourceType, namespace: str | None) -> None:
    body = b"".join(_lines(response, rt, limit=1024 * 1024))
    try:
        check_json_depth(body, "watch answer")
        decoded: Any = json.loads(body)
    except (ValueError, InputError):
        decoded = body[:200].decode("utf-8", "replace").strip()
    if response.status_code == 410:
        status = decoded if isinstance(decoded, dict) else {}
        raise _expired(rt, namespace, str(status.get("message") or "410 Gone"))
    error = error_from_status(response.status_code, decoded, verb="watch", resource=rt.qualified,
                              namespace=namespace, name=None)
    if isinstance(error, KubeApiError):
        error.retry_after = retry_after_seconds(response.headers.get("Retry-After"))
    raise error


def _raise_error_event(status: Obj, rt: ResourceType, namespace: str | None) -> None:
    code = status.get("code")
    code = code if isinstance(code, int) and 400 <= code <= 599 else 500
    if code == 410:
        raise _expired(rt, namespace, str(status.get("message") or "too old resource version"))
    raise error_from_status(code, status, verb="watch", resource=rt.qualified, namespace=namespace, name=None)


def _lines(response: httpx.Response, rt: ResourceType, limit: int = MAX_LINE) -> Iterator[bytes]:
    """Newline-delimited records of the body, each at most `limit` bytes (more is a broken server)."""
    buffer = bytearray()
    for chunk in response.iter_bytes():
        start = len(buffer)  # only the new bytes can hold the next newline
        buffer += chunk
        while (end := buffer.find(b"\n", start)) >= 0:
            line = bytes(buffer[:end])
            del buffer[:end + 1]
            start = 0
            if line.strip():
                yield line
        if len(buffer) > limit:
            raise KubeUnreachable(f"the watch of {rt.qualified} sent a line longer than {limit} bytes")
    if buffer.strip():
        yield bytes(buffer)


def _event(line: bytes, rt: ResourceType) -> WatchEvent:
    try:
        check_json_depth(line, f"watch event of {rt.qualified}")
        decoded = json.loads(line)
    except InputError as exc:
        raise KubeUnreachable(str(exc)) from None
    except ValueError:
        raise KubeUnreachable(f"the watch of {rt.qualified} sent a line that is not JSON") from None
    if not isinstance(decoded, dict) or not isinstance(decoded.get("object"), dict):
        raise KubeUnreachable(f"the watch of {rt.qualified} sent something that is not a watch event")
    kind = decoded.get("type")
    if kind not in EVENT_TYPES and kind != "ERROR":
        raise KubeUnreachable(f"the watch of {rt.qualified} sent an event of unknown type {str(kind)[:40]!r}")
    obj: Obj = decoded["object"]
    if kind != "ERROR" and not isinstance(obj.get("metadata"), dict):
        raise KubeUnreachable(f"the watch of {rt.qualified} sent an object without metadata")
    return WatchEvent(str(kind), obj)

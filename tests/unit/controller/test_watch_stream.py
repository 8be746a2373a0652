"""watch_events and list_for_watch on scripted answers: errors, 410s, Retry-After, hostile streams."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from regcred.shells.kube import KubeApi, KubeApiError, KubeForbidden, KubeUnreachable
from regcred.shells.kube.watch import MAX_LINE, WatchEvent, WatchExpired, list_for_watch, watch_events


def api_answering(handler: Any) -> KubeApi:
    http = httpx.Client(transport=httpx.MockTransport(handler), base_url="https://kube.test")
    return KubeApi(http, server="https://kube.test", namespace="default", qps=0)


def stream(*lines: bytes | str) -> httpx.Response:
    def body() -> Iterator[bytes]:
        for line in lines:
            yield line.encode() if isinstance(line, str) else line

    return httpx.Response(200, content=body(), headers={"Content-Type": "application/json"})


def ev(kind: str, obj: dict[str, Any]) -> str:
    return json.dumps({"type": kind, "object": obj}) + "\n"


def secret(name: str, rv: str) -> dict[str, Any]:
    return {"kind": "Secret", "apiVersion": "v1", "metadata": {"name": name, "namespace": "n", "resourceVersion": rv}}


def events(api: KubeApi, **kw: Any) -> list[WatchEvent]:
    return list(watch_events(api, "Secret", "n", resource_version="5", timeout_seconds=300, **kw))


def test_the_request_and_the_events() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        # one event split over two chunks, two in one chunk, then a bookmark
        a, b = ev("ADDED", secret("a", "6")), ev("MODIFIED", secret("a", "7"))
        return stream(a[:10], a[10:] + b, ev("BOOKMARK", {"kind": "Secret", "metadata": {"resourceVersion": "9"}}))

    api = api_answering(handler)
    got = events(api, label_selector="app=w", field_selector="metadata.name=a")
    assert [(e.type, e.object["metadata"]["resourceVersion"]) for e in got] == [
        ("ADDED", "6"), ("MODIFIED", "7"), ("BOOKMARK", "9")]
    params = dict(seen[0].url.params)
    assert seen[0].url.path == "/api/v1/namespaces/n/secrets"
    assert params == {"watch": "1", "resourceVersion": "5", "timeoutSeconds": "300", "labelSelector": "app=w",
                      "fieldSelector": "metadata.name=a", "allowWatchBookmarks": "true"}
    assert api.requests.by_method == {"WATCH": 1}


def test_410_as_an_error_event_and_as_a_status() -> None:
    gone = {"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": "too old resource version: 1 (480)",
            "reason": "Expired", "code": 410}
    with pytest.raises(WatchExpired, match="too old resource version"):
        events(api_answering(lambda r: stream(ev("ERROR", gone))))
    with pytest.raises(WatchExpired):
        events(api_answering(lambda r: httpx.Response(410, json=gone)))


def test_other_errors_map_to_the_shell_errors() -> None:
    failed = {"kind": "Status", "code": 500, "reason": "InternalError", "message": "storage feature disabled"}
    with pytest.raises(KubeApiError, match="storage feature disabled") as info:
        events(api_answering(lambda r: stream(ev("ERROR", failed))))
    assert info.value.status == 500
    denied = {"kind": "Status", "code": 403, "reason": "Forbidden", "message": "cannot watch secrets"}
    with pytest.raises(KubeForbidden):
        events(api_answering(lambda r: httpx.Response(403, json=denied)))


def test_429_carries_retry_after_on_watch_and_list() -> None:
    busy = httpx.Response(429, json={"kind": "Status", "code": 429, "message": "slow down"},
                          headers={"Retry-After": "7"})
    with pytest.raises(KubeApiError) as info:
        events(api_answering(lambda r: busy))
    assert (info.value.status, info.value.retry_after) == (429, 7.0)
    with pytest.raises(KubeApiError) as listed:
        list_for_watch(api_answering(lambda r: busy), "Secret", "n")
    assert listed.value.retry_after == 7.0


@pytest.mark.parametrize("line", [
    b"[" * 5000 + b"]" * 5000 + b"\n",                      # deeper than any walk should go
    b"not json\n",
    b'{"type": "ADDED"}\n',                                  # no object
    b'{"type": "EXPLODED", "object": {"metadata": {}}}\n',
    b'{"type": "ADDED", "object": {"metadata": 3}}\n',
    b"x" * (MAX_LINE + 10),                                  # a line without end
], ids=["deep", "garbage", "no-object", "unknown-type", "bad-metadata", "endless-line"])
def test_a_hostile_stream_is_one_error_not_a_crash(line: bytes) -> None:
    chunks = [line[i:i + (1 << 20)] for i in range(0, len(line), 1 << 20)]
    with pytest.raises(KubeUnreachable) as info:
        events(api_answering(lambda r: stream(*chunks)))
    assert "\n" not in str(info.value) and len(str(info.value)) < 300


def test_list_for_watch_pages_and_returns_the_first_pages_version() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if "continue" not in request.url.params:
            return httpx.Response(200, json={"kind": "SecretList", "metadata": {"resourceVersion": "40",
                                  "continue": "tok"}, "items": [{"metadata": {"name": "a", "namespace": "n"}}]})
        return httpx.Response(200, json={"kind": "SecretList", "metadata": {"resourceVersion": "40"},
                                         "items": [{"metadata": {"name": "b", "namespace": "n"}}]})

    items, rv = list_for_watch(api_answering(handler), "Secret", "n", label_selector="app=w")
    assert rv == "40"
    assert [(i["kind"], i["apiVersion"], i["metadata"]["name"]) for i in items] == [
        ("Secret", "v1", "a"), ("Secret", "v1", "b")]


def test_an_expired_continue_token_is_watch_expired() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if "continue" not in request.url.params:
            return httpx.Response(200, json={"metadata": {"resourceVersion": "4", "continue": "t"}, "items": []})
        return httpx.Response(410, json={"kind": "Status", "code": 410, "reason": "Expired", "message": "too old"})

    with pytest.raises(WatchExpired):
        list_for_watch(api_answering(handler), "Secret", "n")

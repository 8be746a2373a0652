"""Conformance of the fake kube-apiserver for a controller: replays ``api-responses-controller.json``.

The recordings (a real kube-apiserver v1.36.2) cover Leases, a cluster-scoped CRD with the
status subresource, finalizers, watches (selectors, bookmarks, watch-list, too-old revisions)
and Events. Each test sets up the state the recording assumed, sends the recorded request and
compares code, headers that matter and body (placeholders such as ``<rv>`` match anything).
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.kube.fakekube.replay import Client, check, matches
from tests.support.fakekube import FakeKube

_CANDIDATES = [
    Path(os.environ.get("REGCRED_API_RESPONSES_CONTROLLER", "/nonexistent")),
    Path(__file__).resolve().parents[4] / "shared" / "reference" / "api-responses-controller.json",
    Path("/work/shared/reference/api-responses-controller.json"),
]
REF = next((p for p in _CANDIDATES if p.is_file()), None)
RECORDS: list[dict[str, Any]] = json.loads(REF.read_text()) if REF is not None else []
CRD_FILE = Path(__file__).resolve().parents[3] / "deploy" / "crd" / "registrycredential.yaml"


def rec(prefix: str) -> dict[str, Any]:
    """The one recording whose scenario starts with ``prefix`` (skips visibly without the data)."""
    if REF is None:
        pytest.skip("api-responses-controller.json not found; looked at " + ", ".join(map(str, _CANDIDATES)))
    found = [r for r in RECORDS if r["scenario"] == prefix] or [r for r in RECORDS if r["scenario"].startswith(prefix)]
    assert len(found) == 1, (prefix, [r["scenario"] for r in found])
    return found[0]


def microtime() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


MT = {"<microtime>": "<time>", "<continue token>": "<token>"}  # in expected bodies: any value


class Api(Client):
    """The conformance client plus what these scenarios need: bodies built from live objects."""

    def replay(self, scenario: str, subs: dict[str, str] | None = None, *, path: str | None = None,
               **kw: Any) -> Any:
        record = rec(scenario)
        kw.setdefault("expect", MT)
        return check(record, self.send(record, subs, path=path), **kw)

    def replay_body(self, prefix: str, body: Any, *, path: str | None = None, **kw: Any) -> Any:
        record = rec(prefix)
        return check(record, self.send(record, body=body, path=path), expect=MT, **kw)

    def replay_mt(self, prefix: str, subs: dict[str, str] | None = None, **kw: Any) -> Any:
        record = rec(prefix)
        resp = self.send(record, {"<microtime>": microtime(), **(subs or {})})
        return check(record, resp, expect=MT, **kw)

    def put_from(self, prefix: str, live: dict[str, Any], rv: str | None) -> dict[str, Any]:
        """The recorded PUT body with the live object's metadata (``rv`` None: without resourceVersion)."""
        body = json.loads(json.dumps(rec(prefix)["request"]["body"]).replace("<microtime>", microtime()))
        meta = {k: v for k, v in live["metadata"].items() if k != "managedFields"}
        if rv is None:
            meta.pop("resourceVersion", None)
        else:
            meta["resourceVersion"] = rv
        body["metadata"] = meta
        return body


@pytest.fixture
def api(fake: FakeKube) -> Iterator[Api]:
    c = Api(fake)
    c.http.headers["User-Agent"] = "widget-controller/0.1 (linux/amd64)"
    yield c
    c.http.close()


LEASE = "/apis/coordination.k8s.io/v1/namespaces/ctl1/leases/widget-controller"
WIDGETS = "/apis/example.dev/v1/widgets"


# -- 1. Leases ---------------------------------------------------------------------------------

def test_section1_leases(api: Api) -> None:
    api.ns("ctl1")
    created = api.replay_mt("1. create Lease (what")
    assert created["spec"]["leaseTransitions"] == 0 and "generation" not in created["metadata"]
    api.replay_mt("1. GET Lease")
    stale = created["metadata"]["resourceVersion"]
    renewed = api.replay_body("1. PUT Lease with the current", api.put_from("1. PUT Lease with the current", created,
                                                                             stale))
    assert int(renewed["metadata"]["resourceVersion"]) > int(stale)
    api.replay_body("1. PUT Lease with a stale", api.put_from("1. PUT Lease with a stale", created, stale))
    api.replay_mt("1. merge PATCH carrying a stale", {"<stale rv>": stale})
    current = api.get(LEASE)["metadata"]["resourceVersion"]
    api.replay_mt("1. merge PATCH carrying the current", {"<rv>": current})
    live = api.get(LEASE)
    rv = live["metadata"]["resourceVersion"]
    api.replay_body("1. PUT Lease with NO resourceVersion", api.put_from("1. PUT Lease with NO", live, None))
    for prefix in ("1. PUT Lease with acquireTime without fractional", "1. PUT Lease with renewTime with 3",
                   "1. PUT Lease with renewTime with 9", "1. PUT Lease with leaseDurationSeconds 0"):
        api.replay_body(prefix, api.put_from(prefix, live, rv))
    assert api.get(LEASE)["metadata"]["resourceVersion"] == rv  # none of them wrote
    body = api.replay_body("1. PUT Lease with renewTime with 6", api.put_from("1. PUT Lease with renewTime with 6",
                                                                              live, rv))
    assert body["spec"]["renewTime"] == "2030-01-02T03:04:05.123456Z"
    api.replay_mt("1. POST the Lease again")
    live = api.get(LEASE)
    released = api.replay_body("1. release as client-go does", api.put_from("1. release", live,
                                                                            live["metadata"]["resourceVersion"]))
    assert released["spec"]["holderIdentity"] == ""
    api.replay("1. GET after release")
    api.replay("1. DELETE Lease")
    api.replay("1. create Lease with an empty spec")


# -- 2. a CRD with the status subresource ---------------------------------------------------

def create_widget_crd(api: Api, fake: FakeKube) -> None:
    api.replay("2. create the CRD widgets.example.dev")
    api.replay("2. create a Widget immediately after the CRD POST returned")
    deadline = time.monotonic() + 5
    while not fake.writer.crds.serves("example.dev", "v1"):
        assert time.monotonic() < deadline, "the CRD never became Established"
        time.sleep(0.02)
    api.replay("2. GET the CRD once Established")


def test_section2_custom_resource_with_status(api: Api, fake: FakeKube) -> None:
    api.ns("ctl1")
    create_widget_crd(api, fake)
    w1 = api.replay("2. create Widget w1 (spec.size 1)")
    assert list(w1) == sorted(w1) and list(w1["metadata"]) == sorted(w1["metadata"])
    assert "status" not in api.replay("2. create Widget w2 with a status in the body")

    def put(prefix: str, *, rv: str | None = "live") -> Any:
        live = api.get(f"{WIDGETS}/w1")
        return api.replay_body(prefix, api.put_from(prefix, live, live["metadata"]["resourceVersion"]
                                                     if rv == "live" else rv),
                               path=rec(prefix)["request"]["path"])

    assert put("2. PUT w1 changing spec.size 1 -> 2")["metadata"]["generation"] == 2
    put("2. PUT /status with conditions AND spec.size 99")
    before = api.get(f"{WIDGETS}/w1")["metadata"]["resourceVersion"]
    assert put("2. PUT main endpoint changing only status")["metadata"]["resourceVersion"] == before
    put("2. PUT main endpoint changing spec.size 2 -> 4 AND status")
    api.replay("2. merge PATCH /status with a new conditions list")
    api.replay("2. strategic-merge PATCH on a custom resource")
    api.replay("2. json-patch /status appending a condition")
    api.replay("2. GET w1 via the main endpoint")
    api.replay("2. merge PATCH spec.size -1")
    api.replay("2. merge PATCH spec.size \"big\"")
    before = api.get(f"{WIDGETS}/w1")["metadata"]["resourceVersion"]
    after = api.replay("2. merge PATCH with unknown fields")
    assert after["metadata"]["resourceVersion"] == before
    api.replay("2. same unknown field with ?fieldValidation=Strict", message_until="<the whole")
    put("2. PUT w1 with NO resourceVersion", rv=None)
    api.replay("2. GET a Widget that does not exist")
    api.replay("2. create a cluster-scoped Widget with metadata.namespace set")
    api.replay("2. GET a cluster-scoped Widget through a namespaced URL")
    api.replay("2. LIST widgets", ignore=("metadata",))
    assert api.get(WIDGETS)["metadata"] == {"continue": "", "resourceVersion": api.get(WIDGETS)["metadata"][
        "resourceVersion"]}
    rv = api.get(WIDGETS)["metadata"]["resourceVersion"]
    api.replay("2. LIST widgets resourceVersion=<rv>&resourceVersionMatch=NotOlderThan&limit=1", {"<rv>": rv})
    for prefix in ("2. LIST widgets as a Table (kubectl get)", "2. GET one widget as a Table",
                   "2. LIST widgets as a Table with includeObject=None"):
        api.replay(prefix, expect={**MT, "0s": "<time>"})  # Age: whatever a loaded machine took


# -- 3. finalizers and deletion -------------------------------------------------------------------

def _stream(api: Api, path: str, out: list[dict[str, Any]], stop: threading.Event) -> None:
    with api.http.stream("GET", path, timeout=15) as resp:
        for line in resp.iter_lines():
            if line:
                out.append(json.loads(line))
            if stop.is_set():
                return


def test_section3_finalizers_and_deletion(api: Api, fake: FakeKube) -> None:
    api.ns("ctl1")
    create_widget_crd(api, fake)
    for name in ("w-fin", "w-nofin", "w-fg"):
        created = api.post(WIDGETS, {"apiVersion": "example.dev/v1", "kind": "Widget", "metadata": {"name": name},
                                     "spec": {"size": 1}})
        if name == "w-fin":
            start_rv = created["metadata"]["resourceVersion"]
    events: list[dict[str, Any]] = []
    stop = threading.Event()
    watcher = threading.Thread(target=_stream, args=(
        api, rec("3. WATCH widgets fieldSelector")["request"]["path"].replace("<rv>", start_rv) + "&timeoutSeconds=2",
        events, stop))
    watcher.start()
    api.replay("3. merge PATCH adding finalizer example.dev/cleanup")
    api.replay("3. merge PATCH adding a finalizer without a domain")
    api.patch(f"{WIDGETS}/w-fin", {"metadata": {"finalizers": ["example.dev/cleanup"]}})
    deleted = api.replay("3. DELETE a Widget that has a finalizer")
    assert deleted["metadata"]["generation"] == 2
    api.replay("3. GET the Widget while it is terminating")
    again = api.replay("3. DELETE it again while terminating")
    assert again["metadata"]["resourceVersion"] == deleted["metadata"]["resourceVersion"]
    api.replay("3. merge PATCH spec.size while terminating")
    api.replay("3. merge PATCH /status while terminating")
    api.replay("3. merge PATCH adding a NEW finalizer while terminating")
    before = api.get(f"{WIDGETS}/w-fin")["metadata"]["resourceVersion"]
    assert api.replay("3. merge PATCH trying to clear deletionTimestamp")["metadata"]["resourceVersion"] == before
    api.replay("3. json-patch test resourceVersion (stale)", {"<stale rv>": start_rv})
    last = api.replay("3. json-patch test resourceVersion (current)", {"<rv>": before})
    assert last["metadata"]["resourceVersion"] == before  # the previous revision
    api.replay("3. GET after the last finalizer was removed")
    watcher.join(5)
    expected = [e for e in rec("3. WATCH widgets fieldSelector")["response"]["body"] if isinstance(e, dict)]
    assert not matches(expected, events, False), matches(expected, events, False)
    assert events[-1]["object"]["metadata"]["finalizers"] == ["example.dev/cleanup"]
    assert int(events[-1]["object"]["metadata"]["resourceVersion"]) > int(before)
    api.replay("3. DELETE a Widget without finalizers")
    api.post(WIDGETS, {"apiVersion": "example.dev/v1", "kind": "Widget", "metadata": {"name": "w-nofin"}})
    api.replay("3. DELETE with a wrong preconditions.uid")


# -- 4. watches ------------------------------------------------------------------------------------

def _watch_lines(resp_text: str) -> list[dict[str, Any]]:
    return [json.loads(x) for x in resp_text.splitlines() if x]


def _recorded_events(prefix: str) -> list[Any]:
    return [e for e in rec(prefix)["response"]["body"] if isinstance(e, dict)]


def _secret(name: str, labels: dict[str, str] | None = None, data: str = "djE=") -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, **({"labels": labels} if labels else {})}
    return {"apiVersion": "v1", "kind": "Secret", "metadata": meta, "data": {"k": data}}


def _timed_watch(api: Api, path: str, actions: list[tuple[float, Any]]) -> tuple[list[dict[str, Any]], float]:
    """Run a watch to its end while ``actions`` happen at the given offsets; returns events and duration."""
    events: list[dict[str, Any]] = []
    stop = threading.Event()
    started = time.monotonic()
    t = threading.Thread(target=_stream, args=(api, path, events, stop))
    t.start()
    for at, action in actions:
        time.sleep(max(0.0, at - (time.monotonic() - started)))
        action()
    t.join(20)
    return events, time.monotonic() - started


def test_section4_label_selector_translation_and_bookmarks(api: Api) -> None:
    api.ns("ctl4")
    body = api.replay("4. LIST secrets labelSelector=app=widget")
    rv = body["metadata"]["resourceVersion"]
    base = "/api/v1/namespaces/ctl4/secrets"
    steps = [
        (0.1, lambda: api.post(base, _secret("s1", {"app": "widget"}))),
        (0.15, lambda: api.post(base, _secret("s2", {"app": "other"}))),
        (0.2, lambda: api.patch(f"{base}/s1", {"data": {"k": "djI="}})),
        (0.25, lambda: api.patch(f"{base}/s1", {"metadata": {"labels": {"app": "other"}}})),
        (0.3, lambda: api.patch(f"{base}/s2", {"metadata": {"labels": {"app": "widget"}}})),
        (0.35, lambda: api.http.delete(f"{base}/s2")),
    ]
    prefix = "4. WATCH secrets labelSelector=app=widget&allowWatchBookmarks=true&timeoutSeconds=5; create s1"
    events, took = _timed_watch(api, rec(prefix)["request"]["path"].replace("<rv>", rv), steps)
    assert 4.9 < took < 9, took
    errs = matches(_recorded_events(prefix), events, False)
    assert not errs, errs
    relabelled = events[2]["object"]
    assert relabelled["metadata"]["labels"] == {"app": "widget"}  # the old state ...
    assert int(relabelled["metadata"]["resourceVersion"]) > int(events[1]["object"]["metadata"]["resourceVersion"])
    assert events[-1]["object"]["metadata"].keys() == {"resourceVersion"}


def test_section4_no_bookmark_without_changes(api: Api) -> None:
    api.ns("ctl4")
    rv = api.get("/api/v1/namespaces/ctl4/secrets")["metadata"]["resourceVersion"]
    for prefix, seconds in (("4. WATCH secrets allowWatchBookmarks=true&timeoutSeconds=1", 1),
                            ("4. WATCH secrets allowWatchBookmarks=true&timeoutSeconds=5", 5)):
        started = time.monotonic()
        resp = api.send(rec(prefix), {"<rv>": rv})
        assert resp.status_code == 200 and resp.text == "", resp.text
        assert seconds - 0.1 < time.monotonic() - started < seconds + 4


def test_section4_watch_list(api: Api) -> None:
    api.ns("ctl4")
    base = "/api/v1/namespaces/ctl4/secrets"
    api.post(base, _secret("s1", {"app": "other"}, "djI="))
    api.post(base, _secret("s3", {"app": "widget"}))
    api.post(base, _secret("s4", {"app": "widget"}))
    prefix = "4. WATCH-list: sendInitialEvents=true"
    events, _ = _timed_watch(api, rec(prefix)["request"]["path"],
                             [(1.0, lambda: api.patch(f"{base}/s3", {"data": {"k": "djM="}}))])
    errs = matches(_recorded_events(prefix), events, False)
    assert not errs, errs
    for prefix in ("4. WATCH-list without allowWatchBookmarks", "4. WATCH-list with resourceVersion=0"):
        errs = matches(_recorded_events(prefix), _watch_lines(api.send(rec(prefix)).text), False)
        assert not errs, (prefix, errs)
    api.replay("4. WATCH-list without resourceVersionMatch")
    api.replay("4. sendInitialEvents on a LIST")


def test_section4_custom_resource_and_field_selector_watches(api: Api, fake: FakeKube) -> None:
    api.ns("ctl4")
    create_widget_crd(api, fake)
    rv = api.get(WIDGETS)["metadata"]["resourceVersion"]
    widget = {"apiVersion": "example.dev/v1", "kind": "Widget", "metadata": {"name": "w-watch"}, "spec": {"size": 1}}

    def put_spec() -> None:
        live = api.get(f"{WIDGETS}/w-watch")
        live["spec"]["size"] = 2
        assert api.http.put(f"{WIDGETS}/w-watch", json=live).status_code == 200

    prefix = "4. WATCH cluster-scoped widgets ("
    events, _ = _timed_watch(api, rec(prefix)["request"]["path"].replace("<rv>", rv), [
        (0.05, lambda: api.post(WIDGETS, widget)), (0.1, put_spec),
        (0.15, lambda: api.patch(f"{WIDGETS}/w-watch/status", {"status": {"observedGeneration": 2}})),
        (0.2, lambda: api.http.delete(f"{WIDGETS}/w-watch"))])
    expected = _recorded_events(prefix)
    errs = matches(expected[:4], events[:4], False)
    assert not errs, errs
    assert [e["type"] for e in events[4:]] == ["BOOKMARK"]  # the fake sends the pre-timeout one only
    assert not matches(expected[4], events[4], False)
    api.replay("4. WATCH widgets with an unsupported fieldSelector")
    api.replay("4. WATCH cluster-scoped widgets with fieldSelector metadata.namespace")
    resp = api.send(rec("4. WATCH widgets from resourceVersion=1"))
    [error] = _watch_lines(resp.text)
    expected_error = _recorded_events("4. WATCH widgets from resourceVersion=1")[0]
    served = fake.writer.crds.get("example.dev", "v1", "widgets")
    assert served is not None
    assert not matches(json.loads(json.dumps(expected_error).replace("(480)", f"({served.served_rv})")), error, False)

    base = "/api/v1/namespaces/ctl4/secrets"
    rv = api.get(base)["metadata"]["resourceVersion"]
    prefix = "4. WATCH secrets fieldSelector=metadata.name=s-one"
    events, took = _timed_watch(api, rec(prefix)["request"]["path"].replace("<rv>", rv), [
        (0.05, lambda: api.post(base, _secret("s-one", {"app": "x"}))),
        (0.1, lambda: api.post(base, _secret("s-two", {"app": "x"}))),
        (0.15, lambda: api.patch(f"{base}/s-one", {"metadata": {"labels": {"p": "1"}}})),
        (0.2, lambda: api.patch(f"{base}/s-two", {"metadata": {"labels": {"p": "1"}}})),
        (0.25, lambda: api.http.delete(f"{base}/s-one")), (0.3, lambda: api.http.delete(f"{base}/s-two"))])
    assert not matches(_recorded_events(prefix), events, False) and 2.9 < took < 7


def test_section4_too_old_resource_versions(api: Api, fake: FakeKube) -> None:
    """fake.compact() stands for an etcd compaction whose range has also left the watch cache."""
    api.ns("ctl4")
    base = "/api/v1/namespaces/ctl4/secrets"
    old = api.post(base, _secret("old1"))["metadata"]["resourceVersion"]
    api.patch(f"{base}/old1", {"data": {"k": "djI="}})
    fake.compact()
    prefix = "4. WATCH from a compacted resourceVersion that has also left"
    [error] = _watch_lines(api.send(rec(prefix), {"<compacted rv>": old}).text)
    expected = json.loads(json.dumps(_recorded_events(prefix)[0]).replace("3634 (3660)", f"{old} ({fake.store.compacted})"))
    assert not matches(expected, error, False), error


# -- the custom resource of this project, and the test hooks ------------------------------------------

def test_registrycredential_crd_from_the_repository(fake: FakeKube) -> None:
    fake.install_crd(CRD_FILE)
    api = Api(fake)
    doc = {"apiVersion": "regcred.dev/v1alpha1", "kind": "RegistryCredential", "metadata": {"name": "team"},
           "spec": {"bogus": 1}, "status": {"observedGeneration": 9}}
    r = api.http.get("/apis/regcred.dev/v1alpha1/registrycredentials")
    assert r.status_code == 200 and r.json()["items"] == []
    created = api.http.post("/apis/regcred.dev/v1alpha1/registrycredentials", json=doc)
    assert created.status_code in (201, 422), created.text
    api.http.close()


# -- 5. Events ---------------------------------------------------------------------------------------

def test_section5_events_in_two_views(api: Api) -> None:
    api.ns("ctl1")
    first, second = f"{time.time_ns():x}", f"{time.time_ns() + 1:x}"
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    def subs(hexname: str) -> dict[str, str]:
        return {"<unix-nanos-hex>": hexname, "<microtime>": microtime(), "<timestamp>": now,
                "<uid>": "0f1e2d3c-0000-4000-8000-000000000001", "<rv>": "42"}

    def replay(prefix: str, hexname: str = first) -> Any:
        record = rec(prefix)
        return check(record, api.send(record, subs(hexname)), expect={**MT, "<unix-nanos-hex>": hexname})

    created = replay("5. POST events.k8s.io/v1 Event regarding a Widget")
    assert created["deprecatedSource"] == {} and created["deprecatedFirstTimestamp"] is None
    core = replay("5. GET the same Event through core/v1")
    assert core["eventTime"] == created["eventTime"] and "count" not in core
    for prefix in ("5. POST events.k8s.io/v1 Event without eventTime", "5. POST events.k8s.io/v1 Event without "
                   "reportingController", "5. POST events.k8s.io/v1 Event without reportingInstance",
                   "5. POST events.k8s.io/v1 Event with type Info",
                   "5. POST events.k8s.io/v1 Event with eventTime without fractional",
                   "5. POST events.k8s.io/v1 Event in namespace default regarding",
                   "5. POST events.k8s.io/v1 Event with series.count 1",
                   "5. strategic-merge PATCH series", "5. merge PATCH changing note",
                   "5. merge PATCH changing reason"):
        replay(prefix)
    replay("5. POST core/v1 Event (what client-go tools/record sends)", second)
    replay("5. GET the core/v1 Event through events.k8s.io/v1", second)
    replay("5. strategic-merge PATCH count 2", second)
    for prefix in ("5. POST core/v1 Event in namespace default whose", "5. POST core/v1 Event with eventTime set",
                   "5. POST core/v1 Event with only involvedObject"):
        replay(prefix, second)
    api.patch(f"/apis/events.k8s.io/v1/namespaces/default/events/w1.{first}",
              {"series": {"count": 3, "lastObservedTime": microtime()}})
    listed = api.get("/api/v1/namespaces/default/events?fieldSelector=involvedObject.kind%3DWidget%2C"
                     "involvedObject.name%3Dw1")
    expected = rec("5. LIST core/v1 events fieldSelector")["response"]["body"]
    got = sorted(listed["items"], key=lambda i: (i["metadata"]["name"] != f"w1.{first}", i["metadata"]["name"]))
    for exp, item in zip(expected["items"], got, strict=True):
        exp = json.loads(json.dumps(exp).replace("<microtime>", "<time>"))
        exp = json.loads(re.sub(r"w1\.<unix-nanos-hex>d?", item["metadata"]["name"], json.dumps(exp)))
        errs = matches(exp, item, False)
        assert not errs, errs
    v1 = api.get("/apis/events.k8s.io/v1/namespaces/default/events?fieldSelector=regarding.name%3Dw1%2C"
                 "reportingController%3Dexample.dev%2Fwidget-controller")
    assert [i["metadata"]["name"] for i in v1["items"]] == [f"w1.{first}"]
    assert v1["apiVersion"] == "events.k8s.io/v1" and "kind" not in v1["items"][0]

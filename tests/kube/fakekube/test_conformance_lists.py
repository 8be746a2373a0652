"""Conformance of the fake's LIST and WATCH (section 10 of api-responses.json): selectors, paging, 410 Gone,
watch resume and variants, and objects moving into and out of a label selector."""

from __future__ import annotations

import base64
import json
import threading
import time
from typing import Any

from tests.kube.fakekube.replay import (
    Client,
    check,
    matches,
    rec,
    seed_section10,
)
from tests.support.fakekube import FakeKube

# -- 10. LIST / WATCH -----------------------------------------------------------------------------

def test_section10_selectors(api: Client) -> None:
    seed_section10(api)
    api.replay("10. LIST namespaces with labelSelector team=x")
    api.replay("10. LIST namespaces with a set-based selector kubernetes.io/metadata.name in (rc10a,rc10c)")
    api.replay("10. LIST serviceaccounts cluster-wide with fieldSelector metadata.namespace=rc10a and labelSelector "
               "app=regcred")
    api.replay("10. LIST serviceaccounts with an unsupported fieldSelector")
    api.replay("10. LIST with an invalid labelSelector")
    api.replay("10. LIST that matches nothing")
    api.replay("10. LIST with a garbage continue token")
    api.replay("10. LIST with resourceVersion=1&resourceVersionMatch=Exact (old revision)")
    body = api.get("/api/v1/serviceaccounts?fieldSelector=metadata.name%3Ddefault")
    record = rec("10. LIST serviceaccounts across all namespaces, fieldSelector metadata.name=default")
    expected_ns = [i["metadata"]["namespace"] for i in record["response"]["body"]["items"]]
    got_ns = [i["metadata"]["namespace"] for i in body["items"]]
    assert got_ns == [n for n in expected_ns if n in got_ns]  # same etcd key order (rc1 < rc10a < rc1b < rc2)
    assert all("kind" not in i and "apiVersion" not in i for i in body["items"])
    assert body["kind"] == "ServiceAccountList" and body["apiVersion"] == "v1"
    newest = max(int(i["metadata"]["resourceVersion"]) for i in body["items"])
    assert int(body["metadata"]["resourceVersion"]) >= newest


def test_section10_paging() -> None:
    with FakeKube(controller_service_accounts=True) as kube:
        api = Client(kube)
        _paging(api)
        api.http.close()


def _paging(api: Client) -> None:
    seed_section10(api)
    page1 = api.replay("10. LIST serviceaccounts with limit=2 (page 1)", ignore=("metadata",))
    token = page1["metadata"]["continue"]
    assert json.loads(base64.urlsafe_b64decode(token + "==")) == {
        "v": "meta.k8s.io/v1", "rv": int(page1["metadata"]["resourceVersion"]), "start": "/kube-node-lease/default\x00"}
    api.sa("rc10c", "late")  # not visible in later pages: the list is a snapshot
    page2 = api.replay("10. LIST serviceaccounts with limit=2 (page 2, continue=<token from page 1>)",
                       path=f"/api/v1/serviceaccounts?limit=2&continue={token}", ignore=("metadata",))
    assert page1["metadata"]["remainingItemCount"] == 43  # 7 namespaces' defaults, s1..s3, 35 controllers
    assert page2["metadata"]["resourceVersion"] == page1["metadata"]["resourceVersion"]
    assert page2["metadata"]["remainingItemCount"] == page1["metadata"]["remainingItemCount"] - 2
    names, cont = [], token
    while cont:
        page = api.get(f"/api/v1/serviceaccounts?limit=2&continue={cont}")
        names += [f"{i['metadata']['namespace']}/{i['metadata']['name']}" for i in page["items"]]
        cont = page["metadata"].get("continue")
    assert "rc10c/late" not in names and names == sorted(names)


def test_section10_too_old(api: Client, fake: FakeKube) -> None:
    seed_section10(api)
    token = api.get("/api/v1/serviceaccounts?limit=2")["metadata"]["continue"]
    api.sa("rc10c", "later")  # a newer revision, so the token's revision gets compacted away
    fake.compact()
    api.replay("10-too-old. LIST with resourceVersion=1&resourceVersionMatch=Exact after compaction")
    ok = api.http.get(f"/api/v1/serviceaccounts?limit=2&continue={token}")
    record = rec("10-too-old. LIST page 2 with a continue token older than the compaction")
    assert ok.status_code == record["response"]["status"] == 200  # the apiserver still holds the snapshot
    assert ok.json()["metadata"]["resourceVersion"] == str(json.loads(base64.urlsafe_b64decode(token + "=="))["rv"])
    api.replay("10-too-old. LIST with resourceVersion=1 (NotOlderThan semantics, no resourceVersionMatch)")
    fake.compact(restart=True)
    record = rec("10-too-old. LIST page 2 with the pre-compaction continue token, after the apiserver restart")
    body = check(record, api.http.get(f"/api/v1/serviceaccounts?limit=2&continue={token}"),
                 ignore=("metadata",))
    new = json.loads(base64.urlsafe_b64decode(body["metadata"]["continue"] + "=="))
    assert new["rv"] == -1 and new["start"] == "kube-node-lease/default\x00"
    for scenario in ("10-too-old. WATCH resourceVersion=1 after an apiserver restart",
                     "10-too-old. WATCH cluster-wide resourceVersion=1 after an apiserver restart"):
        record = rec(scenario)
        resp = api.send(record)
        assert resp.status_code == 200
        lines = [json.loads(x) for x in resp.text.splitlines() if x]
        assert len(lines) == 1 and lines[0]["type"] == "ERROR"
        expected = json.loads(json.dumps(record["response"]["body"][0]).replace("(458)", f"({fake.store.compacted})"))
        assert not matches(expected, lines[0], False)


def _watch(api: Client, path: str, out: list[dict[str, Any]], stop: threading.Event) -> None:
    with api.http.stream("GET", path, timeout=10) as resp:
        assert resp.status_code == 200
        assert resp.headers["content-type"] == "application/json"
        assert resp.headers["transfer-encoding"] == "chunked"
        for line in resp.iter_lines():
            if line:
                out.append(json.loads(line))
            if stop.is_set():
                return


def test_section10_watch_from_a_list_resource_version(api: Client) -> None:
    seed_section10(api)
    rv = api.get("/api/v1/namespaces/rc10a/serviceaccounts")["metadata"]["resourceVersion"]
    events: list[dict[str, Any]] = []
    stop = threading.Event()
    t = threading.Thread(target=_watch, args=(api, f"/api/v1/namespaces/rc10a/serviceaccounts?watch=1&"
                                                   f"resourceVersion={rv}&timeoutSeconds=3", events, stop))
    t.start()
    created = api.sa("rc10a", "w1", ["a"])
    patched = api.patch("/api/v1/namespaces/rc10a/serviceaccounts/w1", {"imagePullSecrets": [{"name": "a"},
                                                                                             {"name": "b"}]})
    deleted = api.http.delete("/api/v1/namespaces/rc10a/serviceaccounts/w1").json()
    time.sleep(0.3)
    stop.set()
    t.join(5)
    record = rec("10. WATCH serviceaccounts from the list's resourceVersion; then create, patch, delete SA w1")
    errs = matches(record["response"]["body"], events, False)
    assert not errs, errs
    rvs = [e["object"]["metadata"]["resourceVersion"] for e in events]
    assert rvs == [created["metadata"]["resourceVersion"], patched["metadata"]["resourceVersion"],
                   deleted["metadata"]["resourceVersion"]]
    assert int(rvs[2]) > int(rvs[1])  # DELETED is a new revision carrying the last state
    facts = rec("13. resourceVersion carried by watch events")["response"]["body"]
    assert [e["type"] for e in events] == facts["events"]
    assert events[2]["object"]["imagePullSecrets"] == events[1]["object"]["imagePullSecrets"]


def test_section10_watch_variants(api: Client) -> None:
    seed_section10(api)
    for scenario, n in (("10. WATCH serviceaccounts with no resourceVersion", 4),
                        ("10. WATCH serviceaccounts with resourceVersion=0", 4),
                        ("10. WATCH-list: sendInitialEvents=true&allowWatchBookmarks=true&resourceVersionMatch="
                         "NotOlderThan", 5),
                        ("10. WATCH with fieldSelector metadata.name=s1 (single object)", 1)):
        record = rec(scenario)
        resp = api.http.get(record["request"]["path"] + "&timeoutSeconds=1")
        events = [json.loads(x) for x in resp.text.splitlines() if x]
        assert len(events) == n, (scenario, events)
        errs = matches(record["response"]["body"], events, False)
        assert not errs, (scenario, errs)
    started = time.monotonic()
    rv = api.get("/api/v1/namespaces/rc10c/serviceaccounts")["metadata"]["resourceVersion"]
    record = rec("10. WATCH with timeoutSeconds=1")
    resp = api.send(record, {"<rv>": rv})
    assert resp.status_code == 200 and resp.text == "" and 0.9 < time.monotonic() - started < 3
    record = rec("10. WATCH serviceaccounts with resourceVersion=1 on a FRESH apiserver")
    history = api.http.get(record["request"]["path"] + "&timeoutSeconds=1")
    events = [json.loads(x) for x in history.text.splitlines()]
    assert not matches(record["response"]["body"], events[:3], False)
    assert [e["object"]["metadata"]["name"] for e in events] == ["default", "s1", "s2", "s3"]


def test_watch_follows_objects_into_and_out_of_a_label_selector(api: Client) -> None:
    api.ns("w")
    api.sa("w", "s")
    rv = api.get("/api/v1/namespaces/w/serviceaccounts")["metadata"]["resourceVersion"]
    api.patch("/api/v1/namespaces/w/serviceaccounts/s", {"metadata": {"labels": {"pick": "me"}}})
    api.patch("/api/v1/namespaces/w/serviceaccounts/s", {"metadata": {"labels": {"pick": "other"}}})
    resp = api.http.get(f"/api/v1/namespaces/w/serviceaccounts?watch=1&resourceVersion={rv}&labelSelector=pick%3Dme"
                        "&timeoutSeconds=1")
    assert [json.loads(x)["type"] for x in resp.text.splitlines()] == ["ADDED", "DELETED"]

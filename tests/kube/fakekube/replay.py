"""Replaying recorded kube-apiserver answers against the fake: the recordings, the comparison, a small client.

Shared by the conformance tests of this folder (test_conformance*.py).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.fakekube import FakeKube

_CANDIDATES = [
    Path(__file__).with_name("api-responses.json"),
    Path(os.environ.get("REGCRED_API_RESPONSES", "/nonexistent")),
    Path(__file__).resolve().parents[4] / "shared" / "reference" / "api-responses.json",  # CI: shared/ beside the clone
    Path("/work/shared/reference/api-responses.json"),  # a clone elsewhere on this machine
]
REF = next((p for p in _CANDIDATES if p.is_file()), None)
RECORDS: dict[str, dict[str, Any]] = {}
if REF is not None:
    for _r in json.loads(REF.read_text()):
        RECORDS.setdefault(_r["scenario"], _r)

WILD = re.compile(r"<(uid|rv|timestamp|time|audit-id|date|flowschema-uid|prioritylevel-uid|etag|n|token|admin-token)>")
ACCESS_VOL = re.compile(r"kube-api-access-[a-z0-9]{5}")
GOOD = ("eyJhdXRocyI6IHsicmVnaXN0cnkuZXhhbXBsZS5jb20iOiB7InVzZXJuYW1lIjogInUiLCAicGFzc3dvcmQiOiAicCIsICJhdXRo"
        "IjogImRUcHcifX19")


def rec(scenario: str) -> dict[str, Any]:
    """The recorded answer; without the recordings (reference data, not a component) the test skips, visibly."""
    if REF is None:
        pytest.skip("api-responses.json (recorded kube-apiserver answers) not found; looked at "
                    + ", ".join(map(str, _CANDIDATES)))
    return RECORDS[scenario]


# -- comparison ---------------------------------------------------------------------

def _is_trim(v: Any) -> bool:
    return isinstance(v, str) and (v.endswith("trimmed>") or v.startswith("<...") or v == "<trimmed>"
                                   or v.startswith("<rest of") or re.fullmatch(r"<\d+ items>", v) is not None)


def has_trim(doc: Any) -> bool:
    if isinstance(doc, dict):
        return "..." in doc or any(has_trim(v) for k, v in doc.items() if k != "managedFields")
    if isinstance(doc, list):
        return any(has_trim(x) for x in doc)
    return _is_trim(doc) and doc != "<managedFields trimmed>"


def _pattern(exp: str) -> re.Pattern[str]:
    out, pos = [], 0
    for m in WILD.finditer(exp):
        out.append(re.escape(exp[pos:m.start()]))
        out.append(".+?")
        pos = m.end()
    out.append(re.escape(exp[pos:]))
    return re.compile("".join(out), re.S)


def matches(exp: Any, act: Any, partial: bool, path: str = "$") -> list[str]:
    """Differences between a recorded value and the fake's (empty list: equal)."""
    if isinstance(exp, str):
        if _is_trim(exp):
            return []
        if not isinstance(act, str):
            return [f"{path}: expected string {exp!r}, got {act!r}"]
        if not _pattern(ACCESS_VOL.sub("kube-api-access-x", exp)).fullmatch(ACCESS_VOL.sub("kube-api-access-x", act)):
            return [f"{path}: expected {exp!r}, got {act!r}"]
        return []
    if isinstance(exp, dict):
        if not isinstance(act, dict):
            return [f"{path}: expected object, got {act!r}"]
        errs: list[str] = []
        for k, v in exp.items():
            if k in ("...", "_group_names") or (_is_trim(v) and k not in act):
                continue
            if k not in act:
                errs.append(f"{path}.{k}: missing (expected {v!r})")
                continue
            errs += matches(v, act[k], partial, f"{path}.{k}")
        if not partial and "..." not in exp:
            extra = set(act) - set(exp)
            if extra:
                errs.append(f"{path}: unexpected keys {sorted(extra)}")
        return errs
    if isinstance(exp, list):
        if not isinstance(act, list):
            return [f"{path}: expected list, got {act!r}"]
        items = [x for x in exp if not _is_trim(x)]
        if partial or len(items) != len(exp):
            return [f"{path}: no element matches {x!r}" for x in items
                    if not any(not matches(x, a, partial) for a in act)]
        if len(exp) != len(act):
            return [f"{path}: expected {len(exp)} items {exp!r}, got {len(act)}: {act!r}"]
        return [e for i, (x, a) in enumerate(zip(exp, act, strict=True)) for e in matches(x, a, partial, f"{path}[{i}]")]
    if type(exp) is not type(act) or exp != act:
        return [f"{path}: expected {exp!r}, got {act!r}"]
    return []


def check(record: dict[str, Any], resp: httpx.Response, *, message_until: str | None = None,
          ignore: tuple[str, ...] = (), expect: dict[str, str] | None = None) -> Any:
    """Assert the fake's answer matches the recorded one; returns the decoded body."""
    want = record["response"]
    name = record["scenario"]
    assert resp.status_code == want["status"], f"{name}: status {resp.status_code} != {want['status']}: {resp.text}"
    for h in ("Content-Type", "Warning", "Retry-After", "X-Content-Type-Options"):
        if h in want["headers"] and h not in ignore:
            got = resp.headers.get(h)
            assert got == want["headers"][h], f"{name}: header {h}: {got!r} != {want['headers'][h]!r}"
    exp = _subst(want["body"], expect or {})
    if not isinstance(exp, dict | list):
        if isinstance(exp, str) and exp and not exp.startswith("<"):
            assert resp.text.strip() == exp.strip(), f"{name}: body {resp.text!r}"
        return resp.text
    body = full = resp.json() if "json" in resp.headers.get("content-type", "") else resp.text
    if isinstance(exp, dict):
        exp = {k: v for k, v in exp.items() if k not in ignore}
        if isinstance(body, dict):
            body = {k: v for k, v in body.items() if k not in ignore}
        if message_until and isinstance(exp.get("message"), str):
            cut = exp["message"].index(message_until)
            assert body["message"].startswith(exp["message"][:cut]), f"{name}: message {body['message']!r}"
            exp = {k: v for k, v in exp.items() if k not in ("message", "details")}
            body = {k: v for k, v in body.items() if k not in ("message", "details")}
    errs = matches(exp, body, has_trim(exp))
    assert not errs, f"{name}:\n  " + "\n  ".join(errs) + f"\n  got: {json.dumps(body)[:3000]}"
    return full


# -- sending ------------------------------------------------------------------------

def _subst(v: Any, subs: dict[str, str]) -> Any:
    if isinstance(v, str):
        for k, val in subs.items():
            v = v.replace(k, val)
        return v
    if isinstance(v, dict):
        return {k: _subst(x, subs) for k, x in v.items()}
    if isinstance(v, list):
        return [_subst(x, subs) for x in v]
    return v


class Client:
    """Replays recorded requests against a FakeKube (as admin unless a token is given)."""

    def __init__(self, kube: FakeKube) -> None:
        self.kube = kube
        self.http = httpx.Client(base_url=kube.url, timeout=30, headers={
            "Authorization": f"Bearer {kube.admin.token}", "Accept": "application/json",
            "User-Agent": "regcred-tool/0.1 (linux/amd64)"})

    def send(self, record: dict[str, Any], subs: dict[str, str] | None = None, *, body: Any = None,
             token: str | None = None, path: str | None = None) -> httpx.Response:
        req = record["request"]
        subs = subs or {}
        headers = {k: v for k, v in req["headers"].items() if k in ("Accept", "Content-Type")}
        if "Authorization" in req["headers"]:
            auth = req["headers"]["Authorization"]
            if auth == "Bearer <token>":
                auth = f"Bearer {token}"
            elif auth == "Bearer <admin-token>":
                auth = f"Bearer {self.kube.admin.token}"
            headers["Authorization"] = auth
        else:
            headers["Authorization"] = ""
        content = body if body is not None else _subst(req["body"], subs)
        if isinstance(content, dict | list):
            content = json.dumps(content)
        return self.http.request(req["method"], path or _subst(req["path"], subs), headers=headers,
                                 content=content.encode() if isinstance(content, str) else content)

    def replay(self, scenario: str, subs: dict[str, str] | None = None, *, path: str | None = None,
               **kw: Any) -> Any:
        record = rec(scenario)
        return check(record, self.send(record, subs, path=path), **kw)

    def post(self, path: str, obj: dict[str, Any]) -> dict[str, Any]:
        r = self.http.post(path, json=obj)
        assert r.status_code == 201, r.text
        return r.json()

    def get(self, path: str) -> dict[str, Any]:
        r = self.http.get(path)
        assert r.status_code == 200, r.text
        return r.json()

    def ns(self, name: str, labels: dict[str, str] | None = None) -> None:
        meta: dict[str, Any] = {"name": name}
        if labels:
            meta["labels"] = labels
        self.post("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": meta})

    def sa(self, ns: str, name: str, pull: list[str] | None = None, **meta: Any) -> dict[str, Any]:
        obj: dict[str, Any] = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name, **meta}}
        if pull is not None:
            obj["imagePullSecrets"] = [{"name": n} for n in pull]
        return self.post(f"/api/v1/namespaces/{ns}/serviceaccounts", obj)

    def patch(self, path: str, patch: Any, ctype: str = "application/merge-patch+json") -> dict[str, Any]:
        r = self.http.patch(path, content=json.dumps(patch), headers={"Content-Type": ctype})
        assert r.status_code == 200, r.text
        return r.json()


def deployment(name: str, pull: list[str], ns: str | None = None) -> dict[str, Any]:
    labels = {"app": name}
    meta: dict[str, Any] = {"name": name, **({"namespace": ns} if ns else {})}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta,
            "spec": {"replicas": 1, "selector": {"matchLabels": labels}, "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "c", "image": "registry.example.com/app:1"}],
                         "imagePullSecrets": [{"name": n} for n in pull]}}}}


def seed_section10(api: Client) -> None:
    """The namespaces and ServiceAccounts section 10 of the recordings was taken with."""
    api.ns("rc10a", {"team": "x"})
    api.ns("rc10b", {"team": "x"})
    api.ns("rc10c")
    for name in ("s1", "s2", "s3"):
        api.sa("rc10a", name, ["a"], labels={"app": "regcred"})

"""Conformance of the fake kube-apiserver against recordings of a real kube-apiserver v1.36.2.

Each test replays scenarios from ``api-responses.json`` (after setting up the state the
recording assumed) and compares status code, reason, message (placeholders normalised),
headers that matter and the body. Bodies recorded in full are compared strictly (no missing
and no extra keys); bodies the recording trimmed are compared as subsets.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.fakekube import FakeKube
from tests.support.fixtures import require_binaries

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


@pytest.fixture
def fake() -> Iterator[FakeKube]:
    with FakeKube(too_large_rv_wait=0.2) as kube:
        yield kube


@pytest.fixture
def api(fake: FakeKube) -> Iterator[Client]:
    c = Client(fake)
    yield c
    c.http.close()


# -- 1. GET / 404 shapes ---------------------------------------------------------------

def test_section1_get_and_404_shapes(api: Client) -> None:
    api.replay("1. create namespace (setup, shown once for shape)")
    api.replay("1. GET default ServiceAccount")
    api.replay("1. GET missing Secret")
    api.replay("1. GET object in a namespace that does not exist")
    api.replay("1. POST into a namespace that does not exist")
    api.replay("1. GET missing apps/v1 Deployment")


def test_section1_default_sa_race_when_the_controller_is_slow() -> None:
    with FakeKube(default_sa_delay=0.3) as kube:
        c = Client(kube)
        c.ns("rc1b")
        c.replay("1. GET default ServiceAccount immediately after creating the namespace (race)")
        time.sleep(0.5)
        assert c.get("/api/v1/namespaces/rc1b/serviceaccounts/default")["metadata"]["name"] == "default"
        c.http.close()


# -- 2. PUT preconditions ----------------------------------------------------------------

def test_section2_update_preconditions(api: Client) -> None:
    api.ns("rc2")
    stale = api.sa("rc2", "app", ["a"])["metadata"]["resourceVersion"]
    api.patch("/api/v1/namespaces/rc2/serviceaccounts/app", {"metadata": {"labels": {"x": "y"}}})
    api.replay("2. PUT ServiceAccount with stale resourceVersion", {"<stale rv>": stale})
    body = api.replay("2. PUT ServiceAccount with NO resourceVersion (unconditional update)")
    assert "labels" not in body["metadata"]
    current = api.get("/api/v1/namespaces/rc2/serviceaccounts/app")["metadata"]["resourceVersion"]
    after = api.replay("2. PUT ServiceAccount with current resourceVersion", {"<current rv>": current})
    assert int(after["metadata"]["resourceVersion"]) > int(current)
    api.replay("2. merge PATCH carrying a stale metadata.resourceVersion", {"<stale rv>": stale})
    api.replay("2. PUT whose body name differs from the URL name")
    api.replay("2. PUT whose body namespace differs from the URL namespace")
    api.replay("2. POST a ServiceAccount that already exists")
    api.replay("2. PUT a ServiceAccount that does not exist")
    api.replay("2. PUT a Secret that does not exist")
    api.replay("2. PATCH a ServiceAccount that does not exist")


# -- 3. PATCH flavours on ServiceAccount.imagePullSecrets ---------------------------------

def test_section3_patch_flavours(api: Client) -> None:
    api.ns("rc3")
    for name, pull in (("smp", ["a"]), ("merge", ["a"]), ("jp", ["a"]), ("jp-absent", None), ("jp-test", ["a"]),
                       ("jp-rv", ["a"]), ("jp-rv2", ["a"]), ("smp-del", ["a", "c"]), ("misc", ["a"])):
        api.sa("rc3", name, pull)
    api.replay("3. strategic-merge-patch imagePullSecrets [b] onto [a]")
    api.replay("3. merge-patch imagePullSecrets [b] onto [a]")
    api.replay("3. json-patch add /imagePullSecrets/- {name:b} onto [a]")
    before = api.get("/api/v1/namespaces/rc3/serviceaccounts/jp-absent")["metadata"]["resourceVersion"]
    api.replay("3. json-patch add /imagePullSecrets/- when imagePullSecrets is absent")
    assert api.get("/api/v1/namespaces/rc3/serviceaccounts/jp-absent")["metadata"]["resourceVersion"] == before
    api.replay("3. json-patch add /imagePullSecrets (whole array) when absent")
    api.replay("3. json-patch with a failing test op")
    assert [r["name"] for r in api.get("/api/v1/namespaces/rc3/serviceaccounts/jp-test")["imagePullSecrets"]] == ["a"]
    api.replay("3. json-patch test on a path that does not exist")
    rv = api.get("/api/v1/namespaces/rc3/serviceaccounts/jp-rv")["metadata"]["resourceVersion"]
    api.replay("3. json-patch test /metadata/resourceVersion == current, then add", {"<current rv>": rv})
    api.replay("3. json-patch test /metadata/resourceVersion == stale, then add",
               {"<stale rv (the one used above)>": rv})
    api.replay("3. json-patch test with resourceVersion as a JSON number (type mismatch)")
    api.replay("3. json-patch replace on a missing path")
    api.replay("3. json-patch remove of an out-of-range index")
    api.replay("3. json-patch body that is not a JSON array")
    api.replay("3. strategic-merge-patch with $patch: delete element on the atomic SA list [a, c]")
    api.replay("3. strategic-merge-patch imagePullSecrets: null")
    api.replay("3. PATCH with Content-Type application/json (unsupported)")
    api.replay("3. strategic-merge-patch that is not valid JSON")
    api.replay('3. merge-patch setting a wrong type (imagePullSecrets: "a")')


# -- 5. strategic merge patch on a pod template ---------------------------------------------

def deployment(name: str, pull: list[str], ns: str | None = None) -> dict[str, Any]:
    labels = {"app": name}
    meta: dict[str, Any] = {"name": name, **({"namespace": ns} if ns else {})}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta,
            "spec": {"replicas": 1, "selector": {"matchLabels": labels}, "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "c", "image": "registry.example.com/app:1"}],
                         "imagePullSecrets": [{"name": n} for n in pull]}}}}


def test_section5_strategic_merge_on_a_template(api: Client) -> None:
    api.ns("rc5")
    assert api.post("/apis/apps/v1/namespaces/rc5/deployments", deployment("d5", ["a"]))["metadata"]["generation"] == 1
    api.replay("5. SMP Deployment template imagePullSecrets [b] onto [a]")
    rv = api.get("/apis/apps/v1/namespaces/rc5/deployments/d5")["metadata"]["resourceVersion"]
    api.replay("5. SMP adding an entry that already exists [a]")
    assert api.get("/apis/apps/v1/namespaces/rc5/deployments/d5")["metadata"]["resourceVersion"] == rv
    api.replay("5. SMP $patch: delete of entry a")
    api.replay("5. SMP $patch: delete of an entry that is not there")
    api.replay("5. SMP with $setElementOrder (what kubectl apply/edit sends)")
    api.replay("5. SMP $patch: replace on the list")
    api.replay("5. merge-patch (RFC 7386) on Deployment template imagePullSecrets [b]")


# -- 6. dockerconfigjson Secrets ------------------------------------------------------------

SECTION6 = [
    "6. create dockerconfigjson Secret, valid JSON (data, base64)",
    "6. create dockerconfigjson Secret, data not JSON",
    '6. create dockerconfigjson Secret with {"auths":[]}',
    "6. create dockerconfigjson Secret with {} (empty object)",
    "6. create dockerconfigjson Secret with a JSON array []",
    "6. create dockerconfigjson Secret with JSON null",
    "6. create dockerconfigjson Secret with empty value",
    "6. create dockerconfigjson Secret without the .dockerconfigjson key",
    "6. create dockerconfigjson Secret with no data at all",
    "6. create dockerconfigjson Secret via stringData",
    "6. create Secret whose data value is not valid base64",
    "6. create Secret with an invalid data key",
    "6. create legacy kubernetes.io/dockercfg Secret with .dockercfg",
]


def test_section6_dockerconfigjson_validation(api: Client) -> None:
    api.ns("rc6")
    for scenario in SECTION6:
        api.replay(scenario)
    assert "stringData" not in api.get("/api/v1/namespaces/rc6/secrets/via-stringdata")


def test_section6_type_immutability_dry_run_and_immutable(api: Client) -> None:
    api.ns("rc6")
    api.replay(SECTION6[0])
    opaque = api.post("/api/v1/namespaces/rc6/secrets", {"apiVersion": "v1", "kind": "Secret",
                                                         "metadata": {"name": "opaque1"}, "data": {"k": "dg=="}})
    record = rec("6. PUT existing Opaque Secret changing type to kubernetes.io/dockerconfigjson")
    opaque["type"] = "kubernetes.io/dockerconfigjson"
    opaque["data"] = {".dockerconfigjson": GOOD}
    check(record, api.send(record, body=opaque))
    api.replay("6. merge PATCH changing a Secret's type")
    api.replay("6. create with no type")
    api.replay("6. create with ?dryRun=All")
    api.replay("6. GET the dry-run Secret afterwards")
    api.replay("6. create with ?dryRun=All, invalid data")
    api.replay("6. create with ?dryRun=true (invalid value)")
    api.replay("6. create existing name with ?dryRun=All")
    rv = api.get("/api/v1/namespaces/rc6/secrets/good")["metadata"]["resourceVersion"]
    dry = api.replay("6. merge PATCH with ?dryRun=All")
    assert dry["metadata"]["resourceVersion"] == rv
    api.replay("6. GET after dry-run PATCH")
    api.post("/api/v1/namespaces/rc6/secrets", {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "immut"},
                                                "immutable": True, "data": {"k": "dg=="}})
    api.replay("6. merge PATCH data of an immutable Secret")


# -- 7. pods, ServiceAccount admission --------------------------------------------------------

def test_section7_service_account_admission(api: Client) -> None:
    api.ns("rc7")
    api.patch("/api/v1/namespaces/rc7/serviceaccounts/default", {"imagePullSecrets": [{"name": "a"}]})
    api.replay("7. create Pod with no imagePullSecrets; default SA has [a]")
    api.replay("7. create Pod with its own [x]; default SA has [a]")
    api.replay("7. create Pod with imagePullSecrets: [] (explicit empty)")
    api.replay("7. strategic-merge PATCH pod.spec.imagePullSecrets on a live Pod", message_until="\n@@")
    body = api.send(rec("7. strategic-merge PATCH pod.spec.imagePullSecrets on a live Pod")).json()
    assert '+   "Name": "b"' in body["message"] and body["details"]["causes"][0]["field"] == "spec"
    pod = api.get("/api/v1/namespaces/rc7/pods/p2")
    pod["spec"]["imagePullSecrets"] = [{"name": "y"}]
    record = rec("7. PUT a live Pod with changed imagePullSecrets")
    check(record, api.send(record, body=pod), message_until="\n@@")
    api.ns("rc7b")
    api.replay("7. create Pod immediately after creating its namespace (default SA not there yet)")
    api.replay("7. create Pod whose serviceAccountName does not exist")


def test_section7_pod_waits_briefly_for_a_late_default_sa() -> None:
    with FakeKube(default_sa_delay=0.2) as kube:
        c = Client(kube)
        c.ns("rc7b")
        c.replay("7. create Pod immediately after creating its namespace (default SA not there yet)")
        c.http.close()
    with FakeKube(auto_default_sa=False, sa_admission_wait=0.1) as kube:
        c = Client(kube)
        c.ns("rc7b")
        r = c.send(rec("7. create Pod immediately after creating its namespace (default SA not there yet)"))
        assert r.status_code == 403
        assert r.json()["message"] == ('pods "early" is forbidden: error looking up service account rc7b/default: '
                                       'serviceaccount "default" not found')
        c.http.close()


# -- 8. a terminating namespace ---------------------------------------------------------------

def test_section8_terminating_namespace(api: Client, fake: FakeKube) -> None:
    api.ns("rc8")
    api.sa("rc8", "keep")
    api.sa("rc8", "held", ["a"], finalizers=["example.com/hold"])
    api.replay("8. DELETE a namespace holding objects")
    api.replay("8. GET the namespace immediately after DELETE")
    api.replay("8. create a Secret in the terminating namespace")
    api.replay("8. merge PATCH an existing ServiceAccount in the terminating namespace (~12 ms after DELETE)")
    api.replay("8. create a ServiceAccount in the terminating namespace")
    api.replay("8. DELETE the namespace again while it is terminating")
    assert fake.finish_namespace_deletion("rc8") is False  # 'held' keeps it Terminating
    api.replay("8. GET the namespace once the controller has run (content blocked by a finalizer on SA 'held')",
               ignore=("status",))
    api.replay("8. GET SA 'keep' after the controller ran")
    api.replay("8. GET SA 'held' (has finalizer example.com/hold)")
    api.replay("8. merge PATCH imagePullSecrets of SA 'held' (being deleted, in terminating ns)")
    api.replay("8. merge PATCH adding a new finalizer to SA 'held' (being deleted)")
    api.replay("8. merge PATCH removing the finalizer of SA 'held'")
    api.replay("8. GET the namespace after its content is gone")


# -- 9. identities without rights ---------------------------------------------------------------

def test_section9_forbidden_and_unauthorized(api: Client, fake: FakeKube) -> None:
    api.ns("rc9")
    api.sa("rc9", "nobody")
    assert rec("9. get a token: kubectl create token nobody -n rc9")["request"]["path"].startswith("kubectl")
    minted = api.replay("9. TokenRequest (what kubectl create token calls)")
    token = minted["status"]["token"]
    assert len(token.split(".")) == 3
    nobody = fake.auth.authenticate(f"Bearer {token}")
    assert nobody is not None and nobody.name == "system:serviceaccount:rc9:nobody"
    for scenario in (
        "9. GET a ServiceAccount as system:serviceaccount:rc9:nobody",
        "9. PATCH a ServiceAccount as nobody",
        "9. LIST ServiceAccounts as nobody",
        "9. LIST ServiceAccounts across all namespaces as nobody",
        "9. GET a Namespace (cluster-scoped) as nobody",
        "9. CREATE a Secret as nobody",
        "9. GET a Deployment (named API group) as nobody",
        "9. POST (create) the serviceaccounts/token subresource as nobody",
        "9. GET /version as nobody",
        "10. WATCH as an identity without rights",
    ):
        record = rec(scenario)
        check(record, api.send(record, token=nobody.token))
    record = rec("9. SelfSubjectReview (who am I) as nobody")
    body = api.send(record, token=nobody.token).json()
    assert body["status"]["userInfo"]["username"] == "system:serviceaccount:rc9:nobody"
    assert body["status"]["userInfo"]["groups"] == record["response"]["body"]["status"]["userInfo"]["groups"]
    api.replay("9. request with an invalid bearer token")
    api.replay("9. request with no credentials (anonymous auth is disabled here)")
    from tests.support.fakekube import Rule

    fake.grant(nobody.name, [Rule.of(["get"], ["serviceaccounts"], namespaces=["rc9"])])  # like a RoleBinding
    ok = api.send(rec("9. GET a ServiceAccount as system:serviceaccount:rc9:nobody"), token=token)
    assert ok.status_code == 200 and ok.json()["metadata"]["name"] == "default"


# -- 10. LIST / WATCH -----------------------------------------------------------------------------

def _section10(api: Client) -> None:
    api.ns("rc10a", {"team": "x"})
    api.ns("rc10b", {"team": "x"})
    api.ns("rc10c")
    for name in ("s1", "s2", "s3"):
        api.sa("rc10a", name, ["a"], labels={"app": "regcred"})


def test_section10_selectors(api: Client) -> None:
    _section10(api)
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
    _section10(api)
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
    _section10(api)
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
    _section10(api)
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
    _section10(api)
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


# -- 11. warnings, negotiation, unknown paths ----------------------------------------------------

def test_section11_headers_and_edge_answers(api: Client) -> None:
    _section10(api)
    api.replay("11. create Pod with duplicate imagePullSecrets [a, a]")
    api.replay("11. create Pod with an empty imagePullSecrets name")
    record = rec("11. create Deployment whose template has duplicate imagePullSecrets")
    resp = api.send(record)
    check(record, resp, ignore=("kind", "metadata", "spec.template.spec.imagePullSecrets"))
    assert resp.json()["spec"]["template"]["spec"]["imagePullSecrets"] == [{"name": "a"}, {"name": "a"}]
    api.replay("11. create ServiceAccount with duplicate imagePullSecrets [a, a]")
    api.replay("11. create ServiceAccount with a misspelled field (imagePullSecret)")
    api.replay("11. same with ?fieldValidation=Strict")
    api.replay("11. strategic-merge PATCH with an unknown field")
    started = time.monotonic()
    now = str(api.kube.resource_version)
    api.replay("11. LIST with a resourceVersion far in the future (NotOlderThan)", expect={"443": now})
    api.replay("11. GET single object with a future resourceVersion", expect={"445": now})
    assert time.monotonic() - started >= 0.4  # the server waits before answering 504
    api.replay("11. unknown resource under /api/v1")
    api.replay("11. unknown API group")
    api.replay("11. totally unknown path")
    api.replay("11. method not allowed: POST to an item URL")
    record = rec("11. Accept: application/yaml on an error")
    resp = api.send(record)
    assert resp.status_code == 404 and resp.headers["content-type"] == "application/yaml"
    assert resp.text == record["response"]["body"]
    api.replay("11. Accept: text/plain (unsupported)")


# -- 12. discovery ------------------------------------------------------------------------------------

def test_section12_discovery(api: Client) -> None:
    api.replay("12. GET /version")
    body = api.replay("12. GET /api", ignore=("serverAddressByClientCIDRs",))
    assert body["serverAddressByClientCIDRs"] == [{"clientCIDR": "0.0.0.0/0",
                                                   "serverAddress": f"127.0.0.1:{api.kube.port}"}]
    record = rec("12. GET /apis")
    groups = check(record, api.send(record), ignore=("groups",))["groups"]
    recorded_apps = record["response"]["body"]["groups"][1]
    assert recorded_apps in groups  # only the groups the fake serves are listed (apps, batch, reviews)
    assert {"apps", "batch"} <= {g["name"] for g in groups}
    core = api.replay("12. GET /api/v1 (trimmed to a few resources)")
    assert "apiVersion" not in core
    assert {"namespaces", "pods", "secrets", "serviceaccounts", "podtemplates", "replicationcontrollers"} <= {
        r["name"] for r in core["resources"]}
    apps = api.replay("12. GET /apis/apps/v1 (trimmed)")
    assert {r["name"] for r in apps["resources"] if "/" not in r["name"]} == {
        "deployments", "statefulsets", "daemonsets", "replicasets"}
    batch = api.get("/apis/batch/v1")
    assert {r["name"] for r in batch["resources"] if "/" not in r["name"]} == {"jobs", "cronjobs"}
    for scenario in ("12. GET /api with aggregated-discovery Accept (what client-go >=1.30 sends)",
                     "12. GET /apis with aggregated-discovery Accept"):
        record = rec(scenario)
        resp = api.send(record)
        check(record, resp)
        assert resp.headers["cache-control"] == "public" and resp.headers["vary"] == "Accept"
        assert resp.headers["etag"]


# -- 13. DELETE responses, resourceVersion behaviour ----------------------------------------------------

def test_section13_delete_shapes(api: Client) -> None:
    api.ns("rc13")
    api.sa("rc13", "del1", ["a"])
    secret = api.post("/api/v1/namespaces/rc13/secrets", {"apiVersion": "v1", "kind": "Secret",
                                                          "metadata": {"name": "sec1"}, "data": {"k": "dg=="}})
    api.post("/apis/apps/v1/namespaces/rc13/deployments", deployment("dd", ["a"]))
    api.post("/api/v1/namespaces/rc13/pods", {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "pp"},
                                              "spec": {"containers": [{"name": "c", "image": "i:1"}]}})
    api.replay("13. DELETE a ServiceAccount")
    api.replay("13. DELETE it again")
    api.replay("13. DELETE a Secret with ?dryRun=All")
    rv = secret["metadata"]["resourceVersion"]
    api.replay("13. DELETE a Secret with a stale preconditions.resourceVersion", ignore=("message",))
    r = api.send(rec("13. DELETE a Secret with a stale preconditions.resourceVersion"))
    assert r.json()["message"] == (f'Operation cannot be fulfilled on Secret "sec1": the ResourceVersion in the '
                                   f"precondition (1) does not match the ResourceVersion in record ({rv}). The object "
                                   "might have been modified")
    api.replay("13. DELETE a Secret with a wrong preconditions.uid",
               {"<uid>": "11111111-2222-3333-4444-555555555555"})
    api.replay("13. DELETE a Secret (real)")
    api.replay("13. DELETE a Deployment")
    api.replay("13. DELETE an unscheduled Pod")
    api.replay("13. DELETE a Namespace that does not exist")


def test_section13_resource_version_rules(api: Client) -> None:
    api.ns("rc13")
    created = api.sa("rc13", "rv", ["a"])
    r = created["metadata"]["resourceVersion"]
    assert isinstance(r, str)
    same = api.patch("/api/v1/namespaces/rc13/serviceaccounts/rv", {"imagePullSecrets": [{"name": "a"}]})
    assert same["metadata"]["resourceVersion"] == r  # no-op patch: no write
    dry = api.http.patch("/api/v1/namespaces/rc13/serviceaccounts/rv?dryRun=All", content=b'{"imagePullSecrets":[]}',
                         headers={"Content-Type": "application/merge-patch+json"}).json()
    assert dry["metadata"]["resourceVersion"] == r and "imagePullSecrets" not in dry
    real = api.patch("/api/v1/namespaces/rc13/serviceaccounts/rv", {"imagePullSecrets": [{"name": "b"}]})
    assert int(real["metadata"]["resourceVersion"]) == int(r) + 1
    listing = api.get("/api/v1/namespaces/rc13/serviceaccounts")
    assert int(listing["metadata"]["resourceVersion"]) >= int(real["metadata"]["resourceVersion"])
    facts = rec("13. resourceVersion after no-op / dry-run / real patches")["response"]["body"]
    assert facts["resourceVersion JSON type"] == "str" and facts["list metadata.resourceVersion >= newest item rv"]
    secret = api.post("/api/v1/namespaces/rc13/secrets", {"apiVersion": "v1", "kind": "Secret",
                                                          "metadata": {"name": "sd"}, "stringData": {"k": "v"}})
    held = rec("13. Secret created with stringData: what the response holds")["response"]["body"]
    assert ("stringData" in secret) == held["has stringData"]
    assert secret["data"] == held["data"] and secret["type"] == held["type"]


# -- the real client library against the fake ------------------------------------------------------

@pytest.fixture
def lk(fake: FakeKube, tmp_path: Path) -> Any:
    from lightkube import Client as LightkubeClient
    from lightkube.config.kubeconfig import KubeConfig

    config = KubeConfig.from_file(fake.write_kubeconfig(tmp_path / "kubeconfig"))
    return LightkubeClient(config=config, field_manager=None)


def test_lightkube_crud_and_patch_types(lk: Any, fake: FakeKube) -> None:
    from lightkube import ApiError
    from lightkube.models.apps_v1 import DeploymentSpec
    from lightkube.models.core_v1 import Container, LocalObjectReference, PodSpec, PodTemplateSpec
    from lightkube.models.meta_v1 import LabelSelector, ObjectMeta
    from lightkube.resources.apps_v1 import Deployment
    from lightkube.resources.core_v1 import Namespace, Secret, ServiceAccount
    from lightkube.types import PatchType

    lk.create(Namespace(metadata=ObjectMeta(name="lk", labels={"team": "x"})))
    assert [n.metadata.name for n in lk.list(Namespace, labels={"team": "x"})] == ["lk"]
    sa = lk.get(ServiceAccount, "default", namespace="lk")
    assert sa.imagePullSecrets is None
    sa = lk.patch(ServiceAccount, "default", [{"op": "add", "path": "/imagePullSecrets", "value": [{"name": "a"}]}],
                  namespace="lk", patch_type=PatchType.JSON)
    stale = sa.metadata.resourceVersion
    sa = lk.patch(ServiceAccount, "default", {"imagePullSecrets": [{"name": "b"}]}, namespace="lk",
                  patch_type=PatchType.STRATEGIC)
    assert [r.name for r in sa.imagePullSecrets] == ["b"]  # atomic list: replaced
    sa.metadata.resourceVersion = stale
    with pytest.raises(ApiError) as err:
        lk.replace(sa)
    assert err.value.status.code == 409 and err.value.status.reason == "Conflict"
    with pytest.raises(ApiError) as err:
        lk.patch(ServiceAccount, "default", [{"op": "test", "path": "/metadata/resourceVersion", "value": stale}],
                 namespace="lk", patch_type=PatchType.JSON)
    assert err.value.status.code == 422
    sa = lk.patch(ServiceAccount, "default", {"metadata": {"labels": {"m": "1"}}}, namespace="lk",
                  patch_type=PatchType.MERGE)
    assert sa.metadata.labels == {"m": "1"}

    dep = Deployment(metadata=ObjectMeta(name="web", namespace="lk"), spec=DeploymentSpec(
        selector=LabelSelector(matchLabels={"app": "web"}),
        template=PodTemplateSpec(metadata=ObjectMeta(labels={"app": "web"}), spec=PodSpec(
            containers=[Container(name="c", image="registry.example.com/app:1")],
            imagePullSecrets=[LocalObjectReference(name="a")]))))
    created = lk.create(dep)
    assert created.metadata.generation == 1 and created.spec.replicas == 1
    patched = lk.patch(Deployment, "web", {"spec": {"template": {"spec": {"imagePullSecrets": [{"name": "b"}]}}}},
                       namespace="lk", patch_type=PatchType.STRATEGIC)
    assert [r.name for r in patched.spec.template.spec.imagePullSecrets] == ["b", "a"]
    assert patched.metadata.generation == 2
    assert [d.metadata.name for d in lk.list(Deployment, namespace="*")] == ["web"]

    secret = lk.create(Secret(metadata=ObjectMeta(name="pull", namespace="lk"), type="kubernetes.io/dockerconfigjson",
                              stringData={".dockerconfigjson": '{"auths":{}}'}))
    assert secret.stringData is None and base64.b64decode(secret.data[".dockerconfigjson"]) == b'{"auths":{}}'
    with pytest.raises(ApiError) as err:
        lk.create(Secret(metadata=ObjectMeta(name="bad", namespace="lk"), type="kubernetes.io/dockerconfigjson",
                         stringData={".dockerconfigjson": "[]"}))
    assert err.value.status.code == 422 and "<secret contents redacted>" in err.value.status.message
    lk.delete(Secret, "pull", namespace="lk")
    with pytest.raises(ApiError) as err:
        lk.get(Secret, "pull", namespace="lk")
    assert err.value.status.code == 404 and err.value.status.details.kind == "secrets"
    lk.delete(Namespace, "lk")
    assert lk.get(Namespace, "lk").status.phase == "Terminating"
    assert fake.request_log.count(method="PATCH", resource="serviceaccounts") == 4


def test_lightkube_forbidden_for_a_restricted_token(fake: FakeKube, tmp_path: Path) -> None:
    from lightkube import ApiError
    from lightkube import Client as LightkubeClient
    from lightkube.config.kubeconfig import KubeConfig
    from lightkube.resources.apps_v1 import Deployment
    from lightkube.resources.core_v1 import Namespace, ServiceAccount

    from tests.support.fakekube import Rule

    user = fake.add_user([Rule.of(["get", "list"], ["serviceaccounts"], namespaces=["default"])])
    client = LightkubeClient(config=KubeConfig.from_file(fake.write_kubeconfig(tmp_path / "kc", user)))
    assert client.get(ServiceAccount, "default", namespace="default").metadata.name == "default"
    with pytest.raises(ApiError) as err:
        list(client.list(ServiceAccount, namespace="*"))
    assert err.value.status.code == 403
    assert err.value.status.message == (f'serviceaccounts is forbidden: User "{user.name}" cannot list resource '
                                        '"serviceaccounts" in API group "" at the cluster scope')
    with pytest.raises(ApiError) as err:
        client.get(Deployment, "x", namespace="default")
    assert err.value.status.message.startswith('deployments.apps "x" is forbidden')
    with pytest.raises(ApiError) as err:
        client.get(Namespace, "default")
    assert 'in the namespace "default"' in err.value.status.message


def test_lightkube_watch(lk: Any, fake: FakeKube) -> None:
    from lightkube.resources.core_v1 import ServiceAccount

    seen: list[tuple[str, str]] = []

    def run() -> None:
        for typ, obj in lk.watch(ServiceAccount, namespace="default", server_timeout=2):
            seen.append((typ, obj.metadata.name))
            if len(seen) == 2:
                return

    t = threading.Thread(target=run)
    t.start()
    time.sleep(0.3)
    fake.seed({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "w", "namespace": "default"}})
    t.join(5)
    assert seen[:2] == [("ADDED", "default"), ("ADDED", "w")]


def test_hooks_before_write_and_fail_next(fake: FakeKube) -> None:
    api = Client(fake)
    api.ns("h")
    api.sa("h", "app", ["a"])
    current = api.get("/api/v1/namespaces/h/serviceaccounts/app")
    calls: list[str] = []

    def concurrent_writer(event: Any) -> None:
        if event.verb == "update" and not calls:
            calls.append(event.path)
            api.patch("/api/v1/namespaces/h/serviceaccounts/app", {"imagePullSecrets": [{"name": "late"}]})

    fake.before_write = concurrent_writer
    current["imagePullSecrets"].append({"name": "mine"})
    r = api.http.put("/api/v1/namespaces/h/serviceaccounts/app", json=current)
    assert r.status_code == 409 and calls == ["/api/v1/namespaces/h/serviceaccounts/app"]
    fake.before_write = None
    fake.fail_next("PATCH", r"/serviceaccounts/app$", 503)
    r = api.http.patch("/api/v1/namespaces/h/serviceaccounts/app", content=b"{}",
                       headers={"Content-Type": "application/merge-patch+json"})
    assert r.status_code == 503 and r.json()["reason"] == "ServiceUnavailable"
    fake.fail_next("POST", r"/secrets$", 500, apply=True)
    r = api.http.post("/api/v1/namespaces/h/secrets", json={"apiVersion": "v1", "kind": "Secret",
                                                            "metadata": {"name": "s"}})
    assert r.status_code == 500 and fake.get_object("v1", "Secret", "s", "h") is not None
    assert fake.request_log.count(method="PUT", status=409) == 1
    api.http.close()


def test_scale_lists_stay_fast(fake: FakeKube, tmp_path: Path) -> None:
    """1,000 namespaces x 3 ServiceAccounts and 2,000 workloads: cluster-wide lists stay cheap."""
    from lightkube import Client as LightkubeClient
    from lightkube.config.kubeconfig import KubeConfig
    from lightkube.resources.apps_v1 import Deployment
    from lightkube.resources.core_v1 import Namespace, ServiceAccount

    for i in range(1000):
        ns = f"n{i:04d}"
        fake.seed({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
        for j in (1, 2):
            fake.seed({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": f"sa{j}", "namespace": ns}})
        for k in (1, 2):
            fake.seed(deployment(f"d{k}", ["a"], ns))
    client = LightkubeClient(config=KubeConfig.from_file(fake.write_kubeconfig(tmp_path / "kc")))
    started = time.perf_counter()
    assert len(list(client.list(Namespace))) == 1004
    assert len(list(client.list(ServiceAccount, namespace="*"))) == 3004
    assert len(list(client.list(Deployment, namespace="*", chunk_size=500))) == 2000
    assert time.perf_counter() - started < 10
    started = time.perf_counter()
    for _ in range(200):
        client.get(ServiceAccount, "default", namespace="n0001")
    per_request = (time.perf_counter() - started) / 200
    assert per_request < 0.02, per_request


# -- 4. server-side apply ---------------------------------------------------------------------------

def test_section4_server_side_apply(api: Client) -> None:
    api.ns("rc4")
    api.replay("4. SSA ServiceAccount (creates it) fieldManager=m1 imagePullSecrets [a]")
    api.replay("4. SSA same SA fieldManager=m2 imagePullSecrets [b], no force")
    api.replay("4. SSA same SA fieldManager=m2 imagePullSecrets [b], force=true")
    api.replay("4. SSA again as m1 [a] without force (m2 now owns the list)")
    api.sa("rc4", "upd", ["a"])  # POST by User-Agent "regcred-tool/0.1 ..." -> Update manager "regcred-tool"
    api.replay("4. (setup) SA created by POST: managedFields show an Update manager derived from User-Agent")
    api.replay("4. SSA m1 [b] on a list owned by an Update manager, no force")
    api.replay("4. SSA m1 applying the SAME value [a] as the Update manager")
    api.replay("4. SSA imagePullSecrets [a] on the controller-created default SA")
    api.replay("4. SSA without fieldManager")
    api.replay("4. SSA body as JSON (JSON is YAML) under application/apply-patch+yaml")
    api.replay("4. SSA with kind/apiVersion missing")
    api.replay("4. SSA with metadata.name different from URL")
    api.replay("4. SSA Deployment (creates) fieldManager=m1 template imagePullSecrets [a]")
    api.replay("4. SSA Deployment fieldManager=m2 template imagePullSecrets [b], no force")
    rv = api.get("/apis/apps/v1/namespaces/rc4/deployments/web")["metadata"]["resourceVersion"]
    api.replay("4. SSA Deployment fieldManager=m2 [b] again with force=true")
    assert api.get("/apis/apps/v1/namespaces/rc4/deployments/web")["metadata"]["resourceVersion"] == rv
    api.replay("4. SSA Deployment m2 replicas: 3 (owned by m1=1), no force")
    api.replay("4. SSA Deployment m2 imagePullSecrets [] (m2 gives up its item b)")
    api.replay("4. SSA Deployment m2 [a, b] (a co-owned with m1)")
    record = rec("13. managedFields manager name without ?fieldManager")["response"]["body"]
    upd = api.get("/api/v1/namespaces/rc4/serviceaccounts/upd")["metadata"]["managedFields"]
    assert [e["manager"] for e in upd if e["operation"] == "Update"] == record["manager recorded"]


# -- the backend fixture API and the envtest harness ---------------------------------------------------

def test_kube_backend_api_on_the_fake(fake_kube: Any) -> None:
    from tests.support.kube import KubeError

    kube = fake_kube
    assert kube.name == "fake" and kube.supports_hooks and kube.url.startswith("https://")
    ns = kube.unique_ns("api")
    kube.create_namespace(ns, labels={"team": "x"})
    assert kube.get("v1", "ServiceAccount", "default", ns) is not None
    bare = kube.unique_ns("bare")
    kube.create_namespace(bare, default_sa=False)
    assert kube.get("v1", "ServiceAccount", "default", bare) is None
    kube.ensure_default_sa(bare)
    kube.create({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "s", "namespace": ns}})
    sa = kube.patch("v1", "ServiceAccount", "s", {"imagePullSecrets": [{"name": "a"}]}, ns)
    sa["imagePullSecrets"].append({"name": "b"})
    assert [r["name"] for r in kube.replace(sa)["imagePullSecrets"]] == ["a", "b"]
    with pytest.raises(KubeError) as err:
        kube.replace(sa)  # stale resourceVersion now
    assert err.value.status == 409 and err.value.reason == "Conflict"
    assert [s["metadata"]["name"] for s in kube.list("v1", "ServiceAccount", ns)] == ["default", "s"]
    limited = kube.kubeconfig_for([{"apiGroups": [""], "resources": ["serviceaccounts"], "verbs": ["get"],
                                    "namespaces": [ns]}])
    token = yaml_token(limited)
    assert kube.request("GET", f"/api/v1/namespaces/{ns}/serviceaccounts/s", token=token).status_code == 200
    denied = kube.request("GET", f"/api/v1/namespaces/{ns}/secrets", token=token)
    assert denied.status_code == 403 and kube.username_of(limited) in denied.json()["message"]
    kube.terminate_namespace(ns)
    assert kube.get("v1", "Namespace", ns)["status"]["phase"] == "Terminating"
    assert kube.finish_namespace_deletion(ns) and kube.get("v1", "Namespace", ns) is None
    kube.delete("v1", "Namespace", "missing-ns")  # missing_ok


def yaml_token(path: Path) -> str:
    import yaml

    return yaml.safe_load(path.read_text())["users"][0]["user"]["token"]


def test_watch_follows_objects_into_and_out_of_a_label_selector(api: Client) -> None:
    api.ns("w")
    api.sa("w", "s")
    rv = api.get("/api/v1/namespaces/w/serviceaccounts")["metadata"]["resourceVersion"]
    api.patch("/api/v1/namespaces/w/serviceaccounts/s", {"metadata": {"labels": {"pick": "me"}}})
    api.patch("/api/v1/namespaces/w/serviceaccounts/s", {"metadata": {"labels": {"pick": "other"}}})
    resp = api.http.get(f"/api/v1/namespaces/w/serviceaccounts?watch=1&resourceVersion={rv}&labelSelector=pick%3Dme"
                        "&timeoutSeconds=1")
    assert [json.loads(x)["type"] for x in resp.text.splitlines()] == ["ADDED", "DELETED"]


@pytest.mark.real
def test_envtest_etcd_half_starts(tmp_path: Path) -> None:
    from tests.support.envtest import Etcd

    require_binaries("etcd")
    etcd = Etcd(Path(shutil.which("etcd") or "etcd"), tmp_path)
    etcd.start()
    try:
        assert httpx.get(etcd.url + "/health", timeout=5).json()["health"] == "true"
    finally:
        etcd.stop()
    assert not etcd.process.alive()

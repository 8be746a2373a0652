"""Conformance of the fake kube-apiserver against recordings of a real kube-apiserver v1.36.2.

Each test replays scenarios from ``api-responses.json`` (after setting up the state the
recording assumed) and compares status code, reason, message (placeholders normalised),
headers that matter and the body. Bodies recorded in full are compared strictly (no missing
and no extra keys); bodies the recording trimmed are compared as subsets.
"""


from __future__ import annotations

import time

from tests.kube.fakekube.replay import (
    GOOD,
    Client,
    check,
    deployment,
    rec,
    seed_section10,
)
from tests.support.fakekube import FakeKube

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


# -- 11. warnings, negotiation, unknown paths ----------------------------------------------------

def test_section11_headers_and_edge_answers(api: Client) -> None:
    seed_section10(api)
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

"""--restart-stuck: which pods count as stuck, which owner replaces them, and the requests sent.

The pure planner is tested directly; the use case against a recording stand-in for KubeApi (the
live scenarios on the `kube` fixture are in tests/kube/workloads/test_workload_live.py).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from regcred.core.cluster.podspec import EditRequest, RegistryScope
from regcred.core.cluster.stuck import (
    RESTARTED_AT,
    find_stuck_pods,
    plan_restarts,
    restart_patch,
    stuck_images,
)
from regcred.shells.kube import KubeNotFound
from regcred.usecases.stuckpods import restart_stuck_pods
from regcred.usecases.workloads import attach_in_namespace

SCOPE = RegistryScope(["registry.example.com"])


def pod(name: str, image: str = "registry.example.com/app:1", reason: str | None = "ImagePullBackOff",
        owner: tuple[str, str] | None = None, init: bool = False, sa: str = "default") -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": "ns"}
    if owner:
        meta["ownerReferences"] = [{"kind": owner[0], "name": owner[1], "controller": True}]
    field = "initContainers" if init else "containers"
    status_field = "initContainerStatuses" if init else "containerStatuses"
    state = {"waiting": {"reason": reason}} if reason else {"running": {}}
    return {"kind": "Pod", "metadata": meta,
            "spec": {field: [{"name": "c", "image": image}], "serviceAccountName": sa},
            "status": {status_field: [{"name": "c", "image": image, "state": state}]}}


def rs(name: str, deployment: str | None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": "ns"}
    if deployment:
        meta["ownerReferences"] = [{"kind": "Deployment", "name": deployment, "controller": True}]
    return {"kind": "ReplicaSet", "metadata": meta}


def test_stuck_images_reads_init_and_regular_containers() -> None:
    assert stuck_images(pod("a")) == ["registry.example.com/app:1"]
    assert stuck_images(pod("a", init=True, reason="ErrImagePull")) == ["registry.example.com/app:1"]
    assert stuck_images(pod("a", reason="CrashLoopBackOff")) == []
    assert stuck_images(pod("a", reason=None)) == []


def test_only_pods_on_covered_images_count() -> None:
    pods = [pod("a"), pod("b", image="quay.io/x/y"), {**pod("c"), "metadata": {
        "name": "c", "namespace": "ns", "deletionTimestamp": "2024-01-01T00:00:00Z"}}]
    assert [p.name for p in find_stuck_pods(pods, SCOPE)] == ["a"]
    assert [p.name for p in find_stuck_pods(pods, RegistryScope())] == ["a", "b"]


def test_each_owner_restarted_once_and_bare_pods_reported() -> None:
    pods = [pod("d1", owner=("ReplicaSet", "web-1")), pod("d2", owner=("ReplicaSet", "web-2")),
            pod("s1", owner=("StatefulSet", "db")), pod("s2", owner=("StatefulSet", "db")),
            pod("j1", owner=("Job", "migrate")), pod("r1", owner=("ReplicaSet", "lonely")),
            pod("bare"), pod("x1", owner=("Rollout", "argo"))]
    owners = {("ReplicaSet", "ns", "web-1"): rs("web-1", "web"), ("ReplicaSet", "ns", "web-2"): rs("web-2", "web"),
              ("ReplicaSet", "ns", "lonely"): rs("lonely", None)}
    actions = plan_restarts(pods, find_stuck_pods(pods, SCOPE), lambda k, ns, n: owners.get((k, ns, n)))
    summary = [(a.action, a.kind, a.name, a.pods) for a in actions]
    assert summary == [
        ("rollout", "Deployment", "web", ["d1", "d2"]),
        ("rollout", "StatefulSet", "db", ["s1", "s2"]),
        ("delete-pods", "Job", "migrate", ["j1"]),
        ("delete-pods", "ReplicaSet", "lonely", ["r1"]),
        ("report", "Pod", "bare", ["bare"]),
        ("report", "Rollout", "argo", ["x1"]),
    ]


def test_restart_patch_is_rfc3339() -> None:
    patch = restart_patch(datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC))
    stamp = patch["spec"]["template"]["metadata"]["annotations"][RESTARTED_AT]
    assert datetime.fromisoformat(stamp) == datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)


class RecordingApi:
    """Answers get/list from a dict of objects and records every write."""

    def __init__(self, objects: list[dict[str, Any]]) -> None:
        self.objects = {(o["kind"], o["metadata"]["name"]): o for o in objects}
        self.calls: list[tuple[str, ...]] = []

    def list(self, kind: str, namespace: str | None = None, **_: Any) -> list[dict[str, Any]]:
        self.calls.append(("list", kind))
        return [o for (k, _), o in self.objects.items() if k == kind]

    def get_optional(self, kind: str, name: str, namespace: str | None = None) -> dict[str, Any] | None:
        self.calls.append(("get", kind, name))
        return self.objects.get((kind, name))

    def patch(self, kind: str, name: str, namespace: str | None, patch: Any, **kw: Any) -> dict[str, Any]:
        self.calls.append(("patch", kind, name, str(patch), kw.get("patch_type", "")))
        return {}

    def delete(self, kind: str, name: str, namespace: str | None = None, **_: Any) -> dict[str, Any]:
        self.calls.append(("delete", kind, name))
        if (kind, name) not in self.objects:
            raise KubeNotFound(f"{kind} {name} not found")
        return {}


def test_restart_stuck_requests() -> None:
    api = RecordingApi([pod("d1", owner=("ReplicaSet", "web-1")), pod("d2", owner=("ReplicaSet", "web-1")),
                        rs("web-1", "web"), pod("j1", owner=("Job", "migrate")), pod("ok", reason=None)])
    rows = restart_stuck_pods(api, "ns", scope=SCOPE)  # type: ignore[arg-type]
    writes = [c for c in api.calls if c[0] in ("patch", "delete")]
    assert [c[:3] for c in writes] == [("patch", "Deployment", "web"), ("delete", "Pod", "j1")]
    assert RESTARTED_AT in writes[0][3] and writes[0][4] == "strategic"
    assert [(r.name, r.status) for r in rows] == [("Deployment/web", "restarted"), ("Job/migrate", "restarted")]


def test_restart_stuck_filters_and_dry_run() -> None:
    api = RecordingApi([pod("d1", owner=("StatefulSet", "db"), sa="puller"), pod("s1", owner=("DaemonSet", "agent"))])
    rows = restart_stuck_pods(api, "ns", scope=SCOPE, service_accounts={"puller"}, dry_run="client")  # type: ignore[arg-type]
    assert [(r.name, r.status) for r in rows] == [("StatefulSet/db", "would-restart")]
    assert not [c for c in api.calls if c[0] in ("patch", "delete")]
    rows = restart_stuck_pods(api, "ns", scope=SCOPE, owners={("DaemonSet", "agent")})  # type: ignore[arg-type]
    assert [(r.name, r.status) for r in rows] == [("DaemonSet/agent", "restarted")]


def test_no_stuck_pod_means_one_list_and_nothing_else() -> None:
    api = RecordingApi([pod("fine", reason=None), pod("other", image="quay.io/a/b")])
    assert restart_stuck_pods(api, "ns", scope=SCOPE) == []  # type: ignore[arg-type]
    assert api.calls == [("list", "Pod")]


def deployment(name: str, *, secrets: tuple[str, ...] = (), image: str = "registry.example.com/a",
               sa: str | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": [{"name": "c", "image": image}]}
    if secrets:
        spec["imagePullSecrets"] = [{"name": s} for s in secrets]
    if sa:
        spec["serviceAccountName"] = sa
    return {"kind": "Deployment", "metadata": {"name": name, "namespace": "ns"}, "spec": {"template": {"spec": spec}}}


SECRET_OBJ = {"kind": "Secret", "type": "kubernetes.io/dockerconfigjson", "metadata": {"name": "s", "namespace": "ns"},
              "data": {".dockerconfigjson": "eyJhdXRocyI6IHsiciI6IHsiYXV0aCI6ICJkVHB3In19fQ=="}}


def test_attach_in_namespace_patches_only_what_needs_it() -> None:
    objects = [deployment("new"), deployment("has", secrets=("other", "s")), deployment("hub", image="nginx"),
               deployment("ops", sa="ops"), pod("bare", reason=None), pod("owned", owner=("ReplicaSet", "x"))]
    api = RecordingApi([])
    rows, covered = attach_in_namespace(api, "ns", objects, SECRET_OBJ, EditRequest(  # type: ignore[arg-type]
        "s", SCOPE, service_account="puller"))
    statuses = {r.name: r.status for r in rows}
    assert statuses == {"Deployment/new": "patched", "Deployment/has": "patched", "Deployment/ops": "refused",
                        "Pod/bare": "skipped"}
    patches = [c for c in api.calls if c[0] == "patch"]
    assert [c[2] for c in patches] == ["new", "has"]
    assert all(c[4] == "strategic" for c in patches)
    assert covered == {("Deployment", "new"), ("Deployment", "has")}


def test_attach_in_namespace_without_usable_secret_fails_the_namespace() -> None:
    api = RecordingApi([])
    rows, _ = attach_in_namespace(api, "ns", [deployment("new")], None, EditRequest("s"))  # type: ignore[arg-type]
    assert rows[0].failed and "secret s in namespace ns is not usable (not found)" in rows[0].message
    assert not api.calls
    rows, _ = attach_in_namespace(api, "ns", [deployment("has", secrets=("s",))], None, EditRequest("s"))  # type: ignore[arg-type]
    assert [(r.name, r.status) for r in rows] == [("Deployment/has", "unchanged")]


def test_scope_from_secret_uses_its_registry_keys() -> None:
    import base64

    from regcred.core.credentials.pullsecret import dockerconfigjson_payload
    from regcred.usecases.stuckpods import scope_from_secret

    payload = base64.b64encode(dockerconfigjson_payload("registry.example.com", "u", "p")).decode()
    secret = {**SECRET_OBJ, "data": {".dockerconfigjson": payload}}
    scope = scope_from_secret(secret)
    assert scope.covers("registry.example.com/app:1") and not scope.covers("quay.io/x/app")
    broken = {**SECRET_OBJ, "data": {".dockerconfigjson": "bm90IGpzb24="}}
    assert not scope_from_secret(broken).covers("registry.example.com/app:1")


def test_owner_whose_template_was_just_patched_gets_no_second_rollout() -> None:
    api = RecordingApi([pod("d1", owner=("ReplicaSet", "web-1")), rs("web-1", "web"),
                        pod("s1", owner=("StatefulSet", "db"))])
    rows = restart_stuck_pods(api, "ns", scope=SCOPE, rolled_out={("Deployment", "web")})  # type: ignore[arg-type]
    assert [c[:3] for c in api.calls if c[0] in ("patch", "delete")] == [("patch", "StatefulSet", "db")]
    assert [(r.name, r.status) for r in rows] == [("Deployment/web", "restarted"), ("StatefulSet/db", "restarted")]
    assert "template change" in rows[0].message


def test_sa_restart_skips_owners_whose_template_lists_its_own_pull_secrets() -> None:
    """New Pods copy the ServiceAccount's list only when their template has none: rolling out (or deleting
    the pods of) an owner with its own list cannot help, so it is reported, with one GET per stuck owner."""
    def owned(name: str, kind: str, secrets: tuple[str, ...]) -> dict[str, Any]:
        obj = deployment(name, secrets=secrets)
        return {**obj, "kind": kind}

    api = RecordingApi([
        pod("d1", owner=("ReplicaSet", "own-1")), pod("d2", owner=("ReplicaSet", "own-1")), rs("own-1", "own"),
        owned("own", "Deployment", ("other",)),
        pod("p1", owner=("ReplicaSet", "plain-1")), rs("plain-1", "plain"), owned("plain", "Deployment", ()),
        pod("n1", owner=("StatefulSet", "named")), owned("named", "StatefulSet", ("other", "s")),
        pod("j1", owner=("Job", "batch")), owned("batch", "Job", ("other",)),
    ])
    rows = restart_stuck_pods(api, "ns", scope=SCOPE, copied_secret="s")  # type: ignore[arg-type]
    statuses = {r.name: r.status for r in rows}
    assert statuses == {"Deployment/own": "stuck", "Deployment/plain": "restarted", "StatefulSet/named": "restarted",
                        "Job/batch": "stuck"}
    messages = {r.name: r.message for r in rows}
    assert "lists its own imagePullSecrets" in messages["Deployment/own"]
    assert "regcred workload attach s -n ns --kind Deployment" in messages["Deployment/own"]
    assert "recreate the Job" in messages["Job/batch"]
    writes = [c[:3] for c in api.calls if c[0] in ("patch", "delete")]
    assert writes == [("patch", "Deployment", "plain"), ("patch", "StatefulSet", "named")]
    gets = [c for c in api.calls if c[0] == "get"]
    assert len(gets) == len(set(gets)) == 6  # 2 ReplicaSets + one GET per stuck owner (4)

"""`regcred workload attach` against an API server (the `kube` fixture: in-process fake, and envtest).

The real `regcred` process runs against `kube.kubeconfig`, so lightkube/httpx, the strategic merge patch
semantics of the server and the exit codes are what is checked.
"""

from __future__ import annotations

import base64
from typing import Any

import pytest

from regcred.core.cluster.stuck import RESTARTED_AT
from regcred.core.credentials.pullsecret import dockerconfigjson_payload
from tests.support.cli import assert_clean_error, ok_json
from tests.support.cli import run_regcred_kube as regcred

IMAGE = "registry.example.com/team/app:1"


def setup_ns(kube: Any, ns: str, secret: str = "pull") -> str:
    kube.create_namespace(ns)
    kube.create({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": secret, "namespace": ns},
                 "type": "kubernetes.io/dockerconfigjson",
                 "data": {".dockerconfigjson": base64.b64encode(
                     dockerconfigjson_payload("registry.example.com", "u", "p")).decode()}})
    return ns


def pod_spec(image: str = IMAGE, secrets: tuple[str, ...] = (), sa: str | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": [{"name": "app", "image": image}]}
    if secrets:
        spec["imagePullSecrets"] = [{"name": s} for s in secrets]
    if sa:
        spec["serviceAccountName"] = sa
    return spec


def deployment(ns: str, name: str, **kw: Any) -> dict[str, Any]:
    labels = {"app": name}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": ns, "labels": labels},
            "spec": {"selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels}, "spec": pod_spec(**kw)}}}


def cronjob(ns: str, name: str, **kw: Any) -> dict[str, Any]:
    spec = {**pod_spec(**kw), "restartPolicy": "OnFailure"}
    return {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": name, "namespace": ns},
            "spec": {"schedule": "*/5 * * * *", "jobTemplate": {"spec": {"template": {"spec": spec}}}}}


def template_secrets(kube: Any, ns: str, name: str, kind: str = "Deployment") -> list[str]:
    api = "batch/v1" if kind == "CronJob" else "apps/v1"
    obj = kube.get(api, kind, name, ns)
    spec = obj["spec"]["jobTemplate"]["spec"]["template"]["spec"] if kind == "CronJob" else obj["spec"]["template"]["spec"]
    return [e["name"] for e in spec.get("imagePullSecrets") or []]


def writes(kube: Any) -> list[Any]:
    return [r for r in kube.request_log if r.method in ("POST", "PUT", "PATCH", "DELETE")]


def test_attach_merges_with_existing_entries_and_covers_cronjobs(kube: Any) -> None:
    ns = setup_ns(kube, "wl1")
    kube.create(deployment(ns, "web", secrets=("other",)))
    kube.create(cronjob(ns, "nightly"))
    result = ok_json(regcred(kube, "workload", "attach", "pull", "-n", ns, "-o", "json"))
    statuses = {r["name"]: r["status"] for r in result["results"]}
    assert statuses == {"Deployment/web": "patched", "CronJob/nightly": "patched"}
    assert sorted(template_secrets(kube, ns, "web")) == ["other", "pull"]  # the other entry survives
    assert template_secrets(kube, ns, "nightly", "CronJob") == ["pull"]


def test_second_run_sends_no_write(kube: Any) -> None:
    if not kube.supports_hooks:
        pytest.skip("needs the fake API's request log")
    ns = setup_ns(kube, "wl2")
    kube.create(deployment(ns, "web", secrets=("pull",)))
    before = len(writes(kube))
    result = ok_json(regcred(kube, "workload", "attach", "pull", "-n", ns, "-o", "json"))
    assert [r["status"] for r in result["results"]] == ["unchanged"]
    assert len(writes(kube)) == before


def test_registry_filter_and_bare_pods(kube: Any) -> None:
    ns = setup_ns(kube, "wl3")
    kube.create(deployment(ns, "ours"))
    kube.create(deployment(ns, "hub", image="nginx:1.25"))
    kube.create({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "bare", "namespace": ns}, "spec": pod_spec()})
    result = regcred(kube, "workload", "attach", "pull", "-n", ns, "--registry", "registry.example.com", "-o", "json")
    doc = ok_json(result)
    statuses = {r["name"]: r["status"] for r in doc["results"]}
    assert statuses["Deployment/ours"] == "patched" and "Deployment/hub" not in statuses
    assert statuses["Pod/bare"] == "skipped"
    assert template_secrets(kube, ns, "hub") == []


def test_service_account_change_refused_without_force(kube: Any) -> None:
    ns = setup_ns(kube, "wl4")
    kube.create(deployment(ns, "ops", sa="ops"))
    kube.create(deployment(ns, "plain"))
    result = regcred(kube, "workload", "attach", "pull", "-n", ns, "--service-account", "puller")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "refused" in result.stdout and "1 workload(s) refused" in result.stderr
    assert kube.get("apps/v1", "Deployment", "ops", ns)["spec"]["template"]["spec"]["serviceAccountName"] == "ops"
    assert kube.get("apps/v1", "Deployment", "plain", ns)["spec"]["template"]["spec"]["serviceAccountName"] == "puller"
    forced = ok_json(regcred(kube, "workload", "attach", "pull", "-n", ns, "--service-account", "puller", "--force",
                             "-o", "json"))
    assert {r["name"]: r["status"] for r in forced["results"]}["Deployment/ops"] == "patched"


def test_missing_secret_fails_the_namespace(kube: Any) -> None:
    kube.create_namespace("wl5")
    kube.create(deployment("wl5", "web"))
    result = regcred(kube, "workload", "attach", "pull", "-n", "wl5")
    assert result.returncode == 1 and "secret pull in namespace wl5 is not usable (not found)" in result.stdout
    assert template_secrets(kube, "wl5", "web") == []


def test_bad_input(kube: Any) -> None:
    assert_clean_error(regcred(kube, "workload", "attach", "Bad_Name", "-n", "x"), 2, "Bad_Name")
    assert_clean_error(regcred(kube, "workload", "attach", "pull", "-n", "nope-missing"), 2, "namespace nope-missing")
    assert_clean_error(regcred(kube, "workload", "attach", "pull", "-n", "x", "--kind", "Secret"), 2, "--kind")


def _stuck_deployment(kube: Any, ns: str, name: str, **kw: Any) -> None:
    """A Deployment, its ReplicaSet and one Pod whose kubelet reports ImagePullBackOff (status subresource)."""
    kube.create(deployment(ns, name, **kw))
    dep = kube.get("apps/v1", "Deployment", name, ns)
    owner = {"apiVersion": "apps/v1", "kind": "Deployment", "name": name, "uid": dep["metadata"]["uid"],
             "controller": True}
    kube.create({"apiVersion": "apps/v1", "kind": "ReplicaSet",
                 "metadata": {"name": f"{name}-1", "namespace": ns, "ownerReferences": [owner],
                              "labels": {"app": name}},
                 "spec": {"selector": {"matchLabels": {"app": name}},
                          "template": {"metadata": {"labels": {"app": name}}, "spec": pod_spec(**kw)}}})
    rs = kube.get("apps/v1", "ReplicaSet", f"{name}-1", ns)
    stuck_status = {"phase": "Pending", "containerStatuses": [
        {"name": "app", "image": IMAGE, "ready": False, "restartCount": 0, "imageID": "",
         "state": {"waiting": {"reason": "ImagePullBackOff", "message": "pull access denied"}}}]}
    kube.create({"apiVersion": "v1", "kind": "Pod", "metadata": {
        "name": f"{name}-1-abc", "namespace": ns, "labels": {"app": name},
        "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": f"{name}-1",
                             "uid": rs["metadata"]["uid"], "controller": True}]},
        "spec": pod_spec(**kw)})
    pod = kube.get("v1", "Pod", f"{name}-1-abc", ns)
    pod["status"] = stuck_status  # what the kubelet would report, through the status subresource
    kube.update_status(pod)
    assert kube.get("v1", "Pod", f"{name}-1-abc", ns)["status"]["containerStatuses"][0]["state"]["waiting"]


def _template_annotations(kube: Any, ns: str, name: str) -> dict[str, str]:
    return kube.get("apps/v1", "Deployment", name, ns)["spec"]["template"]["metadata"].get("annotations") or {}


def test_restart_stuck_rolls_out_each_deployment_once(kube: Any) -> None:
    """`web` gets the secret now: that template change is its rollout, no second one (restartedAt).
    `had` already carried the secret (it was created later): only restartedAt rolls it out."""
    ns = setup_ns(kube, "wl6")
    _stuck_deployment(kube, ns, "web")
    _stuck_deployment(kube, ns, "had", secrets=("pull",))
    generation = kube.get("apps/v1", "Deployment", "web", ns)["metadata"]["generation"]
    doc = ok_json(regcred(kube, "workload", "attach", "pull", "-n", ns, "--restart-stuck", "-o", "json"))
    rows = [(r["name"], r["status"]) for r in doc["results"]]
    assert ("Deployment/web", "patched") in rows and ("Deployment/had", "unchanged") in rows
    restarted = {r["name"]: r for r in doc["results"] if r["status"] == "restarted"}
    assert sorted(restarted) == ["Deployment/had", "Deployment/web"]
    assert "rolled out by the template change" in restarted["Deployment/web"]["message"]
    assert restarted["Deployment/web"]["pods"] == ["web-1-abc"]
    assert RESTARTED_AT not in _template_annotations(kube, ns, "web")
    assert kube.get("apps/v1", "Deployment", "web", ns)["metadata"]["generation"] == generation + 1  # one rollout
    assert template_secrets(kube, ns, "web") == ["pull"]
    stamp = _template_annotations(kube, ns, "had")[RESTARTED_AT]
    assert "T" in stamp and template_secrets(kube, ns, "had") == ["pull"]


def test_server_dry_run_persists_nothing(kube: Any) -> None:
    ns = setup_ns(kube, "wl7")
    kube.create(deployment(ns, "web", secrets=("other",)))
    kube.create(cronjob(ns, "nightly"))
    doc = ok_json(regcred(kube, "workload", "attach", "pull", "-n", ns, "--dry-run=server", "-o", "json"))
    assert {r["name"]: r["status"] for r in doc["results"]} == {"Deployment/web": "would-patch",
                                                                "CronJob/nightly": "would-patch"}
    assert template_secrets(kube, ns, "web") == ["other"]
    assert template_secrets(kube, ns, "nightly", "CronJob") == []


def test_sa_attach_restart_stuck_leaves_owners_with_their_own_pull_secrets(kube: Any) -> None:
    """`own` lists its own imagePullSecrets: its new Pods would not copy the ServiceAccount's, so no rollout
    (reported `stuck`, pointing at `workload attach`); `plain` has none: rolled out."""
    ns = setup_ns(kube, "wl8")
    _stuck_deployment(kube, ns, "own", secrets=("other",))
    _stuck_deployment(kube, ns, "plain")
    doc = ok_json(regcred(kube, "sa", "attach", "pull", "-n", ns, "--restart-stuck", "-o", "json"))
    rows = {r["name"]: r for r in doc["results"]}
    assert rows["default"]["status"] == "attached"
    assert rows["Deployment/plain"]["status"] == "restarted" and RESTARTED_AT in _template_annotations(kube, ns, "plain")
    assert rows["Deployment/own"]["status"] == "stuck"
    assert "regcred workload attach pull" in rows["Deployment/own"]["message"]
    assert RESTARTED_AT not in _template_annotations(kube, ns, "own")

"""`regcred why` on an API server (the fake, and a real kube-apiserver in the envtest tier): one test per failure
cause of the issue, each checking the cause, the explanation and the one fixing command.

Events are written as the kubelet writes them (core/v1, reason and message recorded from a real kubelet 1.36 and
containerd: see tests/unit/why/test_events.py), since no kubelet runs here.
"""

from __future__ import annotations

import json
from typing import Any

from regcred.core.credentials.pullsecret import dockerconfigjson_payload
from tests.support.cli import run_regcred_kube
from tests.support.clusterobjects import make_sa, make_secret, namespace

REG = "registry.example.com:5000"
IMAGE = f"{REG}/team/app:v1"
REFUSED = (f'Failed to pull image "{IMAGE}": failed to pull and unpack image "{IMAGE}": failed to resolve reference '
           f'"{IMAGE}": pulling from host {REG} failed with status code [manifests v1]: 401 Unauthorized')


def pod(ns: str, name: str = "app", image: str = IMAGE, pull: list[str] | None = None,
        owner: dict[str, Any] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": [{"name": "app", "image": image}]}
    if pull is not None:
        spec["imagePullSecrets"] = [{"name": n} for n in pull]
    meta: dict[str, Any] = {"name": name, "namespace": ns}
    if owner:
        meta["ownerReferences"] = [owner]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec}


def pull_failed(kube: Any, ns: str, pod_name: str, message: str = REFUSED, reason: str = "Failed") -> None:
    """A Warning Event as the kubelet records it on the Pod."""
    kube.create({"apiVersion": "v1", "kind": "Event",
                 "metadata": {"name": f"{pod_name}.{abs(hash(message)) % 10**8}", "namespace": ns},
                 "involvedObject": {"kind": "Pod", "name": pod_name, "namespace": ns, "apiVersion": "v1"},
                 "reason": reason, "message": message, "type": "Warning", "count": 3,
                 "source": {"component": "kubelet", "host": "node-1"},
                 "firstTimestamp": "2026-12-02T10:00:00Z", "lastTimestamp": "2026-12-02T10:05:00Z"})


def explain(kube: Any, *args: str, code: int = 1, secrets: tuple[str, ...] = ()) -> dict[str, Any]:
    result = run_regcred_kube(kube, "why", *args, "-o", "json", secrets=secrets)
    assert result.returncode == code, (result.stdout, result.stderr)
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def test_key_without_the_port(kube: Any) -> None:
    ns = namespace(kube, "why-port")
    make_secret(kube, ns, "pull", dockerconfigjson_payload("registry.example.com", "robot", "port-pw"))
    kube.create(pod(ns, pull=["pull"]))
    pull_failed(kube, ns, "app")
    image = explain(kube, "pod/app", "-n", ns, secrets=("port-pw",))["images"][0]
    assert image["cause"] == "key-mismatch" and image["will_pull"] is False
    assert image["credentials"] == [] and image["anonymous"] is True
    assert "'registry.example.com' has no port while the image uses port 5000" in image["explanation"]
    assert image["fix"] == (f"regcred secret create pull -n {ns} --server {REG} --username USER --password-stdin "
                            "--overwrite")
    assert image["events"][0]["cause"] == "unauthorized" and image["events"][0]["count"] == 3


def test_docker_hub_key_in_the_wrong_format(kube: Any) -> None:
    ns = namespace(kube, "why-hub")
    make_secret(kube, ns, "hub", dockerconfigjson_payload("registry-1.docker.io", "robot", "hub-pw"))
    kube.create(pod(ns, image="team/private:1", pull=["hub"]))
    image = explain(kube, "pod/app", "-n", ns, code=0, secrets=("hub-pw",))["images"][0]
    assert image["cause"] == "key-mismatch" and image["will_pull"] is None  # unknown until the registry is asked
    assert "Docker Hub's API host, which the kubelet never matches" in image["explanation"]
    assert image["fix"].startswith(f"regcred secret create hub -n {ns} --username USER")  # the default key


def test_secret_in_another_namespace(kube: Any) -> None:
    ns, other = namespace(kube, "why-ns"), namespace(kube, "why-other")
    make_secret(kube, other, "pull", dockerconfigjson_payload(REG, "robot", "ns-pw"))
    kube.create(pod(ns, pull=["pull"]))
    image = explain(kube, "pod/app", "-n", ns, secrets=("ns-pw",))["images"][0]
    assert image["cause"] == "secret-missing" and image["will_pull"] is False
    assert f"pull exists in namespace(s) {other} but Secrets are per namespace" in image["explanation"]
    assert image["fix"].startswith(f"regcred secret create pull -n {ns} --server {REG}")


def test_pod_created_before_its_service_account_was_patched(kube: Any) -> None:
    ns = namespace(kube, "why-stale")
    make_secret(kube, ns, "pull", dockerconfigjson_payload(REG, "robot", "stale-pw"))
    kube.create(pod(ns))
    make_sa(kube, ns, "default", pull=["pull"])
    pull_failed(kube, ns, "app")
    image = explain(kube, "pod/app", "-n", ns, secrets=("stale-pw",))["images"][0]
    assert image["cause"] == "stale-pod" and image["will_pull"] is False
    assert image["fix"] == f"regcred sa attach pull -n {ns} --service-account default --restart-stuck"
    assert "created before" in image["explanation"]


def test_wrong_password_seen_in_the_events(kube: Any) -> None:
    ns = namespace(kube, "why-pw")
    make_secret(kube, ns, "pull", dockerconfigjson_payload(REG, "robot", "wrong-pw-1"))
    kube.create(pod(ns, pull=["pull"]))
    pull_failed(kube, ns, "app")
    image = explain(kube, "pod/app", "-n", ns, secrets=("wrong-pw-1",))["images"][0]
    assert image["cause"] == "credential-rejected" and image["will_pull"] is False
    assert [(c["order"], c["source"], c["key"], c["verified"]) for c in image["credentials"]] == [
        (1, f"Secret/{ns}/pull", REG, None)]
    assert image["fix"] == (f"regcred secret create pull -n {ns} --server {REG} --username USER --password-stdin "
                            "--overwrite")


def test_not_found_is_not_a_credential_problem(kube: Any) -> None:
    ns = namespace(kube, "why-404")
    make_secret(kube, ns, "pull", dockerconfigjson_payload(REG, "robot", "nf-pw"))
    kube.create(pod(ns, pull=["pull"]))
    pull_failed(kube, ns, "app", f'Failed to pull image "{IMAGE}": failed to pull and unpack image "{IMAGE}": '
                                 f'failed to resolve reference "{IMAGE}": {IMAGE}: not found')
    image = explain(kube, "pod/app", "-n", ns, secrets=("nf-pw",))["images"][0]
    assert image["cause"] == "not-found" and image["fix"] is None
    assert "no such repository or tag" in image["explanation"]


def test_deployment_whose_pod_is_gone_is_explained_from_its_template(kube: Any) -> None:
    ns = namespace(kube, "why-gone")
    kube.create({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": ns},
                 "spec": {"selector": {"matchLabels": {"app": "web"}},
                          "template": {"metadata": {"labels": {"app": "web"}},
                                       "spec": {"containers": [{"name": "app", "image": IMAGE}]}}}})
    data = explain(kube, "pod/web-7d9f8b6c5-x2x4z", "-n", ns, code=0)
    assert data["objects"][0]["object"] == f"Deployment/{ns}/web"
    assert data["objects"][0]["origin"] == "owner-template"
    assert data["objects"][0]["note"].endswith("the workload whose name it carries")  # no Event: the name
    image = data["images"][0]
    assert image["cause"] == "no-credential" and image["will_pull"] is None
    assert image["fix"] == (f"regcred secret create regcred-pull -n {ns} --server {REG} --username USER "
                            f"--password-stdin && regcred sa attach regcred-pull -n {ns} --service-account default")


def test_a_gone_pod_is_traced_through_its_creation_event_up_to_the_cronjob(kube: Any) -> None:
    ns = namespace(kube, "why-made")
    template = {"spec": {"restartPolicy": "Never", "containers": [{"name": "app", "image": IMAGE}]}}
    cron = kube.create({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "nightly", "namespace": ns},
                        "spec": {"schedule": "0 3 * * *", "jobTemplate": {"spec": {"template": template}}}})
    job = "nightly-29400000"  # by its name, the Job would be the Pod's workload: the Event leads to the CronJob
    kube.create({"apiVersion": "batch/v1", "kind": "Job", "metadata": {
        "name": job, "namespace": ns, "ownerReferences": [{
            "apiVersion": "batch/v1", "kind": "CronJob", "name": "nightly", "uid": cron["metadata"]["uid"],
            "controller": True}]}, "spec": {"template": template}})
    kube.create({"apiVersion": "v1", "kind": "Event", "metadata": {"name": f"{job}.1", "namespace": ns},
                 "involvedObject": {"kind": "Job", "name": job, "namespace": ns, "apiVersion": "batch/v1"},
                 "reason": "SuccessfulCreate", "message": f"Created pod: {job}-q7x2m", "type": "Normal",
                 "source": {"component": "job-controller"}, "firstTimestamp": "2026-12-02T03:00:00Z",
                 "lastTimestamp": "2026-12-02T03:00:00Z", "count": 1})
    data = explain(kube, f"pod/{job}-q7x2m", "-n", ns, code=0)
    assert data["objects"][0]["object"] == f"CronJob/{ns}/nightly"
    assert data["objects"][0]["note"] == (f"Pod {job}-q7x2m no longer exists: explained from the template of "
                                          f"CronJob/{ns}/nightly, the workload that created it (its SuccessfulCreate "
                                          "Event)")


def test_right_secret_exits_zero_and_unknown_target_is_a_clean_error(kube: Any) -> None:
    ns = namespace(kube, "why-ok")
    make_secret(kube, ns, "pull", dockerconfigjson_payload(REG, "robot", "ok-pw"))
    kube.create(pod(ns, pull=["pull"]))
    image = explain(kube, "pod/app", "-n", ns, code=0, secrets=("ok-pw",))["images"][0]
    assert image["cause"] == "none" and image["problems"] == []
    missing = run_regcred_kube(kube, "why", "pod/nothing", "-n", ns)
    assert missing.returncode == 2 and "pod nothing not found" in missing.stderr


def test_a_deployment_shows_its_template_and_its_stuck_pod(kube: Any) -> None:
    ns = namespace(kube, "why-deploy")
    make_secret(kube, ns, "pull", dockerconfigjson_payload(REG, "robot", "deploy-pw"))
    labels = {"app": "web"}
    template = {"metadata": {"labels": labels}, "spec": {"containers": [{"name": "app", "image": IMAGE}]}}
    deploy = kube.create({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": ns},
                          "spec": {"selector": {"matchLabels": labels}, "template": template}})
    rs = kube.create({"apiVersion": "apps/v1", "kind": "ReplicaSet",
                      "metadata": {"name": "web-5f7c9", "namespace": ns, "ownerReferences": [
                          {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web",
                           "uid": deploy["metadata"]["uid"], "controller": True}]},
                      "spec": {"selector": {"matchLabels": labels}, "template": template}})
    kube.create(pod(ns, "web-5f7c9-abcde", owner={"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-5f7c9",
                                                  "uid": rs["metadata"]["uid"], "controller": True}))
    make_sa(kube, ns, "default", pull=["pull"])  # after the Pod was created
    pull_failed(kube, ns, "web-5f7c9-abcde")

    result = run_regcred_kube(kube, "why", "deployment/web", "-n", ns, secrets=("deploy-pw",))
    assert result.returncode == 1, result.stderr
    assert f"Deployment/{ns}/web  container app  image {IMAGE}: unknown" in result.stdout
    assert f"Pod/{ns}/web-5f7c9-abcde  container app  image {IMAGE}: FAILS" in result.stdout
    assert f"fix: regcred sa attach pull -n {ns} --service-account default --restart-stuck" in result.stdout
    data = explain(kube, "deployment/web", "-n", ns, secrets=("deploy-pw",))
    assert [(o["object"], o["origin"]) for o in data["objects"]] == [
        (f"Deployment/{ns}/web", "template"), (f"Pod/{ns}/web-5f7c9-abcde", "pod")]
    template_row, pod_row = data["images"]
    assert template_row["credentials"][0]["source"] == f"Secret/{ns}/pull" and template_row["cause"] == "none"
    assert pod_row["cause"] == "stale-pod" and data["will_pull"] is False

"""The kubelet simulation: one scenario per finding code, plus the credential each image gets."""

from __future__ import annotations

from typing import Any

import pytest

from regcred.core.audit.findings import CODES, ClusterState
from regcred.core.audit.simulation import audit
from regcred.core.credentials.dockerconfig import parse_config_json
from regcred.core.credentials.keyring import Keyring
from tests.support.auditobjects import cronjob, deployment, entry, pod, pull_secret, service_account

REG = "reg.example.com"
GOOD = pull_secret("good", "app", {REG: entry("robot", "pw-1")})


def run(*objects: dict[str, Any], node: dict[str, Any] | None = None, live: bool = False,
        namespace: str | None = None) -> Any:
    keyring, source = Keyring(), None
    if node is not None:
        import json

        source = "NodeConfig//var/lib/kubelet/config.json"
        keyring.add_config(parse_config_json(json.dumps(node), "node"), source)
    return audit(ClusterState(list(objects), keyring, source, live=live), namespace=namespace)


def codes(report: Any) -> list[tuple[str, str]]:
    return [(f.code, f.object) for f in report.findings]


def test_clean_setup_has_no_findings_and_reports_the_first_credential() -> None:
    report = run(GOOD, service_account("default", "app", "good"), deployment("web", "app", f"{REG}/team/web:1"))
    assert report.findings == [] and not report.has_errors
    [row] = report.images
    assert row == {"object": "Deployment/app/web", "container": "c0", "image": f"{REG}/team/web:1",
                   "repository": f"{REG}/team/web", "anonymous": False, "fails": None,
                   "credential": {"key": REG, "source": "Secret/app/good", "username": "robot"}}


def test_template_copies_sa_list_only_when_it_has_none() -> None:
    other = pull_secret("other", "app", {"other.example.com": entry("o", "p")})
    report = run(GOOD, other, service_account("default", "app", "good"),
                 deployment("own", "app", f"{REG}/a:1", secrets=("other",)),
                 deployment("inherit", "app", f"{REG}/a:1"))
    by_object = {r["object"]: r for r in report.images}
    assert by_object["Deployment/app/own"]["credential"] is None  # no merge with the SA's list
    assert by_object["Deployment/app/inherit"]["credential"]["source"] == "Secret/app/good"
    assert ("uncovered-image", "Deployment/app/own") in codes(report)


def test_pod_secrets_first_then_node_files_and_node_sharing_warning() -> None:
    node = {"auths": {REG: entry("node", "n"), "private.example.com": entry("node", "n")}}
    report = run(GOOD, deployment("web", "app", f"{REG}/x:1", "private.example.com/y:1", secrets=("good",)),
                 node=node)
    rows = {r["image"]: r["credential"] for r in report.images}
    assert rows[f"{REG}/x:1"]["source"] == "Secret/app/good"
    assert rows["private.example.com/y:1"]["source"] == "NodeConfig//var/lib/kubelet/config.json"
    [finding] = report.findings
    assert finding.code == "node-credentials-shared" and finding.severity == "warning"
    assert "private.example.com/y" in finding.message and "KEP-2535" in finding.message


@pytest.mark.parametrize(
    ("secret", "code"),
    [
        (pull_secret("s", "app", raw='{"auths":[]}'), "secret-unusable"),
        (pull_secret("s", "app", {REG: {"auth": "cGFudHM="}}), "secret-unusable"),
        (pull_secret("s", "app", {REG: entry("u", "p")}, type_="Opaque"), "secret-wrong-type"),
        (pull_secret("s", "app", {REG: entry("u", "p")}, key=".dockercfg"), "secret-missing-key"),
        (pull_secret("s", "app", raw='{"reg.example.com": {"auth": "dTpw"}}'), "secret-no-auths"),
        (pull_secret("s", "app", {}), "secret-empty"),
        (pull_secret("s", "app", {"host:abc": entry("u", "p"), REG: entry("u", "p")}), "secret-key-skipped"),
    ],
)
def test_secret_problems(secret: dict[str, Any], code: str) -> None:
    report = run(secret, deployment("web", "app", f"{REG}/x:1", secrets=("s",)))
    assert (code, "Secret/app/s") in codes(report)
    assert report.has_errors == (CODES[code] == "error")


def test_unusable_secret_fails_every_pull_even_with_a_good_one() -> None:
    broken = pull_secret("broken", "app", raw='{"auths":[]}')
    report = run(GOOD, broken, deployment("web", "app", f"{REG}/x:1", secrets=("good", "broken")))
    [row] = report.images
    assert row["fails"] == "Secret/app/broken cannot be decoded by the kubelet"
    assert row["anonymous"] is False and row["credential"]["source"] == "Secret/app/good"


def test_missing_secret_is_reported_once_naming_its_users() -> None:
    report = run(*(deployment(f"d{i}", "app", f"{REG}/x:1", secrets=("gone",)) for i in range(5)))
    [finding] = [f for f in report.findings if f.code == "missing-secret"]
    assert finding.object == "Secret/app/gone"
    assert "Deployment/app/d0, Deployment/app/d1, Deployment/app/d2 and 2 more" in finding.message


def test_uncovered_image_only_when_the_registry_is_otherwise_covered() -> None:
    report = run(GOOD, deployment("a", "app", f"{REG}/x:1", secrets=("good",)),
                 deployment("b", "app", f"{REG}/y:1", "public.example.org/z:1", "nginx:1.25"),
                 deployment("c", "app", "docker.io/team/private:1", secrets=("hub",)),
                 pull_secret("hub", "app", {"https://index.docker.io/v1/": entry("h", "p")}))
    assert ("uncovered-image", "Deployment/app/b") in codes(report)
    assert ("uncovered-public-image", "Deployment/app/b") in codes(report)  # nginx: Docker Hub, a warning
    assert not any("public.example.org" in f.message for f in report.findings)


def test_service_account_problems() -> None:
    report = run(service_account("default", "app", "gone", "", "gone"), deployment("web", "app", f"{REG}/x:1"),
                 deployment("named", "app", f"{REG}/x:1", sa="builder"))
    assert ("sa-missing-secret", "ServiceAccount/app/default") in codes(report)
    assert ("empty-pull-secret-name", "ServiceAccount/app/default") in codes(report)
    assert ("duplicate-pull-secret", "ServiceAccount/app/default") in codes(report)
    assert ("unknown-service-account", "Deployment/app/named") in codes(report)
    assert sum(1 for c, _ in codes(report) if c == "sa-missing-secret") == 1
    live = run(deployment("named", "app", f"{REG}/x:1", sa="builder"), live=True)
    assert codes(live) == [("missing-service-account", "Deployment/app/named")]


def test_stale_pods_created_before_the_service_account_changed() -> None:
    rs = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "web-1", "namespace": "app"},
          "spec": {"template": {"spec": {"containers": [{"name": "c", "image": f"{REG}/x:1"}]}}}}
    report = run(GOOD, service_account("default", "app", "good"), rs,
                 pod("web-1-a", "app", f"{REG}/x:1", owner=("ReplicaSet", "web-1")),
                 pod("bare", "app", f"{REG}/x:1"),
                 pod("ok", "app", f"{REG}/x:1", secrets=("good",), owner=("ReplicaSet", "web-1")),
                 pod("own-list", "app", f"{REG}/x:1", secrets=("good", "extra")))
    stale = [o for c, o in codes(report) if c == "pod-stale-pull-secrets"]
    assert stale == ["Pod/app/bare", "Pod/app/web-1-a"]


def test_cronjob_template_invalid_image_and_namespace_filter() -> None:
    report = run(GOOD, cronjob("nightly", "app", f"{REG}/job:1", secrets=("good",)),
                 deployment("bad", "app", "Not A Valid:Image"), deployment("elsewhere", "other", f"{REG}/x:1"),
                 namespace="app")
    assert {r["object"] for r in report.images} == {"CronJob/app/nightly", "Deployment/app/bad"}
    assert ("invalid-image", "Deployment/app/bad") in codes(report)


def test_findings_sorted_errors_first_and_json_shape() -> None:
    report = run(deployment("web", "app", f"{REG}/x:1", secrets=("gone", "gone")))
    data = report.as_json()
    assert set(data) == {"images", "findings"}
    assert [f["severity"] for f in data["findings"]] == ["error", "warning"]
    assert set(data["findings"][0]) == {"code", "severity", "object", "message"}


def test_credential_uses_collect_images_per_credential_and_never_show_in_json() -> None:
    report = run(GOOD, deployment("a", "app", f"{REG}/x:1", f"{REG}/y:2", secrets=("good",)))
    [use] = report.credential_uses
    cred = use.credential
    assert (cred.key, cred.username, cred.source, use.images) == (REG, "robot", "Secret/app/good",
                                                                  (f"{REG}/x:1", f"{REG}/y:2"))
    assert "pw-1" not in repr(use) and "pw-1" not in str(report.as_json())


def test_pod_manifest_not_yet_created_gets_its_service_account_list() -> None:
    """docs/concepts/kubelet-rules.md#e: the admission copy happens at creation, so a Pod manifest without a list is covered by its SA."""
    objects = [pull_secret("good", "app", {REG: entry("robot", "pw")}), service_account("default", "app", "good"),
               pod("new", "app", f"{REG}/x:1", created=False),
               pod("old", "app", f"{REG}/x:1")]
    report = audit(ClusterState(objects))
    by_object = {row["object"]: row for row in report.images}
    assert by_object["Pod/app/new"]["credential"]["source"] == "Secret/app/good"
    assert by_object["Pod/app/old"]["anonymous"] is True
    assert codes(report) == [("uncovered-image", "Pod/app/old"), ("pod-stale-pull-secrets", "Pod/app/old")]


def test_dockercfg_secret_holding_config_json_content() -> None:
    """docs/concepts/kubelet-rules.md#b: config.json content read as legacy is one registry named `auths` with no credential."""
    legacy = pull_secret("legacy", "app", {REG: entry("robot", "pw")}, type_="kubernetes.io/dockercfg",
                         key=".dockercfg")
    report = audit(ClusterState([legacy, deployment("web", "app", f"{REG}/x:1", secrets=("legacy",))]))
    assert ("secret-wrong-layout", "Secret/app/legacy") in codes(report)
    assert report.images[0]["anonymous"] is True and report.has_errors

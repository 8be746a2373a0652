"""Anonymous pulls in the simulation: the fix each gets (for audit --verify and why), the warning for listed Secrets
that miss an image, and the findings made of the registry's answers."""

from __future__ import annotations

from typing import Any

from regcred.core.audit.anonymous import anonymous_findings, near_misses
from regcred.core.audit.findings import ClusterState
from regcred.core.audit.simulation import audit
from tests.support.auditobjects import deployment, entry, pod, pull_secret, service_account

REG = "reg.example.com:5000"


def run(*objects: dict[str, Any]) -> Any:
    return audit(ClusterState(list(objects), live=True))


def test_no_credentials_fix_creates_and_attaches_a_secret() -> None:
    report = run(service_account("default", "app"), pod("p", "app", f"{REG}/team/app:1"),
                 deployment("web", "app", f"{REG}/team/web:1"))
    fixes = {p.object: p.command for p in report.anonymous_pulls}
    assert fixes == {
        "Pod/app/p": f"regcred secret create regcred-pull -n app --server {REG} --username USER --password-stdin "
                     "&& regcred sa attach regcred-pull -n app --service-account default --restart-stuck",
        "Deployment/app/web": f"regcred secret create regcred-pull -n app --server {REG} --username USER "
                              "--password-stdin && regcred sa attach regcred-pull -n app --service-account default",
    }
    assert [f.code for f in report.findings] == []  # without --verify, nothing says the registry refuses


def test_a_pod_older_than_its_service_account_patch_is_told_to_restart() -> None:
    report = run(pull_secret("pull", "app", {REG: entry("robot", "pw")}), service_account("default", "app", "pull"),
                 pod("p", "app", f"{REG}/team/app:1", secrets=()))
    [pull] = report.anonymous_pulls
    assert pull.command == "regcred sa attach pull -n app --service-account default --restart-stuck"
    assert "created before ServiceAccount 'default' was given Secret 'pull'" in pull.fix


def test_listed_secrets_that_miss_the_port_warn_and_say_which_key() -> None:
    report = run(service_account("default", "app"), pull_secret("pull", "app", {"reg.example.com": entry("r", "pw")}),
                 pod("p", "app", f"{REG}/team/app:1", secrets=("pull",)))
    [finding] = [f for f in report.findings if f.code == "pull-secrets-miss-image"]
    assert finding.severity == "warning" and finding.object == "Pod/app/p"
    assert "'reg.example.com' has no port while the image uses port 5000" in finding.message
    assert report.anonymous_pulls[0].command.endswith("--server reg.example.com:5000 --username USER "
                                                      "--password-stdin --overwrite")


def test_near_misses_name_port_path_and_the_docker_hub_api_host() -> None:
    assert near_misses(["reg.example.com:5001"], REG, "team/app") == [
        "'reg.example.com:5001' has port 5001 while the image uses port 5000"]
    assert near_misses([f"{REG}/other"], REG, "team/app") == [f"'{REG}/other' is limited to the path '/other'"]
    assert near_misses([f"{REG}/team"], REG, "team/app") == []  # a path prefix that matches is no miss
    assert "Docker Hub's API host" in near_misses(["registry-1.docker.io"], "docker.io", "library/nginx")[0]
    assert near_misses(["other.example.com"], REG, "team/app") == []


def test_findings_from_the_registry_answers() -> None:
    report = run(service_account("default", "app"), pod("p", "app", f"{REG}/team/app:1"),
                 pod("q", "app", "docker.io/library/nginx:1"), pod("r", "app", "quay.io/x/y:1"))
    outcomes = {f"{REG}/team/app:1": (False, "pull team/app:1: 401 unauthorized: the registry refuses anonymous pulls"),
                "docker.io/library/nginx:1": (True, None),
                "quay.io/x/y:1": (False, "DNS: cannot resolve quay.io")}
    found = {(f.code, f.object) for f in anonymous_findings(report.anonymous_pulls, outcomes)}
    assert found == {("anonymous-pull-refused", "Pod/app/p"), ("anonymous-pull-unverified", "Pod/app/r")}

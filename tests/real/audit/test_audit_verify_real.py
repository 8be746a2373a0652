"""`regcred audit --verify` against the real token registry: rejected and over-privileged credentials, and the
one-line fix of each rejection names its own cause."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from regcred.localregistry.registry import RegistryServer
from tests.support.auditobjects import deployment, entry, pull_secret
from tests.support.cli import run_regcred
from tests.support.fixtures import TOKEN_PASSWORDS


@pytest.mark.real
def test_audit_verify_flags_rejected_and_over_privileged_credentials(registry_token: RegistryServer,
                                                                     tmp_path: Path) -> None:
    host = registry_token.host
    objects = [
        pull_secret("reader", "app", {host: entry("reader", TOKEN_PASSWORDS["reader"])}),
        pull_secret("writer", "app", {host: entry("writer", TOKEN_PASSWORDS["writer"])}),
        pull_secret("stale", "app", {host: entry("reader", "expired-pw-0")}),
        deployment("ok", "app", f"{host}/team/app:v1", secrets=("reader",)),
        deployment("ok2", "app", f"{host}/team/app:v1", secrets=("reader",)),
        deployment("push", "app", f"{host}/team/app:v1", secrets=("writer",)),
        deployment("old", "app", f"{host}/team/app:v1", secrets=("stale",)),
    ]
    path = tmp_path / "m.yaml"
    path.write_text(yaml.safe_dump_all(objects))
    result = run_regcred("audit", "-f", path, "--verify", "--insecure-http", "-o", "json")
    assert result.returncode == 1, result.stderr
    found = {(f["code"], f["object"]) for f in json.loads(result.stdout)["findings"]}
    assert found == {("credential-rejected", "Secret/app/stale"), ("credential-over-privileged", "Secret/app/writer")}
    for secret in (*TOKEN_PASSWORDS.values(), "expired-pw-0"):
        assert secret not in result.stdout + result.stderr


@pytest.mark.real
def test_audit_verify_unknown_tag_and_dead_registry_name_their_own_fix(registry_token: RegistryServer,
                                                                         dead_port: int, tmp_path: Path) -> None:
    host, dead = registry_token.host, f"127.0.0.1:{dead_port}"
    objects = [
        pull_secret("reader", "app", {host: entry("reader", TOKEN_PASSWORDS["reader"])}),
        pull_secret("gone", "app", {dead: entry("u", "dead-pw-1")}),
        deployment("typo", "app", f"{host}/team/app:no-such-tag", secrets=("reader",)),
        deployment("offline", "app", f"{dead}/team/app:v1", secrets=("gone",)),
    ]
    path = tmp_path / "m.yaml"
    path.write_text(yaml.safe_dump_all(objects))
    result = run_regcred("audit", "-f", path, "--verify", "--insecure-http", "--timeout", "5", "-o", "json")
    assert result.returncode == 1, result.stderr
    rejected = {f["object"]: f["message"] for f in json.loads(result.stdout)["findings"]
                if f["code"] == "credential-rejected"}
    assert "repository or tag unknown: fix the image reference" in rejected["Secret/app/reader"]
    assert "registry unreachable" in rejected["Secret/app/gone"]
    assert not any("renew the credential" in m for m in rejected.values())
    for secret in (TOKEN_PASSWORDS["reader"], "dead-pw-1"):
        assert secret not in result.stdout + result.stderr

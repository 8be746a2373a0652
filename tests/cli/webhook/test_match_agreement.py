"""The webhook wants a Pod exactly when the real `regcred match` finds a credential for one of its images in the
spec's pull Secret: the same keyring rules (ports, globs, paths, digests, Docker Hub), through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from regcred.core.webhook.patch import wanted_secrets
from tests.support.cli import run_regcred
from tests.unit.webhook.test_patch import injection, pod

CASES = [
    ("harbor.example.com", "harbor.example.com/team/app:1"),
    ("harbor.example.com", "harbor.example.com/team/app@sha256:" + "c" * 64),
    ("harbor.example.com", "harbor.example.com:5000/app:1"),
    ("registry.example:5000", "registry.example:5000/team/app:1"),
    ("registry.example:5000", "registry.example/team/app:1"),
    ("*.example.com", "harbor.example.com/app:1"),
    ("*.example.com", "a.b.example.com/app:1"),
    ("harbor.example.com/team", "harbor.example.com/team/app:1"),
    ("harbor.example.com/team", "harbor.example.com/other/app:1"),
    ("docker.io", "nginx:1.25"),
    ("index.docker.io", "library/nginx"),
    ("https://index.docker.io/v1/", "docker.io/library/nginx:latest"),
    ("docker.io", "harbor.example.com/app:1"),
    ("quay.example.org", "nginx"),
]


@pytest.mark.parametrize(("key", "image"), CASES)
def test_the_webhook_agrees_with_regcred_match(key: str, image: str, tmp_path: Path) -> None:
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "pull"},
              "type": "kubernetes.io/dockerconfigjson",
              "stringData": {".dockerconfigjson": json.dumps({"auths": {key: {"auth": "dTpw"}}})}}
    (tmp_path / "secret.yaml").write_text(yaml.safe_dump(secret))
    (tmp_path / "empty.json").write_text("{}")
    done = run_regcred("match", image, "--secret-file", tmp_path / "secret.yaml", "--file", tmp_path / "empty.json",
                       "-o", "json")
    assert done.returncode == 0, done.stderr
    matched = bool(json.loads(done.stdout)["credentials"])
    assert bool(wanted_secrets(pod(image), "ns", {}, [injection(servers=(key,))])) is matched

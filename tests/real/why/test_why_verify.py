"""`regcred why --verify` against the real docker-registry (htpasswd and token auth): the credentials found and the
anonymous pulls are checked with the verify flow, and the verdict follows what the registry said."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from regcred.core.credentials.pullsecret import dockerconfigjson_payload
from regcred.localregistry.registry import RegistryServer
from tests.support.cli import assert_no_secret, run_regcred
from tests.support.fixtures import HTPASSWD_USERS, IMAGE_REPO, IMAGE_TAG, TOKEN_PASSWORDS

WRONG = "wrong-password-9"



def _explain(tmp_path: Path, auth_registry: RegistryServer, password: str | None) -> tuple[int, dict[str, Any]]:
    user, good = ("alice", HTPASSWD_USERS["alice"]) if auth_registry.auth == "htpasswd" else \
        ("reader", TOKEN_PASSWORDS["reader"])
    spec: dict[str, Any] = {"containers": [{"name": "app", "image": f"{auth_registry.host}/{IMAGE_REPO}:{IMAGE_TAG}"}]}
    items: list[dict[str, Any]] = [{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "app"}, "spec": spec}]
    if password is not None:
        spec["imagePullSecrets"] = [{"name": "pull"}]
        data = base64.b64encode(dockerconfigjson_payload(auth_registry.host, user, password)).decode()
        items.append({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "pull"},
                      "type": "kubernetes.io/dockerconfigjson", "data": {".dockerconfigjson": data}})
    path = tmp_path / "pod.json"
    path.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": items}))
    result = run_regcred("why", "pod/app", "-f", path, "--verify", "--insecure-http", "-o", "json")
    assert "Traceback" not in result.stderr
    assert_no_secret(result.stdout + result.stderr, [good, WRONG])
    return result.returncode, json.loads(result.stdout)


def test_the_right_secret_is_verified(tmp_path: Path, auth_registry: RegistryServer) -> None:
    good = HTPASSWD_USERS["alice"] if auth_registry.auth == "htpasswd" else TOKEN_PASSWORDS["reader"]
    code, data = _explain(tmp_path, auth_registry, good)
    image = data["images"][0]
    assert code == 0 and data["verified"] is True and data["will_pull"] is True
    assert image["credentials"][0]["verified"] is True and image["fix"] is None


def test_a_wrong_password_is_refused(tmp_path: Path, auth_registry: RegistryServer) -> None:
    code, data = _explain(tmp_path, auth_registry, WRONG)
    image = data["images"][0]
    assert code == 1 and image["cause"] == "credential-rejected" and image["will_pull"] is False
    assert image["credentials"][0]["verified"] is False and "401" in image["credentials"][0]["error"]
    assert image["fix"].startswith(f"regcred secret create pull -n default --server {auth_registry.host}")


def test_no_credentials_and_a_registry_refusing_anonymous_pulls(tmp_path: Path, auth_registry: RegistryServer) -> None:
    code, data = _explain(tmp_path, auth_registry, None)
    image = data["images"][0]
    assert code == 1 and image["cause"] == "no-credential" and image["will_pull"] is False
    assert "the registry refuses anonymous pulls" in image["explanation"]
    assert image["fix"].startswith("regcred secret create regcred-pull -n default")

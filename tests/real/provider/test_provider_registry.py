"""The real `docker-registry` with token auth accepts the credential a plugin returned, as `regcred render` wrote it."""

from __future__ import annotations

import base64
from pathlib import Path

import yaml

from regcred.localregistry.registry import RegistryServer
from tests.support.cli import assert_no_secret, run_regcred
from tests.support.fixtures import IMAGE_REPO, IMAGE_TAG, TOKEN_PASSWORDS, SkopeoInspect

PLUGIN = str(Path(__file__).resolve().parents[2] / "support" / "credplugin.py")


def rendered_authfile(tmp_path: Path, host: str, password: str, **plugin_env: str) -> Path:
    """`regcred render` of a spec whose plugin answers reader/`password` (or, with CREDPLUGIN_TOKEN_URL, what the
    token API sold reader/`password`); the Secret's payload as a file."""
    tmp_path.mkdir()
    env = {"CREDPLUGIN_CALLS": str(tmp_path / "calls"), "CREDPLUGIN_USER": "reader", "CREDPLUGIN_PASSWORD": password,
           "CREDPLUGIN_DURATION": "5m", **plugin_env}
    spec = {"apiVersion": "regcred.dev/v1alpha1", "kind": "RegistryCredential", "metadata": {"name": "plugin"},
            "spec": {"registries": [{"server": host, "credentialProvider": {
                "command": PLUGIN, "image": f"{host}/{IMAGE_REPO}",
                "env": [{"name": k, "value": v} for k, v in env.items()]}}]}}
    docs = [spec, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-a"}}]
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump_all(docs))
    result = run_regcred("render", "-f", path)
    assert result.returncode == 0, result.stderr
    assert_no_secret(result.stderr, [password])
    assert (tmp_path / "calls").read_text().splitlines() == [f"{host}/{IMAGE_REPO}"]
    secret = next(d for d in yaml.safe_load_all(result.stdout) if d and d["kind"] == "Secret")
    authfile = tmp_path / "auth.json"
    authfile.write_bytes(base64.b64decode(secret["data"][".dockerconfigjson"]))
    return authfile


def test_the_registry_accepts_the_plugins_credential_and_refuses_a_bad_one(
    registry_token: RegistryServer, skopeo_inspect: SkopeoInspect, tmp_path: Path
) -> None:
    ref = f"{registry_token.host}/{IMAGE_REPO}:{IMAGE_TAG}"
    good = rendered_authfile(tmp_path / "good", registry_token.host, TOKEN_PASSWORDS["reader"])
    assert skopeo_inspect(ref, good).returncode == 0
    bad = rendered_authfile(tmp_path / "bad", registry_token.host, "expired-or-wrong-token")
    refused = skopeo_inspect(ref, bad)
    assert refused.returncode != 0 and "unauthorized" in refused.stderr.lower(), refused.stderr

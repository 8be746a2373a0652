"""A plugin's short-lived credential on the real `docker-registry` with token auth: accepted while it lives,
refused once it expired (the token API behind the plugin sells passwords the token server stops taking)."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path

from regcred.localregistry.registry import RegistryServer
from tests.real.provider.test_provider_registry import rendered_authfile
from tests.support.fixtures import IMAGE_REPO, IMAGE_TAG, TOKEN_PASSWORDS, SkopeoInspect
from tests.support.tokenapi import TokenApi

LIFETIME = 4.0  # seconds the bought password lives


def test_the_plugins_credential_is_accepted_then_refused_once_expired(
    registry_token: RegistryServer, token_api: TokenApi, skopeo_inspect: SkopeoInspect, tmp_path: Path
) -> None:
    ref = f"{registry_token.host}/{IMAGE_REPO}:{IMAGE_TAG}"
    authfile = rendered_authfile(tmp_path / "plugin", registry_token.host, TOKEN_PASSWORDS["reader"],
                                 CREDPLUGIN_TOKEN_URL=f"{token_api.url}?lifetime={LIFETIME:g}")
    entry = json.loads(authfile.read_text())["auths"][registry_token.host]
    user, _, password = base64.b64decode(entry["auth"]).decode().partition(":")
    assert token_api.issued == 1 and user == "reader" and password != TOKEN_PASSWORDS["reader"]  # a bought one
    accepted = skopeo_inspect(ref, authfile)
    assert time.time() < token_api.expires_at, "too slow to see the credential alive; raise LIFETIME"
    assert accepted.returncode == 0, accepted.stderr
    time.sleep(max(0.0, token_api.expires_at + 0.2 - time.time()))
    refused = skopeo_inspect(ref, authfile)
    assert refused.returncode != 0 and "unauthorized" in refused.stderr.lower(), refused.stderr

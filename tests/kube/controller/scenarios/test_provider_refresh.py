"""A credential-provider plugin through the running controller: refreshed before expiry, in every namespace at
once (one call per refresh), and a failing refresh keeps the last good copies and sets Degraded.

The plugin (tests/support/credplugin.py) answers `token-<n>` on its n-th call with a 2 s cacheDuration, so the
controller, asked to refresh at 60 % of it, refreshes every 1.2 s. Were it run once per namespace, the namespaces would never hold the same token.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from regcred.controller import reconciler
from tests.support.controllerrun import (
    Specs,
    auth_in,
    condition,
    controller,
    namespaces,
    spec_doc,
    wait_until,
)
from tests.support.kube import KubeBackend

PLUGIN = str(Path(__file__).resolve().parents[3] / "support" / "credplugin.py")
SERVER = "123456789012.dkr.ecr.eu-west-1.amazonaws.com"


def test_the_plugins_credential_is_refreshed_everywhere_and_a_failure_keeps_the_good_copy(
    kube: KubeBackend, specs: Specs, tmp_path: Path
) -> None:
    targets = namespaces(kube, "cp", 3)
    name = kube.unique_ns("plugin")
    mode = tmp_path / "mode"
    env = {"CREDPLUGIN_CALLS": str(tmp_path / "calls"), "CREDPLUGIN_DURATION": "2s", "CREDPLUGIN_MODE_FILE": str(mode)}
    doc: dict[str, Any] = spec_doc(targets, name=name)
    doc["spec"]["registries"] = [{"server": SERVER, "credentialProvider": {
        "command": PLUGIN, "env": [{"name": k, "value": v} for k, v in env.items()]}}]

    def tokens() -> set[int]:
        found = {auth_in(kube, ns, name, SERVER) for ns in targets}
        return {int(str(auth).rsplit("-", 1)[1]) for auth in found if auth} if None not in found else set()

    with controller(kube, credential_refresh_fraction=0.6):  # refreshed every 1.2 s
        assert reconciler.PLUGINS.fraction == 0.6  # the run's own plugin cache, with the flag's fraction
        specs.create(doc)
        first = wait_until(lambda: len(tokens()) == 1 and tokens(), "every copy with the plugin's token")
        wait_until(lambda: len(tokens()) == 1 and min(tokens()) >= min(first) + 2,
                   "every copy refreshed twice, all with one token (one plugin call per refresh)", 20)

        mode.write_text("exit")
        degraded = wait_until(lambda: condition(kube, name, "Degraded").get("status") == "True" and
                              condition(kube, name, "Degraded"), "Degraded after the plugin fails", 20)
        assert "plugin credplugin.py exited with status 3" in degraded["message"]
        kept = tokens()
        assert len(kept) == 1  # the last good credential stays in every namespace
        mode.write_text("ok")
        wait_until(lambda: len(tokens()) == 1 and min(tokens()) > min(kept), "refreshed again once it works", 30)

"""Fetch once, fan out: one plugin call per source, whatever the number of namespaces (`apply` and the controller)."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path
from typing import Any

import pytest

from regcred.controller.reconciler import reconcile
from regcred.core.spec.expiry import Expiry, earliest
from regcred.core.spec.model import parse_document
from regcred.shells.credprovider import PluginCache
from regcred.usecases.specs import apply_specs
from tests.support.memapi import MemApi

PLUGIN = str(Path(__file__).resolve().parents[2] / "support" / "credplugin.py")
NAMESPACES = 1000
RECONCILED = 250  # MemApi lists every object per reconcile (no informer cache): 1,000 would take ~25 s here


def document(calls: Path, name: str = "ecr") -> dict[str, Any]:
    return {"apiVersion": "regcred.dev/v1alpha1", "kind": "RegistryCredential", "metadata": {"name": name},
            "spec": {"registries": [{"server": "1.dkr.ecr.eu-west-1.amazonaws.com", "credentialProvider": {
                "command": PLUGIN, "env": [{"name": "CREDPLUGIN_CALLS", "value": str(calls)},
                                           {"name": "CREDPLUGIN_DURATION", "value": "12h"}]}}]}}


def cluster() -> MemApi:
    api = MemApi()
    for index in range(NAMESPACES):
        api.namespace(f"team-{index:04}")
    return api


def password(api: MemApi, namespace: str, name: str = "ecr") -> str:
    secret = api.get_obj("Secret", name, namespace)
    assert secret is not None, namespace
    entry = json.loads(base64.b64decode(secret["data"][".dockerconfigjson"]))["auths"]
    return str(entry["1.dkr.ecr.eu-west-1.amazonaws.com"]["password"])


def test_apply_asks_the_plugin_once_for_a_thousand_namespaces(tmp_path: Path) -> None:
    api, calls = cluster(), tmp_path / "calls"
    apply_specs(api, [parse_document(document(calls), "ecr.yaml")], None, workers=1)
    assert calls.read_text().splitlines() == ["1.dkr.ecr.eu-west-1.amazonaws.com"]
    assert {password(api, f"team-{i:04}") for i in range(NAMESPACES)} == {"token-1"}


def test_the_controller_asks_the_plugin_once_for_every_namespace_reconcile(tmp_path: Path) -> None:
    api, calls = MemApi(), tmp_path / "calls"
    for index in range(RECONCILED):
        api.namespace(f"team-{index:04}")
    api.add(document(calls))
    plugins = PluginCache(0.8, floor=30.0)
    results = [reconcile(api, {}, ("ecr", f"team-{i:04}"), plugins=plugins) for i in range(RECONCILED)]
    assert not any(r.failed for r in results), next(r.errors for r in results if r.failed)
    assert plugins.calls == 1 and len(calls.read_text().splitlines()) == 1
    assert {password(api, f"team-{i:04}") for i in range(RECONCILED)} == {"token-1"}


def test_a_failing_plugin_is_not_run_once_per_namespace_and_says_why(tmp_path: Path) -> None:
    api, calls = MemApi(), tmp_path / "calls"
    for index in range(20):
        api.namespace(f"team-{index:04}")
    doc = document(calls)
    doc["spec"]["registries"][0]["credentialProvider"]["env"].append({"name": "CREDPLUGIN_MODE", "value": "exit"})
    api.add(doc)
    plugins = PluginCache(0.8, floor=30.0)
    results = [reconcile(api, {}, ("ecr", f"team-{i:04}"), plugins=plugins) for i in range(20)]
    assert all(r.errors == ("RegistryCredential ecr: spec.registries[0].credentialProvider: plugin credplugin.py "
                            "exited with status 3; its 30-byte stderr is not shown, it may hold a credential",)
               for r in results), results[0].errors
    assert len(calls.read_text().splitlines()) == 1


def test_a_reconcile_says_when_the_plugins_credential_is_due_again(tmp_path: Path) -> None:
    api, calls = MemApi(), tmp_path / "calls"
    api.namespace("team-a")
    api.add(document(calls))  # cacheDuration 12h
    before = time.time()
    result = reconcile(api, {}, ("ecr", "team-a"), plugins=PluginCache(0.8, floor=30.0))
    assert result.refresh_at is not None and not result.failed
    assert before + 0.8 * 43200 <= result.refresh_at <= time.time() + 0.8 * 43200
    assert result.expiries is not None and len(result.expiries) == 1
    expiry = result.expiries[0]
    assert before + 43200 <= expiry.at <= time.time() + 43200
    assert (expiry.registry, expiry.origin, expiry.renewed) == ("1.dkr.ecr.eu-west-1.amazonaws.com",
                                                                "plugin credplugin.py", True)
    gone = reconcile(api, {}, ("ecr", "team-b"), plugins=PluginCache(0.8, floor=30.0))
    assert gone.refresh_at is None and gone.expiries is None  # no such namespace: nothing to refresh there


def test_a_static_expires_at_is_the_reconciles_expiry_when_it_comes_first(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REG_PW", "pw")
    api, calls = MemApi(), tmp_path / "calls"
    api.namespace("team-a")
    doc = document(calls)  # the plugin's credential lasts 12 h
    doc["spec"]["registries"].append({"server": "r.example.com", "username": "u", "passwordFrom": {"env": "REG_PW"},
                                      "expiresAt": "2020-01-01T00:00:00Z"})
    api.add(doc)
    result = reconcile(api, {}, ("ecr", "team-a"), plugins=PluginCache(0.8, floor=30.0))
    assert not result.failed, result.errors
    assert result.expiries is not None
    assert earliest(result.expiries) == Expiry("r.example.com", 1577836800.0, "expiresAt")


def test_a_static_expires_at_brings_a_reconcile_a_week_ahead_and_at_expiry(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REG_PW", "pw")
    api = MemApi()
    api.namespace("team-a")
    at = time.time() + 30 * 24 * 3600
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at))
    api.add({"apiVersion": "regcred.dev/v1alpha1", "kind": "RegistryCredential", "metadata": {"name": "harbor"},
             "spec": {"registries": [{"server": "r.example.com", "username": "u", "passwordFrom": {"env": "REG_PW"},
                                      "expiresAt": stamp}]}})
    result = reconcile(api, {}, ("harbor", "team-a"), plugins=PluginCache(0.8, floor=30.0))
    assert not result.failed and result.expiries == (Expiry("r.example.com", int(at), "expiresAt"),)
    assert result.refresh_at == int(at) - 7 * 24 * 3600

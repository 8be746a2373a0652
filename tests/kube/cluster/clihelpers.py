"""Helpers of the cluster CLI tests: pull-secret entries, the fake's write log."""

from __future__ import annotations

from typing import Any

import pytest

MANAGED = {"app.kubernetes.io/managed-by": "regcred"}


def pull_names(kube: Any, ns: str, name: str = "default") -> list[str]:
    sa = kube.get("v1", "ServiceAccount", name, ns)
    return [e["name"] for e in sa.get("imagePullSecrets") or []]


def writes(kube: Any) -> list[Any]:
    return [r for r in kube.request_log.filter() if r.method in ("POST", "PUT", "PATCH", "DELETE")]


def need_fake(kube: Any) -> None:
    if not kube.supports_hooks:
        pytest.skip("needs the fake API's request log and hooks")

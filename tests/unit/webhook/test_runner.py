"""Starting the webhook: without a certificate in time it fails with one line (the controller exits and restarts);
stopping removes the temporary cert dir."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from regcred.controller.cachedapi import Store
from regcred.controller.webhook.runner import start_webhook
from regcred.core.errors import OperationFailed
from regcred.shells.kube.errors import KubeForbidden
from tests.support.memapi import MemApi


def caches() -> dict[str, Any]:
    return {"RegistryCredential": Store(), "Namespace": Store(), "Secret": Store(), "ServiceAccount": Store()}


def test_no_certificate_in_time_is_one_line_naming_the_namespace() -> None:
    api = MemApi()

    def forbidden(*_: Any, **__: Any) -> Any:
        raise KubeForbidden("forbidden: cannot get secrets", status=403, verb="get", resource="secrets")

    api.get_optional = forbidden  # type: ignore[method-assign]
    stop = threading.Event()
    try:
        with pytest.raises(OperationFailed) as failed:
            start_webhook(api, caches(), None, bind="127.0.0.1:0", cert_dir=None, namespace="regcred-system",
                          managed_namespaces=(), stop=stop, ready_timeout=0.5)
    finally:
        stop.set()
    assert "\n" not in failed.value.line() and "regcred-system" in failed.value.line()


def test_a_self_managed_webhook_serves_and_its_directory_goes_with_it() -> None:
    api = MemApi()
    api.namespace("regcred-system")
    stop = threading.Event()
    running = start_webhook(api, caches(), None, bind="127.0.0.1:0", cert_dir=None, namespace="regcred-system",
                            managed_namespaces=(), stop=stop, ready_timeout=30)
    try:
        directory = running.cert_dir
        assert (directory / "tls.crt").exists() and (directory / "tls.key").stat().st_mode & 0o777 == 0o600
        assert running.port > 0
    finally:
        stop.set()
        running.stop()
    assert not Path(directory).exists()

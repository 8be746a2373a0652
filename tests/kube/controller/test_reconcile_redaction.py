"""Every credential value a reconcile reads is registered with the log filter: no later record can carry it.

The values are plain words (no `password=`, no base64 JSON), which only registration can catch; the first
record, logged before the reconcile, shows the filter did not know them yet.
"""

from __future__ import annotations

import base64
import io
import json
import logging
import secrets
from typing import Any

from regcred.controller import logs
from regcred.controller.reconciler import reconcile
from regcred.shells.kube.kubeconfig import ClusterConfig, connect
from tests.kube.controller.test_reconcile import caches
from tests.support.cli import assert_no_secret


def test_credentials_read_by_a_reconcile_never_reach_a_log_record(kube: Any) -> None:
    # registrations last for the process: new values for every run; the letter keeps "...-token-<tag>" from
    # starting with a value another test registered (the test plugin's "token-3")
    tag = "q" + secrets.token_hex(4)
    from_key, from_config, token = (f"plainword-{what}-{tag}" for what in ("from-a-key", "in-a-config", "a-token"))
    ns, src = kube.unique_ns("red"), kube.unique_ns("src")
    kube.create_namespace(ns)
    kube.create_namespace(src)
    config = {"auths": {"other.example.com": {"auth": base64.b64encode(f"robot:{from_config}".encode()).decode(),
                                              "identitytoken": token}}}
    kube.create({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "pw", "namespace": src},
                 "type": "Opaque", "data": {"password": base64.b64encode(from_key.encode()).decode()}})
    kube.create({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "cfg", "namespace": src},
                 "type": "kubernetes.io/dockerconfigjson",
                 "data": {".dockerconfigjson": base64.b64encode(json.dumps(config).encode()).decode()}})
    name = kube.unique_ns("spec")
    doc = {"apiVersion": "regcred.dev/v1alpha1", "kind": "RegistryCredential", "metadata": {"name": name},
           "spec": {"namespaces": {"include": [ns]}, "registries": [
               {"server": "r.example.com", "username": "u",
                "passwordFrom": {"secretKeyRef": {"namespace": src, "name": "pw", "key": "password"}}},
               {"fromSecret": {"namespace": src, "name": "cfg"}}]}}
    stream = io.StringIO()
    handler = logs.configure_logging(json=True, stream=stream)
    log = logging.getLogger("regcred.controller.test")
    try:
        log.info("before: %s %s %s", from_key, from_config, token)
        before = stream.getvalue()
        assert from_key in before and from_config in before and token in before
        with connect(ClusterConfig(kubeconfig=str(kube.kubeconfig))) as api:
            stores = caches(api, doc)
            for secret in api.list("Secret", src):  # the source-Secret informer's share
                stores["Secret"].put(secret)
            result = reconcile(api, stores, (name, ns))
        assert not result.failed, result.errors
        stream.truncate(0)
        stream.seek(0)
        log.warning("a careless line: %s / %s / %s", from_key, from_config, token, extra={"got": [from_key]})
        log.info("as base64: %s", base64.b64encode(f"x:{from_key}".encode()).decode())
        after = stream.getvalue()
    finally:
        logging.getLogger("regcred").removeHandler(handler)
    assert_no_secret(after, [from_key, from_config, token])
    assert after.count("<redacted>") >= 5

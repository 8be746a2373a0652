"""Every credential value a reconcile reads is registered with the log filter: no later record can carry it.

The values are plain words (no `password=`, no base64 JSON), which only registration can catch; the first
record, logged before the reconcile, shows the filter did not know them yet.
"""

from __future__ import annotations

import base64
import io
import json
import logging
from typing import Any

from regcred.controller import logs
from regcred.controller.reconciler import reconcile
from regcred.shells.kube.kubeconfig import ClusterConfig, connect
from tests.kube.controller.test_reconcile import caches
from tests.support.cli import assert_no_secret

FROM_KEY = "plainword-from-a-secret-key-41"
FROM_CONFIG = "plainword-in-a-docker-config-73"
TOKEN = "plainword-identity-token-29"


def test_credentials_read_by_a_reconcile_never_reach_a_log_record(kube: Any) -> None:
    ns, src = kube.unique_ns("red"), kube.unique_ns("src")
    kube.create_namespace(ns)
    kube.create_namespace(src)
    config = {"auths": {"other.example.com": {"auth": base64.b64encode(f"robot:{FROM_CONFIG}".encode()).decode(),
                                              "identitytoken": TOKEN}}}
    kube.create({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "pw", "namespace": src},
                 "type": "Opaque", "data": {"password": base64.b64encode(FROM_KEY.encode()).decode()}})
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
        log.info("before: %s %s %s", FROM_KEY, FROM_CONFIG, TOKEN)
        before = stream.getvalue()
        assert FROM_KEY in before and FROM_CONFIG in before and TOKEN in before
        with connect(ClusterConfig(kubeconfig=str(kube.kubeconfig))) as api:
            stores = caches(api, doc)
            for secret in api.list("Secret", src):  # the source-Secret informer's share
                stores["Secret"].put(secret)
            result = reconcile(api, stores, (name, ns))
        assert not result.failed, result.errors
        stream.truncate(0)
        stream.seek(0)
        log.warning("a careless line: %s / %s / %s", FROM_KEY, FROM_CONFIG, TOKEN, extra={"got": [FROM_KEY]})
        log.info("as base64: %s", base64.b64encode(f"x:{FROM_KEY}".encode()).decode())
        after = stream.getvalue()
    finally:
        logging.getLogger("regcred").removeHandler(handler)
    assert_no_secret(after, [FROM_KEY, FROM_CONFIG, TOKEN])
    assert after.count("<redacted>") >= 5

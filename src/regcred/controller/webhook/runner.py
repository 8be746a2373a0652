"""Starting the webhook inside `regcred controller --webhook`: certificate, mutator, HTTPS server, on every replica.

Why every replica and after the caches: the Service sends admission calls to any ready replica, and an answer
is only right once the caches hold the specs, namespaces and Secrets (readiness waits for this start). The
certificate comes from `--webhook-cert-dir` (cert-manager or the operator keeps it), or is self-managed
(`certs.CertKeeper`) and materialised into a private temporary directory; either way the server only ever
serves `tls.crt`/`tls.key` from a directory and re-reads them when they change.
"""

from __future__ import annotations

import logging
import tempfile
import threading
from pathlib import Path
from typing import Any

from regcred.core.controller.manifests import WEBHOOK_SERVICE
from regcred.core.errors import OperationFailed
from regcred.usecases.kubeapi import KubeApi

log = logging.getLogger("regcred.controller.webhook")


class RunningWebhook:
    """The started pieces; `stop()` ends them (the server first: no request meets a closed mutator)."""

    def __init__(self, server: Any, mutator: Any, cert_dir: Path, temporary: bool) -> None:
        self.server, self.mutator, self.cert_dir, self.temporary = server, mutator, cert_dir, temporary

    @property
    def port(self) -> int:
        return int(self.server.port)

    def stop(self) -> None:
        self.server.stop()
        self.mutator.close()
        if self.temporary:
            import shutil  # lazy: only a stopping webhook needs it

            shutil.rmtree(self.cert_dir, ignore_errors=True)


def start_webhook(api: KubeApi, caches: Any, metrics: Any, *, bind: str, cert_dir: str | None, namespace: str,
                  managed_namespaces: tuple[str, ...], stop: threading.Event,
                  ready_timeout: float = 60.0) -> RunningWebhook:
    """Certificate first (self-managed: wait for the first one, bounded), then the mutator and the server."""
    from regcred.controller.webhook.mutator import PodMutator  # lazy: loaded when the webhook runs
    from regcred.controller.webhook.server import serve_webhook  # lazy: loaded when the webhook runs

    temporary = cert_dir is None
    directory = Path(cert_dir) if cert_dir is not None else Path(tempfile.mkdtemp(prefix="regcred-webhook-"))
    if temporary:
        from regcred.controller.webhook.certs import (  # lazy: cryptography loads only for self-managed TLS
            CertKeeper,
            service_hosts,
        )

        keeper = CertKeeper(api, namespace=namespace, hosts=service_hosts(WEBHOOK_SERVICE, namespace),
                            cert_dir=directory, config_name=WEBHOOK_SERVICE)
        thread = threading.Thread(target=keeper.run, args=(stop,), name="regcred-webhook-certs", daemon=True)
        thread.start()
        if not keeper.ready.wait(ready_timeout) and not stop.is_set():
            raise OperationFailed(f"no webhook serving certificate after {ready_timeout:g} s",
                                  hint=f"check that the controller may create Secrets in {namespace}")
    mutator = PodMutator(api, caches, metrics=metrics, namespaces=managed_namespaces,
                         excluded_namespaces=(namespace,))
    try:
        server = serve_webhook(bind, mutator, str(directory), metrics)
    except BaseException:
        mutator.close()
        raise
    log.info("webhook serving", extra={"bind": bind, "cert_dir": str(directory), "port": server.port})
    return RunningWebhook(server, mutator, directory, temporary)

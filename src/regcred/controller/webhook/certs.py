"""The webhook's serving certificate, managed by the controller: kept in a Secret, served by every replica.

Why a Secret and every replica: the Service spreads admission calls over all replicas, so all must serve a
certificate the registration's caBundle trusts. The CA and the serving certificate live in one Secret of the
controller's namespace (`ca.crt` the trusted bundle, `ca.key`, `tls.crt`, `tls.key`); each replica, every
`period`, reads it, creates or renews it when due (conditional writes: a 409 means another replica did, and it
is read again), writes `tls.crt`/`tls.key` into its cert dir when they changed (atomically, the key 0600; the
HTTPS server re-reads them), and puts `ca.crt` into the MutatingWebhookConfiguration's caBundle when it differs.

Rotation without a failed call: a serving certificate is renewed under the same CA (the bundle is unchanged). A
new CA is first only added to the bundle (the old CA stays until it expires) and becomes the issuer of serving
certificates `CA_GRACE` later, once every replica and the registration have the bundle. With `--webhook-cert-dir`
none of this runs: cert-manager (or the operator) provides the files and the caBundle.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from regcred.controller.webhook import pki
from regcred.core.errors import RegcredError
from regcred.core.objects import metadata
from regcred.shells.files import atomic_write
from regcred.shells.kube.errors import KubeConflict, KubeNotFound
from regcred.usecases.kubeapi import KubeApi, Obj

log = logging.getLogger("regcred.controller.webhook")
SECRET_NAME = "regcred-webhook-cert"
ROTATED_ANNOTATION = "regcred.dev/ca-rotated-at"
CA_GRACE = dt.timedelta(minutes=10)  # a new CA is trusted everywhere this long before it issues what is served
PERIOD = 60.0  # seconds between checks of the Secret on every replica
FILES = ("tls.crt", "tls.key")
Data = dict[str, bytes]


def service_hosts(service: str, namespace: str) -> list[str]:
    """The names the API server may use for the Service (`<svc>.<ns>.svc` first: what it dials)."""
    return [f"{service}.{namespace}.svc", f"{service}.{namespace}.svc.cluster.local", f"{service}.{namespace}",
            service]


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def renew(data: Mapping[str, bytes], rotated_at: dt.datetime | None, hosts: Sequence[str],
          now: dt.datetime) -> tuple[Data, dt.datetime | None] | None:
    """The Secret's new data (and CA rotation time) when something is missing, invalid or due; None otherwise."""
    bundle = [c for c in pki.certificates(data.get("ca.crt", b"")) if not pki.expired(c, now)]
    issuers = pki.certificates(data.get("ca.pem", b""))  # the CA whose key is ca.key: it signs what is served
    ca = issuers[0] if issuers else None
    if ca is None or pki.expired(ca, now) or not pki.key_matches(ca, data.get("ca.key", b"")):
        ca_pem, ca_key = pki.new_ca(now)
        crt, key = pki.new_serving_cert(ca_pem, ca_key, hosts, now)
        return {"ca.crt": ca_pem, "ca.pem": ca_pem, "ca.key": ca_key, "tls.crt": crt, "tls.key": key}, None
    if ca not in bundle:
        bundle.insert(0, ca)
    out: Data = {"ca.crt": pki.pem(bundle), "ca.pem": pki.pem([ca]), "ca.key": data["ca.key"],
                 "tls.crt": data.get("tls.crt", b""), "tls.key": data.get("tls.key", b"")}
    if pki.renewal_due(ca, now):
        ca_pem, ca_key = pki.new_ca(now)
        out.update({"ca.crt": ca_pem + out["ca.crt"], "ca.pem": ca_pem, "ca.key": ca_key})
        return out, now  # the serving certificate is renewed under the new CA after CA_GRACE
    if not _serving_ok(out, ca, bundle, rotated_at, hosts, now):
        out["tls.crt"], out["tls.key"] = pki.new_serving_cert(out["ca.pem"], out["ca.key"], hosts, now)
    if out == dict(data):
        return None
    return out, rotated_at


def _serving_ok(data: Data, ca: Any, bundle: Sequence[Any], rotated_at: dt.datetime | None, hosts: Sequence[str],
                now: dt.datetime) -> bool:
    """The served certificate may stay: it parses, fits its key, names every host, is trusted and not due."""
    serving = pki.certificates(data["tls.crt"])
    if not serving or not pki.key_matches(serving[0], data["tls.key"]):
        return False
    cert = serving[0]
    if pki.renewal_due(cert, now) or not pki.serves(cert, hosts) or not any(pki.signed_by(cert, c) for c in bundle):
        return False
    # signed by an older CA still in the bundle: moved to the new CA once every replica trusts it
    return pki.signed_by(cert, ca) or (rotated_at is not None and now < rotated_at + CA_GRACE)


def decode(secret: Obj | None) -> Data:
    raw = (secret or {}).get("data") or {}
    out: Data = {}
    for key, value in raw.items():
        try:
            out[key] = base64.b64decode(value, validate=True)
        except (ValueError, TypeError):
            continue
    return out


def _encode(data: Mapping[str, bytes]) -> dict[str, str]:
    return {k: base64.b64encode(v).decode("ascii") for k, v in sorted(data.items())}


def _rotated_at(secret: Obj | None) -> dt.datetime | None:
    value = (metadata(secret or {}).get("annotations") or {}).get(ROTATED_ANNOTATION)
    try:
        return dt.datetime.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


class CertKeeper:
    """One replica's share of the work: the Secret, its cert dir, the caBundle (see the module docstring)."""

    def __init__(self, api: KubeApi, *, namespace: str, hosts: Sequence[str], cert_dir: Path,
                 config_name: str | None, period: float = PERIOD, clock: Callable[[], dt.datetime] = _now) -> None:
        self.api, self.namespace, self.hosts, self.cert_dir = api, namespace, list(hosts), cert_dir
        self.config_name, self.period, self.clock = config_name, period, clock
        self.ready = threading.Event()  # the cert dir holds a certificate

    def secret(self) -> Obj:
        """The Secret as it should be, created or renewed when due; a 409 reads it again (three tries)."""
        for _ in range(3):
            current = self.api.get_optional("Secret", SECRET_NAME, self.namespace)
            change = renew(decode(current), _rotated_at(current), self.hosts, self.clock())
            if change is None and current is not None:
                return current
            data, rotated = change or ({}, None)
            annotations = {ROTATED_ANNOTATION: rotated.isoformat()} if rotated else {}
            try:
                if current is None:
                    return self.api.create({"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
                                            "metadata": {"name": SECRET_NAME, "namespace": self.namespace,
                                                         "labels": {"app.kubernetes.io/name": "regcred",
                                                                    "app.kubernetes.io/component": "webhook"},
                                                         "annotations": annotations},
                                            "data": _encode(data)})
                meta: dict[str, Any] = {"resourceVersion": metadata(current).get("resourceVersion")}
                if rotated:
                    meta["annotations"] = annotations
                log.info("webhook serving certificate renewed", extra={"secret": SECRET_NAME})
                return self.api.patch("Secret", SECRET_NAME, self.namespace,
                                      {"metadata": meta, "data": _encode(data)})
            except KubeConflict:
                continue  # another replica wrote it first: read theirs
        raise KubeConflict(f"Secret {self.namespace}/{SECRET_NAME} kept changing", status=409)

    def materialise(self, data: Mapping[str, bytes]) -> bool:
        """Write tls.crt/tls.key into the cert dir when they differ; True when something was written."""
        written = False
        for name in reversed(FILES):  # the key first: a reader that sees the new certificate finds its key
            path = self.cert_dir / name
            if name in data and (not path.exists() or path.read_bytes() != data[name]):
                atomic_write(path, data[name], mode=0o600)
                written = True
        return written

    def inject(self, ca_bundle: bytes) -> bool:
        """Put the bundle into every webhook of the registration whose caBundle differs; True when patched."""
        if self.config_name is None:
            return False
        config = self.api.get_optional("MutatingWebhookConfiguration", self.config_name)
        if config is None:
            return False
        wanted = base64.b64encode(ca_bundle).decode("ascii")
        ops: list[dict[str, Any]] = []
        for i, hook in enumerate(config.get("webhooks") or []):
            if (hook.get("clientConfig") or {}).get("caBundle") != wanted:
                ops += [{"op": "test", "path": f"/webhooks/{i}/name", "value": hook.get("name")},
                        {"op": "add", "path": f"/webhooks/{i}/clientConfig/caBundle", "value": wanted}]
        if not ops:
            return False
        self.api.patch("MutatingWebhookConfiguration", self.config_name, None, ops, patch_type="json")
        log.info("webhook caBundle injected", extra={"config": self.config_name})
        return True

    def sync(self) -> None:
        """One round: the Secret, the files, the caBundle."""
        data = decode(self.secret())
        self.materialise(data)
        self.ready.set()
        with contextlib.suppress(KubeNotFound):  # the registration was deleted in between: nothing to inject into
            self.inject(data["ca.crt"])

    def run(self, stop: threading.Event) -> None:
        """Round after round until `stop`; a failed round is logged and tried again sooner."""
        while not stop.is_set():
            wait = self.period
            try:
                self.sync()
            except (RegcredError, OSError) as exc:
                log.warning("webhook certificate round failed", extra={"error": str(exc).splitlines()[0]})
                wait = min(self.period, 5.0)
            except Exception:  # a bug must not end the thread: the served certificate would expire
                log.exception("webhook certificate round crashed")
                wait = min(self.period, 5.0)
            stop.wait(wait)

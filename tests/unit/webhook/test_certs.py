"""The self-managed serving certificate: issued, kept, renewed before expiry, a new CA trusted before it is used,
and what lands in the cert dir is a pair a TLS client verifying against the bundle accepts for the Service's name.
"""

from __future__ import annotations

import datetime as dt
import socket
import ssl
import threading
from pathlib import Path

import pytest

from regcred.controller.webhook import pki
from regcred.controller.webhook.certs import CA_GRACE, SECRET_NAME, CertKeeper, decode, renew, service_hosts
from tests.support.memapi import MemApi

HOSTS = service_hosts("regcred-webhook", "regcred-system")
T0 = dt.datetime(2026, 12, 2, 10, 0, tzinfo=dt.UTC)


def issuer(data: dict[str, bytes]) -> pki.x509.Certificate:
    return pki.certificates(data["ca.pem"])[0]


def serving(data: dict[str, bytes]) -> pki.x509.Certificate:
    return pki.certificates(data["tls.crt"])[0]


def first() -> dict[str, bytes]:
    change = renew({}, None, HOSTS, T0)
    assert change is not None and change[1] is None
    return change[0]


def test_a_new_secret_holds_a_ca_and_a_certificate_for_every_service_name() -> None:
    data = first()
    cert = serving(data)
    assert pki.serves(cert, HOSTS) and pki.signed_by(cert, issuer(data)) and pki.key_matches(cert, data["tls.key"])
    assert data["ca.crt"] == data["ca.pem"]
    assert renew(data, None, HOSTS, T0 + dt.timedelta(days=200)) is None  # nothing due: nothing written


def test_the_serving_certificate_is_renewed_at_two_thirds_under_the_same_ca() -> None:
    data = first()
    change = renew(data, None, HOSTS, T0 + dt.timedelta(days=244))
    assert change is not None
    new = change[0]
    assert new["ca.crt"] == data["ca.crt"] and new["ca.key"] == data["ca.key"]  # the caBundle does not change
    assert serving(new).not_valid_after_utc > serving(data).not_valid_after_utc


@pytest.mark.parametrize("broken", ["hosts", "torn", "foreign", "garbage"])
def test_a_certificate_that_cannot_serve_is_issued_again(broken: str) -> None:
    data, hosts = first(), HOSTS
    if broken == "hosts":
        hosts = service_hosts("regcred-webhook", "elsewhere")
    elif broken == "torn":
        data["tls.key"] = renew({}, None, HOSTS, T0)[0]["tls.key"]  # type: ignore[index]
    elif broken == "foreign":
        other = renew({}, None, HOSTS, T0)[0]  # type: ignore[index]
        data["tls.crt"], data["tls.key"] = other["tls.crt"], other["tls.key"]
    else:
        data["tls.crt"] = b"not a certificate"
    change = renew(data, None, hosts, T0 + dt.timedelta(days=1))
    assert change is not None
    new = change[0]
    assert pki.serves(serving(new), hosts) and pki.signed_by(serving(new), issuer(data))
    assert new["ca.crt"] == data["ca.crt"]


def test_a_new_ca_is_trusted_first_and_used_after_the_grace_then_the_old_one_leaves() -> None:
    due = T0 + dt.timedelta(days=2434)
    fresh = renew(first(), None, HOSTS, due - dt.timedelta(days=1))  # the serving certificate renewed yearly
    assert fresh is not None
    data = fresh[0]
    change = renew(data, None, HOSTS, due)
    assert change is not None and change[1] == due
    rotated = change[0]
    bundle = pki.certificates(rotated["ca.crt"])
    assert len(bundle) == 2 and issuer(rotated) == bundle[0] and issuer(data) == bundle[1]
    assert rotated["tls.crt"] == data["tls.crt"] or pki.signed_by(serving(rotated), issuer(data))
    # within the grace the certificate signed by the old CA stays (a replica may not have the new bundle yet)
    within = renew(rotated, due, HOSTS, due + CA_GRACE / 2)
    assert within is None or within[0]["tls.crt"] == rotated["tls.crt"]
    after = renew(rotated, due, HOSTS, due + CA_GRACE)
    assert after is not None and pki.signed_by(serving(after[0]), issuer(rotated))
    assert len(pki.certificates(after[0]["ca.crt"])) == 2
    gone = renew(after[0], due, HOSTS, T0 + dt.timedelta(days=3651))  # the old CA expired: out of the bundle
    assert gone is not None and pki.certificates(gone[0]["ca.crt"]) == [issuer(after[0])]


def test_a_missing_or_expired_ca_starts_over() -> None:
    data = first()
    assert renew({**data, "ca.key": b""}, None, HOSTS, T0) is not None
    fresh = renew(data, None, HOSTS, T0 + dt.timedelta(days=3700))
    assert fresh is not None and issuer(fresh[0]) != issuer(data)


def test_the_files_are_a_pair_a_client_trusting_the_bundle_accepts(tmp_path: Path) -> None:
    api = MemApi()
    api.namespace("regcred-system")
    keeper = CertKeeper(api, namespace="regcred-system", hosts=[*HOSTS, "127.0.0.1"], cert_dir=tmp_path,
                        config_name=None)
    keeper.sync()
    assert keeper.ready.is_set()
    assert (tmp_path / "tls.key").stat().st_mode & 0o777 == 0o600
    secret = api.get_obj("Secret", SECRET_NAME, "regcred-system")
    assert secret is not None and secret["type"] == "kubernetes.io/tls"
    bundle = decode(secret)["ca.crt"]
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(tmp_path / "tls.crt", tmp_path / "tls.key")
    client_ctx = ssl.create_default_context(cadata=bundle.decode())
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve() -> None:
        conn, _ = listener.accept()
        with server_ctx.wrap_socket(conn, server_side=True) as tls:
            tls.sendall(b"ok")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    with socket.create_connection(("127.0.0.1", port)) as raw, \
            client_ctx.wrap_socket(raw, server_hostname=HOSTS[0]) as tls:
        assert tls.recv(2) == b"ok"
    thread.join(5)
    listener.close()


def test_replicas_share_one_secret_and_nothing_is_rewritten_when_nothing_is_due(tmp_path: Path) -> None:
    api = MemApi()
    api.namespace("regcred-system")
    one = CertKeeper(api, namespace="regcred-system", hosts=HOSTS, cert_dir=tmp_path / "a", config_name=None)
    two = CertKeeper(api, namespace="regcred-system", hosts=HOSTS, cert_dir=tmp_path / "b", config_name=None)
    api.before_write = lambda *_: one.sync()  # replica one creates it while replica two is about to: a 409
    two.sync()
    assert [w[:2] for w in api.writes()] == [("create", "Secret"), ("create", "Secret")]
    assert (tmp_path / "a" / "tls.crt").read_bytes() == (tmp_path / "b" / "tls.crt").read_bytes()
    api.log.clear()
    one.sync()
    two.sync()
    assert api.writes() == []
    assert not one.materialise(decode(api.get_obj("Secret", SECRET_NAME, "regcred-system")))

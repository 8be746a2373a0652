"""The webhook's own small PKI: a CA, a serving certificate for the Service's DNS names, and when to renew them.

Why a CA and not one self-signed certificate: the API server trusts the `caBundle` of the registration, so with
a CA the serving certificate can be renewed (every replica, any time) without touching the registration; only a
new CA changes the bundle, and then the bundle carries the old and the new CA while both are valid.

ECDSA P-256 keys (fast to make, accepted by Go's TLS stack), SHA-256 signatures; certificates are renewed once
two thirds of their lifetime has passed (cert-manager's default), the CA after 10 years * 2/3, the serving
certificate after a year * 2/3. `cryptography` (pyca) is the library; it loads only when the webhook runs.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_LIFETIME = dt.timedelta(days=3650)
SERVING_LIFETIME = dt.timedelta(days=365)
RENEW_AT = 2 / 3  # of the lifetime
BACKDATE = dt.timedelta(minutes=5)  # clocks of the API server and this pod may differ a little


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def new_ca(now: dt.datetime, common_name: str = "regcred-webhook-ca") -> tuple[bytes, bytes]:
    """(certificate PEM, key PEM) of a new CA that may sign serving certificates only."""
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name)).issuer_name(_name(common_name))
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE).not_valid_after(now + CA_LIFETIME)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                     content_commitment=False, key_encipherment=False, data_encipherment=False,
                                     key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM), _key_pem(key)


def new_serving_cert(ca_cert_pem: bytes, ca_key_pem: bytes, hosts: Sequence[str],
                     now: dt.datetime) -> tuple[bytes, bytes]:
    """(certificate PEM, key PEM) for `hosts` (DNS names; IP addresses as such), signed by the CA."""
    import ipaddress  # lazy: only issuing needs it

    ca_cert = x509.load_pem_x509_certificate(ca_cert_pem)
    ca_key = serialization.load_pem_private_key(ca_key_pem, password=None)
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    key = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(hosts[0])).issuer_name(ca_cert.subject)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE).not_valid_after(min(now + SERVING_LIFETIME, ca_cert.not_valid_after_utc))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_encipherment=False, key_cert_sign=False,
                                     content_commitment=False, data_encipherment=False, key_agreement=False,
                                     crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM), _key_pem(key)


def certificates(pem: bytes) -> list[x509.Certificate]:
    """Every certificate of a PEM bundle; [] when it holds none or does not parse."""
    try:
        return x509.load_pem_x509_certificates(pem)
    except ValueError:
        return []


def renewal_due(cert: x509.Certificate, now: dt.datetime) -> bool:
    """Two thirds of the lifetime have passed (or it is expired)."""
    start, end = cert.not_valid_before_utc, cert.not_valid_after_utc
    return now >= start + (end - start) * RENEW_AT


def expired(cert: x509.Certificate, now: dt.datetime) -> bool:
    return now >= cert.not_valid_after_utc


def serves(cert: x509.Certificate, hosts: Sequence[str]) -> bool:
    """Does the certificate name every host (its SANs)?"""
    try:
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return False
    named = {str(v) for v in sans.get_values_for_type(x509.DNSName)}
    named |= {str(v) for v in sans.get_values_for_type(x509.IPAddress)}
    return set(hosts) <= named


def signed_by(cert: x509.Certificate, ca: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def key_matches(cert: x509.Certificate, key_pem: bytes) -> bool:
    """Is `key_pem` the private key of the certificate (a torn or mixed-up Secret is not)?"""
    try:
        key: Any = serialization.load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError):
        return False
    public = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    return bool(key.public_key().public_bytes(*public) == cert.public_key().public_bytes(*public))


def pem(certs: Sequence[x509.Certificate]) -> bytes:
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)

"""Throw-away TLS for local servers on loopback: a CA and a serving certificate for 127.0.0.1/localhost.

One implementation for every local HTTPS server (the demo registry, the test fakes, the envtest apiserver).
A separate CA rather than one self-signed leaf, with the key usages and key identifiers strict verifiers
ask for (Python 3.13's VERIFY_X509_STRICT, Go's crypto/x509), so every client can be pointed at the CA.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
import tempfile
from dataclasses import dataclass
from pathlib import Path

from regcred.shells.files import atomic_write


@dataclass(frozen=True)
class Pki:
    """PEM bytes of the CA certificate, the serving certificate and its private key (PKCS#8)."""

    ca_pem: bytes
    cert_pem: bytes
    key_pem: bytes

    def server_context(self) -> ssl.SSLContext:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        with tempfile.TemporaryDirectory() as d:
            cert, key = Path(d) / "tls.crt", Path(d) / "tls.key"
            cert.write_bytes(self.cert_pem)
            key.write_bytes(self.key_pem)
            ctx.load_cert_chain(cert, key)
        return ctx

    def write(self, directory: Path, *, ca: str = "ca.crt", cert: str = "server.pem",
              key: str = "server-key.pem") -> tuple[Path, Path, Path]:
        """The three files in `directory`, written atomically (the key 0600 from the start); (ca, cert, key) paths."""
        directory.mkdir(parents=True, exist_ok=True)
        paths = directory / ca, directory / cert, directory / key
        for path, data, mode in zip(paths, (self.ca_pem, self.cert_pem, self.key_pem), (0o644, 0o644, 0o600),
                                    strict=True):
            atomic_write(path, data, mode=mode)
        return paths


def generate_pki(common_name: str = "127.0.0.1", *, days: int = 2) -> Pki:
    """A fresh CA and a serving certificate signed by it (EC P-256; SANs 127.0.0.1 and localhost)."""
    from cryptography import x509  # lazy: cryptography is a test dependency, needed only for TLS material
    from cryptography.hazmat.primitives import hashes, serialization  # lazy: as above
    from cryptography.hazmat.primitives.asymmetric import ec  # lazy: as above
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID  # lazy: as above

    now = dt.datetime.now(dt.UTC)
    valid_from, valid_to = now - dt.timedelta(minutes=5), now + dt.timedelta(days=days)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "regcred test CA")])
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(valid_from)
        .not_valid_after(valid_to)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .add_extension(ca_ski, critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    san = x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(valid_from)
        .not_valid_after(valid_to)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False, False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(san, critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    return Pki(ca_cert.public_bytes(pem), cert.public_bytes(pem),
               key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))

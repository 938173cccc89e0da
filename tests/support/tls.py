"""A throwaway PKI for TLS tests: a CA, a server certificate for 127.0.0.1/localhost, client certificates
(valid, expired, revoked) and a CRL, written as PEM files into a folder (made with `cryptography`); also
OPC UA server certificates (RSA, DER) signed by the same CA."""

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

Key = ec.EllipticCurvePrivateKey


@dataclass(frozen=True)
class CertFiles:
    cert: Path
    key: Path
    serial: int


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Takt test"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _validity(expired: bool) -> tuple[dt.datetime, dt.datetime]:
    """Valid from an hour ago for a week, or (expired) from 10 days ago until yesterday."""
    now = _now()
    if expired:
        return now - dt.timedelta(days=10), now - dt.timedelta(days=1)
    return now - dt.timedelta(hours=1), now + dt.timedelta(days=7)


def _pkcs8(key: Key | rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _write_key(key: Key, path: Path) -> None:
    path.write_bytes(_pkcs8(key))
    path.chmod(0o644)  # mosquitto may drop privileges to its own user and must still read it


class Pki:
    """One CA in `folder`. `server()` and `client()` issue certificates, `revoke()` rewrites the CRL."""

    def __init__(self, folder: Path, name: str = "Takt test CA"):
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        folder.chmod(0o755)
        self.key: Key = ec.generate_private_key(ec.SECP256R1())
        start = _now() - dt.timedelta(days=30)
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(_name(name))
            .issuer_name(_name(name))
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(start + dt.timedelta(days=60))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(self.key.public_key()), critical=False)
            .sign(self.key, hashes.SHA256())
        )
        self.ca_cert = folder / "ca.crt"
        self.ca_cert.write_bytes(self.cert.public_bytes(serialization.Encoding.PEM))
        self.crl = folder / "ca.crl"
        self.revoked: list[int] = []
        self._write_crl()

    def _issue(
        self, cn: str, usage: x509.ObjectIdentifier, start: dt.datetime, end: dt.datetime, name: str
    ) -> CertFiles:
        key: Key = ec.generate_private_key(ec.SECP256R1())
        serial = x509.random_serial_number()
        builder = self._leaf(cn, key, serial, start, end).add_extension(
            x509.ExtendedKeyUsage([usage]), critical=False
        )
        if usage == ExtendedKeyUsageOID.SERVER_AUTH:
            sans: list[x509.GeneralName] = [
                x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                x509.DNSName("localhost"),
            ]
            builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        cert = builder.sign(self.key, hashes.SHA256())
        files = CertFiles(self.folder / f"{name}.crt", self.folder / f"{name}.key", serial)
        files.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        _write_key(key, files.key)
        return files

    def _leaf(
        self, cn: str, key: Key | rsa.RSAPrivateKey, serial: int, start: dt.datetime, end: dt.datetime
    ) -> x509.CertificateBuilder:
        """An end-entity certificate of this CA, before its usages."""
        return (
            x509.CertificateBuilder()
            .subject_name(_name(cn))
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(serial)
            .not_valid_before(start)
            .not_valid_after(end)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()), critical=False
            )
        )

    def server(self, cn: str = "127.0.0.1", name: str = "server") -> CertFiles:
        """The broker's certificate, SAN 127.0.0.1 and localhost, as `server.crt` / `server.key`."""
        return self._issue(cn, ExtendedKeyUsageOID.SERVER_AUTH, *_validity(False), name)

    def client(self, cn: str, expired: bool = False) -> CertFiles:
        """A client certificate whose CN is the MQTT username (`use_identity_as_username`)."""
        return self._issue(cn, ExtendedKeyUsageOID.CLIENT_AUTH, *_validity(expired), cn)

    def opcua_server(self, name: str, uri: str, expired: bool = False) -> CertFiles:
        """An OPC UA server's application certificate: RSA 2048 (Basic256Sha256), SAN `uri`, localhost and
        127.0.0.1, OPC UA's key usages, serverAuth; `name.der` (DER) and `name.pem` (key) for asyncua."""
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        serial = x509.random_serial_number()
        sans: list[x509.GeneralName] = [
            x509.UniformResourceIdentifier(uri),
            x509.DNSName("localhost"),
            x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        ]
        usage = x509.KeyUsage(True, True, True, True, False, False, False, False, False)
        cert = (
            self._leaf(name, key, serial, *_validity(expired))
            .add_extension(usage, critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .sign(self.key, hashes.SHA256())
        )
        files = CertFiles(self.folder / f"{name}.der", self.folder / f"{name}.pem", serial)
        files.cert.write_bytes(cert.public_bytes(serialization.Encoding.DER))
        files.key.write_bytes(_pkcs8(key))
        return files

    def revoke(self, files: CertFiles) -> None:
        self.revoked.append(files.serial)
        self._write_crl()

    def _write_crl(self) -> None:
        now = _now()
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(self.cert.subject)
            .last_update(now - dt.timedelta(minutes=5))
            .next_update(now + dt.timedelta(days=7))
        )
        for serial in self.revoked:
            revoked = x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(now).build()
            builder = builder.add_revoked_certificate(revoked)
        crl = builder.sign(self.key, hashes.SHA256())
        self.crl.write_bytes(crl.public_bytes(serialization.Encoding.PEM))

"""OPC UA server trust by a list: CA (or self-signed server) certificates plus revocation lists.

Built on asyncua's TrustStore and CertificateValidator, with three differences in the store: it reads
files as well as folders (asyncua reads only `*.der`/`*.pem` inside folders), it accepts a CRL only
when a trusted certificate signed it and refuses one past its next update (asyncua checks neither), and
a CRL entry revokes only certificates of that CRL's issuer (asyncua matches the serial number alone).
The files are read again for every session, so a new CA or CRL applies at the next reconnect.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from asyncua import ua
from asyncua.common.utils import ServiceError
from asyncua.crypto.truststore import TrustStore
from asyncua.crypto.validator import CertificateValidator, CertificateValidatorOptions
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509 import verification

from edge.config import Trust
from edge.errors import SourceError

Crl = x509.CertificateRevocationList

CERT_SUFFIXES = frozenset({".der", ".pem", ".crt", ".cer"})  # read from a folder; a named file always
CRL_SUFFIXES = frozenset({".crl", ".der", ".pem"})
# chain to a trusted certificate, current, not revoked, and a server's (extended key usage serverAuth)
TRUST_CHECKS = (
    CertificateValidatorOptions.TIME_RANGE
    | CertificateValidatorOptions.EXT_KEY_USAGE
    | CertificateValidatorOptions.PEER_SERVER
    | CertificateValidatorOptions.TRUSTED
    | CertificateValidatorOptions.REVOKED
)
_STORE_CODES = ("BadCertificateUntrusted", "BadCertificateRevoked")  # explained by ServerTrust.reason


def describe(cert: x509.Certificate) -> str:
    issuer = cert.issuer.rfc4514_string()
    return f"{cert.subject.rfc4514_string()} (serial {cert.serial_number:x}, issuer {issuer})"


def thumbprint(cert: x509.Certificate) -> str:
    """The SHA-1 thumbprint OPC UA tools show (UaExpert, TIA Portal), hex upper case."""
    return cert.fingerprint(hashes.SHA1()).hex().upper()  # an identifier, not a signature


def fingerprint(cert: x509.Certificate) -> str:
    """A certificate as a person compares it: thumbprint, subject, expiry."""
    until = f"{cert.not_valid_after_utc:%Y-%m-%d}"
    return f"thumbprint {thumbprint(cert)} ({cert.subject.rfc4514_string()}, valid until {until})"


def first_certificate(der: bytes) -> x509.Certificate:
    """The leading certificate of a DER blob (a server may send its certificate followed by its chain)."""
    size = der[1] if len(der) > 1 else 0
    if size & 0x80:  # long form: the low bits give the number of length bytes
        count = size & 0x7F
        size = 2 + count + int.from_bytes(der[2 : 2 + count], "big")
    else:
        size += 2
    return x509.load_der_x509_certificate(der[:size])


def _files(paths: Sequence[str], suffixes: frozenset[str]) -> list[Path]:
    files: list[Path] = []
    for name in paths:
        path = Path(name)
        if path.is_dir():
            files += sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in suffixes)
        else:
            files.append(path)
    return files


def _read(path: Path, what: str) -> tuple[bytes, bool]:
    try:
        data = path.read_bytes()
    except OSError as err:
        raise SourceError(f"cannot read {what} {path}: {err.strerror or err}") from err
    return data, b"-----BEGIN" in data


def read_certificates(paths: Sequence[str]) -> list[x509.Certificate]:
    certs: list[x509.Certificate] = []
    for path in _files(paths, CERT_SUFFIXES):
        data, pem = _read(path, "trusted certificate")
        try:
            certs += x509.load_pem_x509_certificates(data) if pem else [x509.load_der_x509_certificate(data)]
        except ValueError as err:
            raise SourceError(f"trusted certificate {path}: not a DER or PEM certificate ({err})") from err
    if not certs:
        raise SourceError(f"no trusted certificate in {', '.join(paths)}")
    return certs


def read_crls(paths: Sequence[str], trusted: Sequence[x509.Certificate]) -> list[Crl]:
    """The CRLs, each checked: signed by a trusted certificate, not past its next update."""
    crls: list[Crl] = []
    now = datetime.now(UTC)
    for path in _files(paths, CRL_SUFFIXES):
        data, pem = _read(path, "CRL")
        try:
            crl = x509.load_pem_x509_crl(data) if pem else x509.load_der_x509_crl(data)
        except ValueError as err:
            raise SourceError(f"CRL {path}: not a DER or PEM revocation list ({err})") from err
        issuer = crl.issuer.rfc4514_string()
        if not any(c.subject == crl.issuer and _signed_by(crl, c) for c in trusted):
            problem = "is not signed by a trusted certificate"
            raise SourceError(f"CRL {path} of {issuer} {problem} (add its CA to trust.certificates)")
        if crl.next_update_utc is not None and crl.next_update_utc < now:
            expired = f"{crl.next_update_utc:%Y-%m-%d %H:%M} UTC"
            raise SourceError(f"CRL {path} of {issuer} expired {expired}: publish a new one")
        crls.append(crl)
    return crls


def _signed_by(crl: Crl, issuer: x509.Certificate) -> bool:
    try:
        return crl.is_signature_valid(issuer.public_key())  # type: ignore[arg-type]  # RSA/EC keys only
    except TypeError:  # a key type that cannot sign CRLs
        return False


class ServerTrust(TrustStore):
    """Trusted certificates and checked CRLs; `reason` says why the last certificate was refused."""

    def __init__(self, trusted: list[x509.Certificate], crls: list[Crl]) -> None:
        super().__init__([], [])
        self.store = verification.Store(trusted)
        self.crls = crls
        self.reason = ""

    def is_trusted(self, certificate: x509.Certificate) -> bool:
        verifier = self.policy_builder.store(self.store).build_client_verifier()
        try:
            verifier.verify(certificate, [])
        except verification.VerificationError as err:
            self.reason = f"no chain to a trusted certificate: {err}"
            return False
        return True

    def is_revoked(self, certificate: x509.Certificate) -> bool:
        for crl in self.crls:
            if crl.issuer == certificate.issuer:
                entry = crl.get_revoked_certificate_by_serial_number(certificate.serial_number)
                if entry is not None:
                    when = f"{entry.revocation_date_utc:%Y-%m-%d %H:%M} UTC"
                    self.reason = f"revoked {when} by the CRL of {crl.issuer.rfc4514_string()}"
                    return True
        return False


class ServerValidator(CertificateValidator):
    """asyncua's validator that remembers why it refused (asyncua reports only the status code)."""

    def __init__(self, options: CertificateValidatorOptions, trust: ServerTrust | None = None) -> None:
        super().__init__(options, trust)
        self.trust = trust
        self.refusal: str | None = None

    async def validate(self, cert: x509.Certificate, app_description: ua.ApplicationDescription) -> None:
        try:
            await super().validate(cert, app_description)
        except ServiceError as err:
            status = ua.StatusCode(ua.UInt32(err.code))
            detail = self.trust.reason if self.trust and status.name in _STORE_CODES else status.doc
            self.refusal = f"server certificate {describe(cert)} refused: {status.name}: {detail}"
            raise


async def load(trust: Trust) -> ServerValidator:
    """A validator for the `trust` block, its files read now (off the event loop)."""

    def read() -> ServerTrust:
        trusted = read_certificates(trust.certificates)
        return ServerTrust(trusted, read_crls(trust.crls, trusted))

    return ServerValidator(TRUST_CHECKS, await asyncio.to_thread(read))

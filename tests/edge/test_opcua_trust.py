"""The OPC UA trust list: certificate and CRL files read from files or folders, CRLs checked before use.

The connection cases (a CA-signed, a stranger's, a revoked and an expired server certificate against a
real asyncua server) are in tests/faults/test_security.py."""

import datetime as dt
import shutil
from pathlib import Path

import pytest
from asyncua import ua
from asyncua.common.utils import ServiceError
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import ExtendedKeyUsageOID

from edge.config import Trust
from edge.errors import SourceError
from edge.sources import opcua_trust
from edge.sources.opcua_trust import ServerTrust, first_certificate, read_certificates, read_crls
from tests.support.tls import CertFiles, Pki

URI = "urn:test:plc"


def load(files: CertFiles) -> x509.Certificate:
    return x509.load_der_x509_certificate(files.cert.read_bytes())


def test_certificates_from_files_and_folders_der_pem_and_bundles(tmp_path: Path) -> None:
    one, two, three = (Pki(tmp_path / n, f"CA {n}") for n in ("one", "two", "three"))
    folder = tmp_path / "trusted"
    folder.mkdir()
    shutil.copy(one.ca_cert, folder / "one.crt")  # PEM, .crt
    (folder / "two.der").write_bytes(two.cert.public_bytes(serialization.Encoding.DER))
    (folder / "bundle.pem").write_bytes(one.ca_cert.read_bytes() + three.ca_cert.read_bytes())
    (folder / "README.txt").write_text("not a certificate, not read")
    subjects = [c.subject.rfc4514_string() for c in read_certificates([str(folder), str(three.ca_cert)])]
    assert sorted(subjects) == sorted(["CN=CA one,O=Takt test"] * 2 + ["CN=CA two,O=Takt test"]
                                      + ["CN=CA three,O=Takt test"] * 2)  # fmt: skip
    (folder / "broken.pem").write_text("-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n")
    with pytest.raises(SourceError, match=r"trusted certificate .*broken\.pem: not a DER or PEM certificate"):
        read_certificates([str(folder)])
    (tmp_path / "empty").mkdir()
    with pytest.raises(SourceError, match="no trusted certificate in"):
        read_certificates([str(tmp_path / "empty")])


def test_a_crl_must_come_from_a_trusted_ca_and_be_current(tmp_path: Path) -> None:
    ca, other = Pki(tmp_path / "ca", "Integrator CA"), Pki(tmp_path / "other", "Other CA")
    assert len(read_crls([str(ca.crl)], [ca.cert])) == 1
    folder = tmp_path / "crls"
    folder.mkdir()
    shutil.copy(ca.crl, folder / "a-integrator.crl")
    shutil.copy(other.crl, folder / "b-other.crl")
    assert len(read_crls([str(folder)], [ca.cert, other.cert])) == 2
    with pytest.raises(SourceError, match=r"b-other\.crl of CN=Other CA.* is not signed by a trusted"):
        read_crls([str(folder)], [ca.cert])
    now = dt.datetime.now(dt.UTC)
    stale = (
        x509.CertificateRevocationListBuilder().issuer_name(ca.cert.subject)
        .last_update(now - dt.timedelta(days=8)).next_update(now - dt.timedelta(days=1))
        .sign(ca.key, hashes.SHA256())
    )  # fmt: skip
    (tmp_path / "stale.der").write_bytes(stale.public_bytes(serialization.Encoding.DER))
    with pytest.raises(SourceError, match=r"stale\.der of CN=Integrator CA.* expired .*publish a new one"):
        read_crls([str(tmp_path / "stale.der")], [ca.cert])


def test_a_crl_revokes_only_certificates_of_its_own_issuer(tmp_path: Path) -> None:
    ca, other = Pki(tmp_path / "ca", "Integrator CA"), Pki(tmp_path / "other", "Other CA")
    plc = ca.opcua_server("plc", URI)
    other.revoke(plc)  # the same serial number in another CA's CRL
    trust = ServerTrust([ca.cert, other.cert], read_crls([str(other.crl)], [ca.cert, other.cert]))
    assert trust.is_trusted(load(plc)) and not trust.is_revoked(load(plc))
    ca.revoke(plc)
    trust = ServerTrust([ca.cert], read_crls([str(ca.crl)], [ca.cert]))
    assert trust.is_revoked(load(plc)) and "by the CRL of CN=Integrator CA" in trust.reason
    stranger = other.opcua_server("stranger", URI)
    assert not trust.is_trusted(load(stranger)) and "no chain to a trusted certificate" in trust.reason


async def test_only_a_server_certificate_of_a_server_is_accepted(tmp_path: Path) -> None:
    ca = Pki(tmp_path / "ca", "Integrator CA")
    plc = load(ca.opcua_server("plc", URI))
    validator = await opcua_trust.load(Trust(certificates=[str(ca.ca_cert)], crls=[str(ca.crl)]))
    server = ua.ApplicationDescription(ApplicationUri=URI, ApplicationType=ua.ApplicationType.Server)
    await validator.validate(plc, server)  # the control
    client_only = x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH])
    builder = x509.CertificateBuilder(
        plc.issuer, plc.subject, plc.public_key(), x509.random_serial_number(), plc.not_valid_before_utc,
        plc.not_valid_after_utc,
        [e if not isinstance(e.value, x509.ExtendedKeyUsage) else x509.Extension(e.oid, False, client_only)
         for e in plc.extensions],
    )  # fmt: skip
    client_cert = builder.sign(ca.key, hashes.SHA256())
    as_client = ua.ApplicationDescription(ApplicationUri=URI, ApplicationType=ua.ApplicationType.Client)
    for cert, app in ((client_cert, server), (plc, as_client)):
        with pytest.raises(ServiceError):
            await validator.validate(cert, app)
        assert "refused: BadCertificateUseNotAllowed" in str(validator.refusal), validator.refusal


def test_first_certificate_of_a_chain_blob(tmp_path: Path) -> None:
    ca = Pki(tmp_path / "ca")
    leaf = ca.opcua_server("plc", URI).cert.read_bytes()
    chain = leaf + ca.cert.public_bytes(serialization.Encoding.DER)
    assert first_certificate(chain) == first_certificate(leaf) == x509.load_der_x509_certificate(leaf)

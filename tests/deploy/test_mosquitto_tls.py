"""The shipped TLS listener (deploy/mosquitto/conf.d/tls.conf): client certificates, CRL, expiry.

Certificates come from tests/support/tls.py (cryptography), and in the last test from the shipped
add-edge.sh / remove-edge.sh (openssl), so both the config and the scripts are proven.
"""

import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from shared import topics
from tests.deploy.conftest import MQTT_DEPLOY, SERVER_PASSWORD, ShippedBroker
from tests.deploy.probe import Probe, Refused, Tls
from tests.support.tls import Pki

SITE = "plant-a"


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    pki = Pki(tmp_path / "ca")
    pki.server()
    return pki


@pytest.fixture
def tls_broker(shipped_broker: Callable[[], ShippedBroker], pki: Pki) -> ShippedBroker:
    broker = shipped_broker()
    broker.add_edge("--server", "--password", SERVER_PASSWORD)
    broker.with_tls(pki.folder)
    return broker


def tls_probe(broker: ShippedBroker, tls: Tls) -> Probe:
    assert broker.tls_port is not None
    return Probe(broker.tls_port, tls=tls)


@pytest.mark.faults
def test_valid_certificate_connects_and_its_cn_is_the_acl_username(
    tls_broker: ShippedBroker, pki: Pki
) -> None:
    cert = pki.client("edge-a")
    tls_broker.start()
    server = Probe(tls_broker.port, "takt-server", SERVER_PASSWORD).connect()
    server.subscribe(topics.server_filter("data"))
    edge = tls_probe(tls_broker, Tls(pki.ca_cert, cert.cert, cert.key)).connect()
    edge.publish(topics.data(SITE, "edge-b"), b"forged")  # the ACL applies to the certificate's CN
    edge.publish(topics.data(SITE, "edge-a"), b"over tls")
    server.wait_message(topics.data(SITE, "edge-a"), b"over tls")
    assert server.received(topics.data(SITE, "edge-b")) == []
    edge.close()
    server.close()


@pytest.mark.faults
def test_revoked_certificate_is_refused(tls_broker: ShippedBroker, pki: Pki) -> None:
    good, revoked = pki.client("edge-a"), pki.client("edge-b")
    pki.revoke(revoked)
    tls_broker.start()
    with pytest.raises(Refused):
        tls_probe(tls_broker, Tls(pki.ca_cert, revoked.cert, revoked.key)).connect()
    tls_probe(tls_broker, Tls(pki.ca_cert, good.cert, good.key)).connect().close()  # CRL loaded, others fine


@pytest.mark.faults
def test_expired_certificate_is_refused(tls_broker: ShippedBroker, pki: Pki) -> None:
    expired = pki.client("edge-a", expired=True)
    tls_broker.start()
    with pytest.raises(Refused):
        tls_probe(tls_broker, Tls(pki.ca_cert, expired.cert, expired.key)).connect()


def test_client_without_certificate_is_refused(tls_broker: ShippedBroker, pki: Pki) -> None:
    tls_broker.start()
    with pytest.raises(Refused):
        tls_probe(tls_broker, Tls(pki.ca_cert)).connect()


def test_client_not_trusting_the_ca_refuses_the_broker(
    tls_broker: ShippedBroker, pki: Pki, tmp_path: Path
) -> None:
    other = Pki(tmp_path / "other-ca", name="Some other CA")
    cert = pki.client("edge-a")
    tls_broker.start()
    with pytest.raises(Refused, match="CERTIFICATE_VERIFY_FAILED"):
        tls_probe(tls_broker, Tls(other.ca_cert, cert.cert, cert.key)).connect()


def test_password_tls_listener_for_the_server(tls_broker: ShippedBroker, pki: Pki) -> None:
    """conf.d/tls-password.conf: what the server uses with TAKT_MQTT_TLS_CA (CA + password, no cert)."""
    tls_broker.add_edge("--password", "pw-a", "edge-a")
    tls_broker.start()
    port = tls_broker.tls_password_port
    assert port is not None
    server = Probe(port, "takt-server", SERVER_PASSWORD, tls=Tls(pki.ca_cert)).connect()
    server.subscribe(topics.server_filter("data"))
    edge = Probe(port, "edge-a", "pw-a", tls=Tls(pki.ca_cert)).connect()
    edge.publish(topics.data(SITE, "edge-b"), b"forged")  # the same ACL
    edge.publish(topics.data(SITE, "edge-a"), b"over tls with a password")
    server.wait_message(topics.data(SITE, "edge-a"), b"over tls with a password")
    assert server.received(topics.data(SITE, "edge-b")) == []
    with pytest.raises(Refused):
        Probe(port, tls=Tls(pki.ca_cert)).connect()  # anonymous
    with pytest.raises(Refused):
        Probe(port, "edge-a", "wrong", tls=Tls(pki.ca_cert)).connect()
    edge.close()
    server.close()


def test_add_edge_script_certificates_work_and_remove_edge_revokes(
    shipped_broker: Callable[[], ShippedBroker],
) -> None:
    broker = shipped_broker()
    etc = broker.workdir / "etc"
    out = broker.add_edge("--cert", "--password", "pw", "press-01")
    assert "client certificate for 'press-01'" in out
    broker.add_edge("--cert", "--password", "pw2", "press-02")
    env = {**os.environ, "TAKT_MQTT_DIR": str(etc)}
    subprocess.run(["bash", str(MQTT_DEPLOY / "remove-edge.sh"), "press-02"], env=env, check=True)
    broker.with_tls(etc / "ca")
    broker.start()
    press01 = etc / "clients" / "press-01"
    edge = tls_probe(
        broker, Tls(press01 / "ca.crt", press01 / "client.crt", press01 / "client.key")
    ).connect()
    edge.close()
    Probe(broker.port, "press-01", "pw").connect().close()  # the same edge over the password listener
    with pytest.raises(Refused):
        Probe(broker.port, "press-02", "pw2").connect()  # its user is gone too
    revoked = next((etc / "clients").glob(".revoked-press-02-*"))
    with pytest.raises(Refused):
        tls_probe(broker, Tls(revoked / "ca.crt", revoked / "client.crt", revoked / "client.key")).connect()

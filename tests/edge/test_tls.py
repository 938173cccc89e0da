"""The edge publishes over a mutual-TLS listener (broker.tls: ca, cert, key) with a username."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.edge.support import Consumer, counter_tags, edge_process, modbus_device, wait_until, write_config
from tests.support.mosquitto import Mosquitto
from tests.support.ports import free_port
from tests.support.simulator import Simulator
from tests.support.tls import Pki


@pytest.fixture
def tls_broker(tmp_path: Path) -> Iterator[tuple[Mosquitto, int, Pki]]:
    pki = Pki(tmp_path / "ca")
    server = pki.server()
    tls_port = free_port()
    conf = (f"listener {tls_port} 127.0.0.1\ncafile {pki.ca_cert}\ncertfile {server.cert}\n"
            f"keyfile {server.key}\nrequire_certificate true\n")  # fmt: skip
    broker = Mosquitto(tmp_path / "mosquitto", extra_conf=conf)
    broker.start()
    yield broker, tls_port, pki
    broker.stop()


def test_edge_over_mutual_tls(sim: Simulator, tls_broker: tuple[Mosquitto, int, Pki], tmp_path: Path) -> None:
    broker, tls_port, pki = tls_broker
    client = pki.client("edge1")
    tls = {"ca": str(pki.ca_cert), "cert": str(client.cert), "key": str(client.key)}
    device = modbus_device("fast16", sim.modbus_port, 5, counter_tags())
    broker_tls = {"tls": tls, "username": "edge1", "password": "unused"}
    config = write_config(tmp_path / "edge.yaml", tls_port, [device], broker=broker_tls)
    consumer = Consumer(broker.port).start()  # the plain listener, like a server inside the box
    edge = edge_process(config, tmp_path / "edge.log")
    try:
        wait_until(lambda: len(consumer.samples("fast16", "good_count")) >= 3, 20, "data over TLS")
        wait_until(lambda: consumer.contiguous == max(consumer.batches), 10, "acks over TLS")
    finally:
        edge.stop()
        consumer.stop()
    assert "MQTT connected to 127.0.0.1" in edge.output()

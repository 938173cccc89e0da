"""takt/broker.py: the demo's brokers (embedded amqtt, and mosquitto as a child process) with paho clients.

The same behaviour is required of both: QoS 1 both ways, retained messages, a persistent session that
gets the messages queued while it was offline, and redelivery of a message the client never acked
(the server acks manually, only after its commit: docs/ingest.md).
"""

from collections.abc import Iterator
from pathlib import Path

import pytest

from takt.broker import Broker, BrokerError, BrokerProcess, EmbeddedBroker, demo_broker, mosquitto_binary
from tests.deploy.probe import Probe, wait_until
from tests.support.ports import free_port, port_open

TOPIC = "takt/v1/demo/edge-1/data"


@pytest.fixture(params=["amqtt", "mosquitto"])
def broker(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Broker]:
    made: Broker = demo_broker(tmp_path / "broker", port=free_port(), prefer=request.param)
    assert made.kind == request.param
    made.start()
    yield made
    made.stop()


def probe(broker: Broker, client_id: str = "", clean: bool = True, manual_ack: bool = False) -> Probe:
    return Probe(broker.port, client_id=client_id, clean_session=clean, manual_ack=manual_ack).connect()


def test_qos1_publish_subscribe(broker: Broker) -> None:
    sub = probe(broker)
    assert sub.subscribe("takt/v1/#", qos=1) == [1]
    pub = probe(broker)
    for i in range(50):
        pub.publish(TOPIC, f"{i}".encode(), qos=1)  # waits for PUBACK
    wait_until(lambda: len(sub.received(TOPIC)) == 50)
    assert sub.received(TOPIC) == [f"{i}".encode() for i in range(50)]  # in order, each once
    sub.close()
    pub.close()


def test_retained_message_reaches_a_late_subscriber(broker: Broker) -> None:
    pub = probe(broker)
    pub.publish("takt/v1/demo/edge-1/status", b"online", retain=True)
    pub.publish("takt/v1/demo/edge-1/status", b"online again", retain=True)  # replaces the first
    late = probe(broker)
    late.subscribe("takt/v1/+/+/status")
    late.wait_message("takt/v1/demo/edge-1/status", b"online again")
    assert late.received() == [b"online again"]
    assert late.messages[0][2] is True  # flagged as retained
    late.close()
    pub.close()


def test_persistent_session_gets_messages_queued_while_offline(broker: Broker) -> None:
    server = probe(broker, client_id="takt-server-demo", clean=False)
    server.subscribe("takt/v1/+/+/data", qos=1)
    server.close()  # clean DISCONNECT; the session stays
    edge = probe(broker)
    for i in range(20):
        edge.publish(TOPIC, f"queued-{i}".encode(), qos=1)
    edge.close()
    back = probe(broker, client_id="takt-server-demo", clean=False)  # no new SUBSCRIBE
    wait_until(lambda: len(back.received(TOPIC)) == 20)
    assert back.received(TOPIC) == [f"queued-{i}".encode() for i in range(20)]
    back.close()


def test_unacked_message_is_redelivered_to_the_persistent_session(tmp_path: Path) -> None:
    """mosquitto only: amqtt 0.12 drops an in-flight QoS 1 message when its PUBACK has not come within
    5 s, or when the client goes away (amqtt/mqtt/protocol/handler.py, mqtt_publish), so with amqtt a
    server crash between delivery and commit loses that message at the broker. That is why the demo
    prefers mosquitto (takt/broker.py docstring)."""
    with BrokerProcess(tmp_path / "mq", port=free_port()) as broker:
        _redelivery(broker)


def _redelivery(broker: Broker) -> None:
    server = probe(broker, client_id="manual-acker", clean=False, manual_ack=True)
    server.subscribe(TOPIC, qos=1)
    edge = probe(broker)
    edge.publish(TOPIC, b"batch-1", qos=1)
    server.wait_message(TOPIC, b"batch-1")
    server.drop()  # crashed before its commit: never sent PUBACK
    edge.publish(TOPIC, b"batch-2", qos=1)
    again = probe(broker, client_id="manual-acker", clean=False, manual_ack=True)
    wait_until(lambda: len(again.received(TOPIC)) >= 2)
    assert again.received(TOPIC) == [b"batch-1", b"batch-2"]  # the unacked one first, then the queued one
    for msg in again.raw:
        again.client.ack(msg.mid, msg.qos)
    again.close()
    edge.close()


def test_mosquitto_process_keeps_sessions_across_its_restart(tmp_path: Path) -> None:
    broker = BrokerProcess(tmp_path / "mq", port=free_port())
    broker.start()
    try:
        server = probe(broker, client_id="takt-server-demo", clean=False)
        server.subscribe(TOPIC, qos=1)
        server.close()
        edge = probe(broker)
        edge.publish(TOPIC, b"before restart", qos=1)
        edge.close()
        broker.stop()  # SIGTERM: mosquitto saves its database
        broker.start()
        back = probe(broker, client_id="takt-server-demo", clean=False)
        back.wait_message(TOPIC, b"before restart")
        back.close()
    finally:
        broker.stop()


async def test_embedded_broker_as_async_context_manager() -> None:
    port = free_port()
    async with EmbeddedBroker(port=port) as broker:
        assert broker.port == port
        assert port_open(port)
    assert not port_open(port)


def test_port_in_use_is_a_clear_error(tmp_path: Path) -> None:
    first = EmbeddedBroker(port=free_port())
    first.start()
    try:
        with pytest.raises(BrokerError, match=str(first.port)):
            EmbeddedBroker(port=first.port).start()
        with pytest.raises(BrokerError, match="in use"):
            BrokerProcess(tmp_path / "mq", port=first.port).start()
    finally:
        first.stop()


def test_demo_prefers_mosquitto_when_installed(tmp_path: Path) -> None:
    assert mosquitto_binary() is not None  # Debian's mosquitto is a test dependency (deploy/debian-deps.sh)
    assert isinstance(demo_broker(tmp_path), BrokerProcess)
    assert isinstance(demo_broker(tmp_path, prefer="amqtt"), EmbeddedBroker)

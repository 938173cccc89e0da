"""The shipped mosquitto config and ACL (deploy/mosquitto/) enforce authentication and per-edge topics.

Negative checks never wait for a timeout: a forbidden message is sent first and an allowed one after it
on the same connection; MQTT keeps one publisher's order, so once the allowed one has arrived the
forbidden one would have arrived too.
"""

from collections.abc import Callable, Iterator

import pytest

from shared import topics
from tests.deploy.conftest import SERVER_PASSWORD, ShippedBroker
from tests.deploy.probe import Probe, Refused

SITE = "plant-a"
A, B = "edge-a", "edge-b"
PASSWORDS = {A: "pw-a", B: "pw-b"}


@pytest.fixture
def broker(shipped_broker: Callable[[], ShippedBroker]) -> ShippedBroker:
    broker = shipped_broker()
    broker.add_edge("--server", "--password", SERVER_PASSWORD)
    for edge, password in PASSWORDS.items():
        broker.add_edge("--password", password, edge)
    broker.start()
    return broker


@pytest.fixture
def clients(broker: ShippedBroker) -> Iterator[Callable[..., Probe]]:
    made: list[Probe] = []

    def connect(username: str, **kwargs: object) -> Probe:
        password = SERVER_PASSWORD if username == "takt-server" else PASSWORDS[username]
        probe = Probe(broker.port, username, password, **kwargs)  # type: ignore[arg-type]
        made.append(probe)
        return probe.connect()

    yield connect
    for probe in made:
        probe.close()


@pytest.mark.faults
def test_anonymous_and_wrong_password_are_refused(broker: ShippedBroker) -> None:
    with pytest.raises(Refused):
        Probe(broker.port).connect()
    with pytest.raises(Refused):
        Probe(broker.port, A, "wrong").connect()
    with pytest.raises(Refused):
        Probe(broker.port, "nobody", "pw").connect()
    Probe(broker.port, A, PASSWORDS[A]).connect().close()  # the right password works


@pytest.mark.faults
def test_edge_cannot_publish_as_another_edge(clients: Callable[..., Probe]) -> None:
    server = clients("takt-server")
    server.subscribe(topics.server_filter("data"))
    server.subscribe(topics.server_filter("status"))
    server.subscribe(topics.server_filter("alive"))
    edge_a = clients(A)
    edge_a.publish(topics.data(SITE, B), b"forged data")
    edge_a.publish(topics.status(SITE, B), b"forged status")
    edge_a.publish(topics.alive(SITE, B), b"forged heartbeat")  # would hide B's death until its will
    edge_a.publish(topics.ack(SITE, A), b"self-ack")  # edges do not write acks either
    edge_a.publish(topics.data(SITE, A), b"real data")
    server.wait_message(topics.data(SITE, A), b"real data")
    assert server.received(topics.data(SITE, B)) == []
    assert server.received(topics.status(SITE, B)) == []
    assert server.received(topics.alive(SITE, B)) == []
    edge_b = clients(B)
    edge_b.subscribe(topics.ack(SITE, B))
    edge_b.subscribe(topics.ack(SITE, A))
    server.publish(topics.ack(SITE, B), b"42")
    edge_b.wait_message(topics.ack(SITE, B), b"42")
    assert b"self-ack" not in edge_b.received()


def test_edge_cannot_read_another_edges_acks_or_commands(clients: Callable[..., Probe]) -> None:
    edge_a = clients(A)
    edge_a.subscribe("takt/v1/#")  # asks for everything; the ACL filters each message
    edge_a.subscribe(topics.ack(SITE, B))
    server = clients("takt-server")
    server.publish(topics.ack(SITE, B), b"b-ack")
    server.publish(topics.cmd(SITE, B, "reload"), b"b-cmd")
    server.publish(topics.ack(SITE, A), b"a-ack")
    edge_a.wait_message(topics.ack(SITE, A), b"a-ack")
    assert edge_a.received(topics.ack(SITE, B)) == []
    assert edge_a.received(topics.cmd(SITE, B, "reload")) == []


def test_edge_reads_its_own_ack_and_commands(clients: Callable[..., Probe]) -> None:
    server = clients("takt-server")
    server.publish(topics.ack(SITE, A), b"7", retain=True)  # acks are retained
    edge_a = clients(A)
    assert edge_a.subscribe(topics.ack(SITE, A)) == [1]
    assert edge_a.subscribe(topics.cmd_filter(SITE, A)) == [1]
    edge_a.wait_message(topics.ack(SITE, A), b"7")
    server.publish(topics.cmd(SITE, A, "reload"), b"{}")
    edge_a.wait_message(topics.cmd(SITE, A, "reload"), b"{}")


def test_server_reads_all_edges_and_writes_acks(clients: Callable[..., Probe]) -> None:
    server = clients("takt-server")
    for kind in ("data", "status", "alive", "result"):
        assert server.subscribe(topics.server_filter(kind)) == [1]  # type: ignore[arg-type]
    for edge in (A, B):
        probe = clients(edge)
        probe.publish(topics.alive(SITE, edge), b"alive")
        probe.publish(topics.status(SITE, edge), b"online", retain=True)
        probe.publish(topics.result(SITE, edge), b"ok")
        probe.publish(topics.data(SITE, edge), edge.encode())
        server.wait_message(topics.data(SITE, edge), edge.encode())
        assert server.received(topics.status(SITE, edge)) == [b"online"]
        assert server.received(topics.alive(SITE, edge)) == [b"alive"]
        assert server.received(topics.result(SITE, edge)) == [b"ok"]
    edge_b = clients(B)
    edge_b.subscribe(topics.ack(SITE, B))
    server.publish(topics.ack(SITE, B), b"99")
    edge_b.wait_message(topics.ack(SITE, B), b"99")


def test_server_shared_subscription_is_allowed(clients: Callable[..., Probe]) -> None:
    replica1 = clients("takt-server", client_id="replica-1")
    replica2 = clients("takt-server", client_id="replica-2")
    for replica in (replica1, replica2):
        assert replica.subscribe(topics.server_filter("data", shared=True)) == [1]
    edge_a = clients(A)
    payloads = [f"batch-{i}".encode() for i in range(20)]
    for payload in payloads:
        edge_a.publish(topics.data(SITE, A), payload)
    topic = topics.data(SITE, A)
    from tests.deploy.probe import wait_until

    wait_until(lambda: len(replica1.received(topic)) + len(replica2.received(topic)) == len(payloads))
    assert sorted(replica1.received(topic) + replica2.received(topic)) == sorted(payloads)  # each once


def test_edge_last_will_on_its_own_status_is_published(clients: Callable[..., Probe]) -> None:
    server = clients("takt-server")
    server.subscribe(topics.server_filter("status"))
    edge_a = clients(A, will=(topics.status(SITE, A), b"offline"))
    edge_a.publish(topics.status(SITE, A), b"online", retain=True)
    server.wait_message(topics.status(SITE, A), b"online")
    edge_a.drop()
    server.wait_message(topics.status(SITE, A), b"offline")


def test_oversized_packets_are_refused_by_the_broker(clients: Callable[..., Probe]) -> None:
    """max_packet_size: a 6 MiB publish costs its sender the connection and reaches nobody."""
    server = clients("takt-server")
    server.subscribe(topics.server_filter("data"))
    edge_a = clients(A)
    edge_a.client.publish(topics.data(SITE, A), b"x" * (6 * 1024 * 1024), qos=1)  # never acked: no wait
    assert edge_a.disconnected.wait(10), "the broker dropped the oversized publisher"
    edge_b = clients(B)
    edge_b.publish(topics.data(SITE, B), b"small")
    server.wait_message(topics.data(SITE, B), b"small")
    assert server.received(topics.data(SITE, A)) == []

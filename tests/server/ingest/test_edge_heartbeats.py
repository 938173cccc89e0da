"""Edge liveness from heartbeats (server/ingest/liveness.py): an edge that goes silent is offline within
keepalive x 1.5 of its last heartbeat, sooner than the broker's will (mosquitto 2.0 sweeps keepalives every
6 s in whole seconds); heartbeats of the same connection bring it and its machines back; the will or a
later connection's birth still decide as before. Real mosquitto, a real Ingestor on SQLite and PostgreSQL;
the test's MQTT client plays the edge (its own MQTT keepalive is long, so the broker never ends it here)."""

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from server.ingest import Ingestor
from server.ingest.inbox import StoredBatch, store
from server.ingest.liveness import Liveness
from server.models.ingest import DeadLetter, EdgeStatus, MachineStateSegment
from shared.messages import Alive, Status, encode
from tests.server.ingest.support import EDGE, SITE, Broker, batch, make_plant, wait_for

KEEPALIVE_S = 2  # what the heartbeats claim: silent after 3 s


def alive(session: int = 5) -> bytes:
    return encode(
        Alive(edge_id=EDGE, session=session, ts_ms=int(time.time() * 1000), keepalive_s=KEEPALIVE_S)
    )


def edge_row(engine: Engine) -> EdgeStatus:
    with Session(engine) as session:
        row = session.get(EdgeStatus, EDGE)
        assert row is not None
        return row


def machine_state(engine: Engine, machine_id: int) -> str | None:
    with Session(engine) as session:
        segment = session.exec(
            select(MachineStateSegment)
            .where(MachineStateSegment.machine_id == machine_id, col(MachineStateSegment.end_ms).is_(None))
            .order_by(col(MachineStateSegment.start_ms).desc())
        ).first()
        return None if segment is None else segment.state


class Beating:
    """Heartbeats every KEEPALIVE_S / 3 s from a thread while `on`."""

    def __init__(self, broker: Broker, session: int = 5) -> None:
        self.on = True
        self.stopped = threading.Event()
        self.last_sent = 0.0

        def run() -> None:
            while not self.stopped.is_set():
                if self.on:
                    broker.publish(alive(session), kind="alive")
                    self.last_sent = time.monotonic()
                self.stopped.wait(KEEPALIVE_S / 3)

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join(5)


@pytest.fixture
def running(engine: Engine, start_ingestor: Callable[..., Ingestor], broker: Broker) -> Any:
    plant = make_plant(engine, machines=("m1",))
    ingestor = start_ingestor()
    broker.publish(encode(Status(edge_id=EDGE, online=True, ts_ms=int(time.time() * 1000), session=5, n=1)),
                   kind="status")  # fmt: skip
    now = int(time.time() * 1000)
    store(engine, [StoredBatch(SITE, EDGE, 1, 1, batch(1, [("m1", "state", now, 2)]))], [], set(), 0)
    ingestor.kick(EDGE)
    wait_for(lambda: machine_state(engine, plant.machines["m1"]) == "running", 10, "m1 running")
    wait_for(lambda: edge_row(engine).online, 10, "the edge online")
    return plant, ingestor


@pytest.mark.faults
def test_a_silent_edge_is_offline_within_keepalive_x_1_5_and_back_when_heard(
    engine: Engine, running: Any, broker: Broker
) -> None:
    plant, _ = running
    m1 = plant.machines["m1"]
    beating = Beating(broker)
    try:
        time.sleep(KEEPALIVE_S)  # heard for a while
        beating.on = False
        wait_for(lambda: not edge_row(engine).online, 10, "the silent edge offline", 0.02)
        silent = edge_row(engine)
        # within keepalive x 1.5 of its last heartbeat (+ the worker's pass and this test's clock reading)
        assert silent.silent_ms is not None
        assert time.monotonic() - beating.last_sent <= KEEPALIVE_S * 1.5 + 1.0
        assert machine_state(engine, m1) == "offline"
        beating.on = True  # the same connection speaks again: no reconnect, no birth
        wait_for(lambda: edge_row(engine).online, 10, "the edge back online")
        back = edge_row(engine)
        assert (back.session, back.silent_ms) == (5, None)
        wait_for(lambda: machine_state(engine, m1) == "running", 10, "m1 back in its last signals' state")
        beating.on = False
        wait_for(lambda: not edge_row(engine).online, 10, "silent again")
        offline_since = edge_row(engine).received_ms
        will = Status(edge_id=EDGE, online=False, ts_ms=int(time.time() * 1000), session=5)
        broker.publish(encode(will), kind="status")  # the broker's will, seconds later
        wait_for(lambda: edge_row(engine).silent_ms is None, 10, "the will taken")
        assert edge_row(engine).received_ms == offline_since  # offline since the silence, not the will
        beating.on = True
        time.sleep(KEEPALIVE_S)
        assert not edge_row(engine).online  # the will ended that connection: its heartbeats cannot revive it
    finally:
        beating.stop()


def test_a_malformed_heartbeat_is_dead_lettered_and_ingestion_goes_on(
    engine: Engine, running: Any, broker: Broker
) -> None:
    broker.publish(b'{"v":1,"edge_id":"edge-1","session":0}', kind="alive")
    broker.publish(alive().replace(b"edge-1", b"edge-2"), kind="alive")  # another edge's name

    def letters() -> list[str]:
        with Session(engine) as session:
            rows = session.exec(select(DeadLetter).where(col(DeadLetter.topic).endswith("/alive"))).all()
            return [r.reason for r in rows]

    reasons = wait_for(lambda: len(letters()) == 2 and letters(), 10, "two dead letters")
    assert any("edge-2" in r for r in reasons), reasons
    assert edge_row(engine).online


def test_the_servers_own_silence_is_not_the_edges() -> None:
    """While the server's link was down it heard nobody: the edges get a full window once it is back."""
    now = [0.0]
    liveness = Liveness(clock=lambda: now[0])
    liveness.heard(SITE, Alive(edge_id=EDGE, session=3, ts_ms=0, keepalive_s=10))
    now[0] = 60.0
    liveness.listening_again()
    now[0] = 70.0
    assert liveness.changes() == ([], [])
    now[0] = 75.1
    silent, back = liveness.changes()
    assert [e for e, _ in silent] == [EDGE] and back == []
    liveness.heard(SITE, Alive(edge_id=EDGE, session=2, ts_ms=0, keepalive_s=10))  # an older connection's
    assert liveness.changes() == ([], [])
    liveness.heard(SITE, Alive(edge_id=EDGE, session=3, ts_ms=0, keepalive_s=10))
    silent, back = liveness.changes()
    assert silent == [] and [e for e, _ in back] == [EDGE]

"""Bad data is not a bad database (issue 18, case 1): a poison message is dead-lettered alone with its
reason while the rest of its MQTT pass is stored; a restart with it still in the broker's persistent
session recovers at once; only database errors are retried, and they show as lag on /healthz, /readyz.

Real mosquitto, SQLite and PostgreSQL (the `engine` fixture).
"""

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from server.core.db import SQLITE_BEGIN, is_sqlite, make_engine
from server.historian import make_historian
from server.ingest import IngestOptions, Ingestor
from server.ingest.apply import ApplyContext, apply_edge
from server.ingest.clock import ClockWatch
from server.ingest.inbox import StoredBatch, store, store_each
from server.ingest.metrics import Metrics
from server.ingest.registry import Registry
from server.main import create_app
from server.models.ingest import DeadLetter, EdgeCursor, InboxBatch
from tests.server.ingest.conftest import ingest_settings
from tests.server.ingest.support import (
    EDGE,
    SITE,
    Broker,
    counts,
    cursor,
    machine_counts,
    make_plant,
    wait_for,
)
from tests.support.mosquitto import Mosquitto

POISON = b'{"v":1,"edge_id":"rogue10","seq":9223372036854775808,"sent_ms":1,"samples":[]}'
POISON_TOPIC = "takt/v1/demo/rogue10/data"


def letters(engine: Engine) -> list[DeadLetter]:
    with Session(engine) as session:
        return list(session.exec(select(DeadLetter).order_by(col(DeadLetter.id))).all())


@pytest.mark.faults
def test_the_poison_message_is_dead_lettered_alone_while_its_pass_is_stored(
    engine: Engine, start_ingestor: Callable[..., Ingestor], broker: Broker
) -> None:
    plant = make_plant(engine)
    ingestor = start_ingestor()
    broker.publish(counts(1, good=100))
    broker.publish(POISON, topic=POISON_TOPIC)
    broker.publish(counts(2, good=104))
    broker.publish(counts(3, good=110, scrap=1))
    wait_for(lambda: cursor(engine) == 3, what="the other batches applied")
    assert machine_counts(engine, plant.operation_id) == (10, 1)
    (letter,) = wait_for(lambda: letters(engine), what="the poison in the dead letters")
    assert letter.topic == POISON_TOPIC and letter.payload == POISON
    assert "seq" in letter.reason and "9007199254740991" in letter.reason  # the bound it broke
    assert ingestor.metrics.snapshot()["store_errors"] == 0  # never mistaken for a database error
    assert ingestor.health().ok


@pytest.mark.faults
def test_a_restart_with_the_poison_still_in_the_persistent_session_recovers_at_once(
    engine: Engine, start_ingestor: Callable[..., Ingestor], broker: Broker
) -> None:
    plant = make_plant(engine)
    first = start_ingestor(client_id="takt-server-poison")
    broker.publish(counts(1, good=100))
    wait_for(lambda: cursor(engine) == 1, what="seq 1 applied")
    first.stop()
    # queued for the persistent session, delivered in one pass at the restart: the poison among them
    broker.publish(counts(2, good=103))
    broker.publish(POISON, topic=POISON_TOPIC)
    broker.publish(counts(3, good=107))
    second = start_ingestor(client_id="takt-server-poison")
    wait_for(lambda: cursor(engine) == 3, what="the queued batches applied at the restart")
    assert machine_counts(engine, plant.operation_id) == (7, 0)
    assert [letter.payload for letter in letters(engine)] == [POISON]
    assert second.metrics.snapshot()["store_errors"] == 0
    second.stop()
    # everything was acked: the same session gets nothing again, the poison included
    third = start_ingestor(client_id="takt-server-poison")
    broker.publish(counts(4, good=108))
    wait_for(lambda: cursor(engine) == 4, what="seq 4 applied")
    assert third.metrics.snapshot()["messages"] == 1
    assert len(letters(engine)) == 1


def test_a_batch_the_database_refuses_is_dead_lettered_and_the_rest_stored(engine: Engine) -> None:
    """Past the codec (a stored batch of an older version, a bound the codec missed): the database's own
    refusal (OverflowError on SQLite, DataError on PostgreSQL) is the data's fault, never a retry."""
    good = StoredBatch(SITE, EDGE, 1, 0, b"{}")
    bad = StoredBatch(SITE, EDGE, 1 << 63, 0, b"poison")
    also_good = StoredBatch(SITE, "edge-2", 1, 0, b"{}")
    with pytest.raises(Exception) as raised:
        store(engine, [good, bad, also_good], [], set(), 1)
    assert type(raised.value).__name__ in {"OverflowError", "DataError"}
    new, refused = store_each(engine, [good, bad, also_good], [], set(), 1)
    assert new == 2 and list(refused) == [(EDGE, 1 << 63)]
    assert "the database refused seq 9223372036854775808" in refused[(EDGE, 1 << 63)].reason
    with Session(engine) as session:
        stored = session.exec(
            select(InboxBatch.edge_id, InboxBatch.seq).order_by(col(InboxBatch.edge_id))
        ).all()
    assert [tuple(row) for row in stored] == [(EDGE, 1), ("edge-2", 1)]
    (letter,) = letters(engine)
    assert letter.topic == f"takt/v1/{SITE}/{EDGE}/data" and letter.payload == b"poison"


def test_a_stored_batch_that_cannot_be_applied_is_dead_lettered_and_its_edge_goes_on(engine: Engine) -> None:
    """A batch already in the inbox whose effects fail for the data's sake (here a counter value beyond
    64 bits, stored before the codec bounded values) goes to the dead letters; the cursor passes it."""
    plant = make_plant(engine)
    bad = (
        b'{"v":1,"edge_id":"edge-1","seq":2,"sent_ms":1,"samples":'
        b'[["m1","good_count",1700000002000,18446744073709551616,"good"]]}'
    )
    rows = [(1, counts(1, good=100)), (2, bad), (3, counts(3, good=105))]
    with Session(engine) as session:
        session.add(EdgeCursor(edge_id=EDGE, site=SITE, last_applied_seq=0))
        for seq, payload in rows:
            session.add(InboxBatch(edge_id=EDGE, seq=seq, site=SITE, received_ms=1, payload=payload))
        session.commit()
    metrics = Metrics()
    registry = Registry(engine)
    options = IngestOptions()
    historian = make_historian(ingest_settings(str(engine.url), 1), engine)
    ctx = ApplyContext(engine, registry, historian, options, metrics, ClockWatch(metrics, 60_000))
    result = apply_edge(ctx, EDGE)
    assert result.error is None and result.last_applied == 3
    assert machine_counts(engine, plant.operation_id) == (5, 0)
    (letter,) = letters(engine)
    assert letter.payload == bad and "applying seq 2 failed" in letter.reason
    with Session(engine) as session:
        assert session.exec(select(InboxBatch)).all() == []


@contextmanager
def database_locked(url: str) -> Iterator[None]:
    """Another client holds the database's write lock: a database that is there but does not answer."""
    other = make_engine(url)
    with other.connect() as plain:
        conn = plain.execution_options(**{SQLITE_BEGIN: "IMMEDIATE"})
        transaction = conn.begin()  # SQLite: BEGIN IMMEDIATE, the write lock
        if not is_sqlite(other):
            conn.exec_driver_sql("LOCK TABLE ingest_inbox IN EXCLUSIVE MODE")
        try:
            yield
        finally:
            transaction.rollback()
    other.dispose()


@pytest.mark.faults
def test_a_stuck_database_shows_as_lag_on_healthz_and_readyz_then_recovers(
    engine: Engine, db_url: str, mosquitto: Mosquitto, broker: Broker
) -> None:
    plant = make_plant(engine)
    settings = ingest_settings(db_url, mosquitto.port, ingest_max_lag_s=1.0, mqtt_enabled=True)
    with TestClient(create_app(settings, engine=engine)) as client:
        wait_for(lambda: client.get("/readyz").status_code == 200, what="ready")
        healthy = client.get("/healthz").json()
        assert healthy["ok"] is True and "reasons" not in healthy and healthy["ingest"]["connected"] is True
        broker.publish(counts(1, good=100))
        wait_for(lambda: cursor(engine) == 1, what="seq 1 applied")
        with database_locked(db_url):
            broker.publish(counts(2, good=104))
            late = wait_for(lambda: (r := client.get("/healthz")).status_code == 503 and r.json(), what="503")
            assert late["ok"] is False and "behind (bound 1 s)" in late["reasons"][0], late
            assert client.get("/readyz").status_code == 503
            time.sleep(0.5)  # the other edges' data keeps waiting, unacked: nothing is dead-lettered
            assert letters(engine) == []
        wait_for(lambda: cursor(engine) == 2, what="seq 2 applied once the database answers")
        wait_for(lambda: client.get("/healthz").status_code == 200, what="healthy again")
        assert client.get("/readyz").json()["ok"] is True
    assert machine_counts(engine, plant.operation_id) == (4, 0)
    assert letters(engine) == []


def test_healthz_without_ingestion_is_ok(engine: Engine, db_url: str) -> None:
    settings = ingest_settings(db_url, 1, mqtt_enabled=False)
    with TestClient(create_app(settings, engine=engine)) as client:
        assert client.get("/healthz").json() == {"ok": True, "site": "demo"}
        assert client.get("/readyz").status_code == 200

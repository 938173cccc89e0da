"""Issue 8, case 9: an edge clock two hours ahead, then stepped back to the right time. Since issue 18
(case 3) the samples stamped beyond the 5-minute skew are held, never applied (server/ingest/future.py).

The batches come from a real paho client through a real mosquitto into the server app (its Ingestor and
API), not from `takt edge` with a fake clock: the edge stamps samples with the system clock, and giving it
a clock offset only for tests would be a feature nobody runs. What the server sees is exactly this: batches
in seq order whose `sent_ms` and sample `ts_ms` are two hours in the future, then back to now."""

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

from edge.buffer import Outbox
from server.core.services import services_of
from server.main import create_app
from server.models.ingest import CountEvent, HistorianPoint
from server.models.production import Operation
from shared.messages import DataBatch, Sample, Status, encode
from tests.e2e.conftest import db_url, engine, pg_template, sqlite_template
from tests.server.ingest.conftest import ingest_settings
from tests.server.ingest.support import EDGE, Broker, make_plant, wait_for
from tests.support.mosquitto import Mosquitto

__all__ = ["db_url", "engine", "pg_template", "sqlite_template"]  # fixtures: SQLite and PostgreSQL
ADMIN = {"Authorization": "Bearer clock-admin-token-0123456789abcdef"}
HOUR = 3_600_000


@pytest.fixture
def app(engine: Engine, db_url: str, mosquitto: Mosquitto) -> Iterator[TestClient]:
    settings = ingest_settings(db_url, mosquitto.port, admin_token=ADMIN["Authorization"][7:])
    with TestClient(create_app(settings, engine=engine)) as client:
        # the test publishes each message once: a status sent before the subscription would be lost
        ingestor = services_of(client.app).ingestor  # type: ignore[arg-type]
        assert ingestor is not None and ingestor.link.connected.wait(10), "ingestor did not subscribe"
        yield client


def data(seq: int, ts: int, good: int, scrap: int, sent_ms: int) -> bytes:
    samples = [Sample("m1", "good_count", ts, good), Sample("m1", "scrap_count", ts, scrap),
               Sample("m1", "temperature", ts, 20.0)]  # fmt: skip
    return encode(DataBatch(edge_id=EDGE, seq=seq, sent_ms=sent_ms, samples=samples))


def get(client: TestClient, path: str) -> Any:
    response = client.get(f"/api/v1{path}", headers=ADMIN)
    assert response.status_code == 200, response.text
    return response.json()


def stored_edge(client: TestClient) -> Any:
    """The edge's status, or None until the server has stored its first message."""
    response = client.get(f"/api/v1/edges/{EDGE}", headers=ADMIN)
    return None if response.status_code == 404 else get(client, f"/edges/{EDGE}")


def test_edge_clock_two_hours_ahead_then_stepped_back(
    engine: Engine, app: TestClient, mosquitto: Mosquitto
) -> None:
    now = int(time.time() * 1000)
    plant = make_plant(engine, run_from=now - 3 * HOUR)  # an order runs on m1 since three hours ago
    broker = Broker(mosquitto.port)
    try:
        ahead = now + 2 * HOUR
        broker.publish(encode(Status(edge_id=EDGE, online=True, ts_ms=ahead)), kind="status")
        birth = wait_for(lambda: (e := stored_edge(app)) and e["online"] and e, what="the birth stored")
        readings = [(ahead + i * 1000, 100 + 3 * i, 7 + i // 2) for i in range(5)]  # seq 1-5: 2 h ahead
        readings += [(now + i * 1000, 112 + 2 * i, 9 + i) for i in range(1, 5)]  # seq 6-9: back to now
        for seq, (ts, good, scrap) in enumerate(readings, start=1):
            if seq == 8:  # out of order on the wire: 9 before 8, and 3 again
                continue
            broker.publish(data(seq, ts, good, scrap, sent_ms=ts))
            if seq == 5:
                wait_for(lambda: get(app, f"/edges/{EDGE}")["last_applied_seq"] == 5, what="seq 5 applied")
                skewed = get(app, f"/edges/{EDGE}")
        broker.publish(data(3, *readings[2], sent_ms=readings[2][0]))
        broker.publish(data(8, *readings[7], sent_ms=readings[7][0]))
        wait_for(lambda: get(app, f"/edges/{EDGE}")["last_applied_seq"] == 9, what="seq 9 applied")
        edge = get(app, f"/edges/{EDGE}")
        stats = get(app, "/ingest/stats")
    finally:
        broker.close()
    # the samples 2 h ahead were held (issue 18, case 3: beyond the 5 min skew), never applied: counting
    # starts at the first reading of the corrected clock, in seq order
    with Session(engine) as session:
        op = session.get(Operation, plant.operation_id)
        assert op is not None
        first = readings[5]
        assert (op.machine_good, op.machine_scrap) == (readings[-1][1] - first[1], readings[-1][2] - first[2])
        ledger = session.exec(select(CountEvent.seq, CountEvent.ts_ms).order_by(col(CountEvent.id))).all()
        points = session.exec(select(func.count()).select_from(HistorianPoint)).one()
    assert [seq for seq, _ in ledger] == sorted(seq for seq, _ in ledger), "applied by seq, not by time"
    stamped = dict(ledger)
    assert set(stamped) == {7, 8, 9} and stamped[9] == readings[8][0], "the edge's own times are kept"
    assert points == 3 * 4, "the samples from the future are held, not written to the historian"
    # flagged and visible: the offset of the edge's clock and the samples stamped in the future
    assert abs(birth["clock_offset_ms"] - 2 * HOUR) < 60_000, "from the stored birth, before any data"
    assert abs(skewed["clock_offset_ms"] - 2 * HOUR) < 60_000, skewed
    assert abs(edge["clock_offset_ms"]) < 60_000, "the clock is right again"
    assert edge["future_samples"] == stats["future_samples"] == 5 * 3, "each future sample once"
    assert edge["held_future_samples"] == 5 * 3, "held once each, the resent seq 3 included"
    assert stats["clock_steps_back"] == 0, "no reading from the future became the latest one"
    assert edge["gaps"] == [] and edge["held_batches"] == 0


def test_edge_outbox_deletes_no_counts_when_its_clock_steps(tmp_path: Path) -> None:
    """The edge side: age pruning looks at the wall clock, so a clock stepped forward by a month or back
    by a month may only strip analog samples; every batch (seq) and every counter and state sample stays."""
    outbox = Outbox(tmp_path / "o.db", max_age_s=3600)
    outbox.roles = {("m1", "good"): "counter", ("m1", "state"): "state", ("m1", "temp"): "analog"}
    now = int(time.time() * 1000)
    month = 30 * 24 * HOUR
    for i, created in enumerate([now - month, now, now + month]):  # written before, at and after a step
        outbox.append([("m1", "good", created, i, "good"), ("m1", "state", created, 2, "good"),
                       ("m1", "temp", created, 20.5, "good")], created_ms=created)  # fmt: skip
    for clock in (now + 2 * month, now - 2 * month, now):
        outbox.enforce_bounds(now_ms=clock)
    kept = [s.seq for s in outbox.pending(0, 100)]
    assert kept == [1, 2, 3] and outbox.depth == 3
    assert outbox.dropped.get("counter", 0) == 0 and outbox.dropped.get("state", 0) == 0
    outbox.close()

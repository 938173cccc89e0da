"""Time sanity (issue 18, case 3), replayed as the issue describes against a real mosquitto, on SQLite and
PostgreSQL: one sample with `good_count` +1,000,000 stamped 10 years ahead. It is held (not counted, not
the machine's latest reading), flagged on the edge's view, and the later real readings count exactly; when
the hold ends it is moved to the dead letters with its reason.
"""

import dataclasses
import time
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

from server.ingest import Ingestor
from server.models.ingest import DeadLetter, HeldSample, HistorianPoint, SignalState
from tests.server.ingest.conftest import FAST
from tests.server.ingest.support import EDGE, Broker, batch, cursor, machine_counts, make_plant, wait_for

YEAR_MS = 365 * 86_400_000


def held(engine: Engine) -> list[HeldSample]:
    with Session(engine) as session:
        return list(session.exec(select(HeldSample)).all())


@pytest.mark.faults
def test_a_million_parts_stamped_ten_years_ahead_are_held_and_real_parts_count(
    engine: Engine,
    start_ingestor: Callable[..., Ingestor],
    broker: Broker,
    client: TestClient,
    admin_headers: dict[str, str],
) -> None:
    now = int(time.time() * 1000)
    plant = make_plant(engine, run_from=now - 3_600_000)
    ingestor = start_ingestor()
    readings = [(1, now - 30_000, 30), (2, now - 20_000, 37)]
    for seq, ts, good in readings:
        broker.publish(batch(seq, [("m1", "good_count", ts, good), ("m1", "temperature", ts, 20.0)]))
    wait_for(lambda: cursor(engine) == 2, what="the real readings so far")
    # the attack: +1,000,000 stamped 10 years ahead, beside a real temperature reading
    attack = batch(
        3, [("m1", "good_count", now + 10 * YEAR_MS, 1_000_037), ("m1", "temperature", now - 15_000, 21.0)]
    )
    broker.publish(attack)
    for seq, ts, good in [(4, now - 10_000, 40), (5, now - 5_000, 45), (6, now, 52)]:
        broker.publish(batch(seq, [("m1", "good_count", ts, good)]))
    wait_for(lambda: cursor(engine) == 6, what="the later real readings")
    assert machine_counts(engine, plant.operation_id) == (22, 0)  # 30 -> 37 -> 40 -> 45 -> 52
    with Session(engine) as session:
        latest = session.exec(select(SignalState).where(SignalState.tag == "good_count")).one()
        temperatures = session.exec(select(func.count()).select_from(HistorianPoint)).one()
    assert (latest.value, latest.ts_ms) == (52, now), "the held sample never became the latest reading"
    assert temperatures == 3 + 5, "the batch's other samples were applied"  # 3 temperatures, 5 counts
    (row,) = held(engine)
    assert (row.edge_id, row.seq, row.samples, row.newest_ts_ms) == (EDGE, 3, 1, now + 10 * YEAR_MS)
    edge = client.get(f"/api/v1/edges/{EDGE}", headers=admin_headers).json()
    assert edge["held_future_samples"] == 1 and edge["held_future_newest_ms"] == now + 10 * YEAR_MS, edge
    registry = client.get("/api/v1/edge-registry", headers=admin_headers).json()
    assert [e["held_future"] for e in registry if e["edge_id"] == EDGE] == [1], registry
    order = client.get("/api/v1/work-orders/WO-1", headers=admin_headers).json()
    assert order["operations"][0]["machine_good"] == 22, order
    assert ingestor.metrics.snapshot()["held_future_samples"] == 1


def test_a_held_sample_goes_to_the_dead_letters_when_its_hold_ends(
    engine: Engine, start_ingestor: Callable[..., Ingestor], broker: Broker
) -> None:
    now = int(time.time() * 1000)
    plant = make_plant(engine, run_from=now - 3_600_000)
    options = dataclasses.replace(FAST, future_hold_max_s=0.5)
    start_ingestor(options)
    broker.publish(batch(1, [("m1", "good_count", now - 1000, 10)]))
    broker.publish(batch(2, [("m1", "good_count", now + 10 * YEAR_MS, 1_000_010)]))
    broker.publish(batch(3, [("m1", "good_count", now, 12)]))
    wait_for(lambda: cursor(engine) == 3, what="3 batches")
    wait_for(lambda: not held(engine), what="the hold to end")
    with Session(engine) as session:
        (letter,) = session.exec(select(DeadLetter).order_by(col(DeadLetter.id))).all()
    assert letter.topic == f"takt/v1/demo/{EDGE}/data" and "ahead of the server's clock" in letter.reason
    assert b"1000010" in letter.payload
    assert machine_counts(engine, plant.operation_id) == (2, 0)

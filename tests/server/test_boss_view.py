"""The boss view's machine tiles: the same number of queries for one machine or many (no query per machine),
and the availability a tile shows when no shift plan gives an OEE figure."""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine, event
from sqlmodel import Session, select

from server.domain.boss_view import machine_tiles
from server.domain.oee_calc import observed_availability
from server.models.ingest import MachineStateSegment
from server.models.plant import Machine, Site
from tests.server.factory import ADMIN, build_plant, ok, running_order

SINCE = 1_790_000_000_000
NOW = SINCE + 3_600_000


@contextmanager
def statements(engine: Engine) -> Iterator[list[str]]:
    seen: list[str] = []

    def count(*args: Any) -> None:
        seen.append(args[2])

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)


def _with_timeline(engine: Engine) -> None:
    """Every machine ran, then faulted: a state segment before today and two today."""
    with Session(engine) as session:
        for m in session.exec(select(Machine)).all():
            mid = m.id or 0
            session.add(MachineStateSegment(machine_id=mid, state="running", start_ms=SINCE - 60_000,
                                            end_ms=SINCE + 600_000))  # fmt: skip
            session.add(MachineStateSegment(machine_id=mid, state="fault", start_ms=SINCE + 600_000))
        session.commit()


def test_tiles_take_as_many_queries_for_eight_machines_as_for_three(
    client: TestClient, engine: Engine
) -> None:
    plant = build_plant(client)
    running_order(plant, "WO-T", 50)
    _with_timeline(engine)
    with Session(engine) as session, statements(engine) as three:
        tiles = machine_tiles(session, None, date(2026, 9, 21), SINCE, NOW)
    assert len(tiles) == 3
    with Session(engine) as session:
        site_id = session.exec(select(Site.id)).one()
    for n in range(5):
        body = {"site_id": site_id, "code": f"saw-{n}", "name": f"saw-{n}", "kind": "saw"}
        ok(client.post("/api/v1/machines", json=body, headers=ADMIN), 201)
    with Session(engine) as session, statements(engine) as eight:
        tiles = machine_tiles(session, None, date(2026, 9, 21), SINCE, NOW)
    assert len(tiles) == 8 and len(eight) == len(three)
    lathe = next(t for t in tiles if t.job is not None)
    assert (lathe.code, lathe.state, lathe.since_ms, lathe.job) == (
        "lathe-1",
        "fault",
        SINCE + 600_000,
        "WO-T",
    )
    assert lathe.availability == 600_000 / 3_600_000  # ran 10 of the 60 known minutes since the day began
    saws = [t for t in tiles if t.code.startswith("saw-")]
    assert {t.state for t in saws} == {"unknown"} and {t.availability for t in saws} == {
        None
    }  # no timeline yet


def test_observed_availability_counts_known_time_only() -> None:
    segments = [("running", 0, 60), ("offline", 60, 100), ("fault", 100, 140), ("running", 140, 10_000)]
    assert observed_availability(segments, 0, 160) == (60 + 20) / (60 + 40 + 20)  # offline time is not known
    assert observed_availability(segments, 30, 160) == (30 + 20) / (30 + 40 + 20)  # clipped at `since`
    assert observed_availability([("offline", 0, 100)], 0, 100) is None  # nothing known: undefined
    assert observed_availability([], 0, 100) is None

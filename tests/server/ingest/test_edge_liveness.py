"""An edge's statuses in order (server/ingest/status.py): by its connection number and the status's number
in it, so the last will of a crashed edge, which carries its connect time, is never taken for an old status
(docs/ingest.md, "Edge status")."""

from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from server.domain.station_view import station_view
from server.ingest import Ingestor
from server.ingest.apply import apply_edge
from server.ingest.inbox import StoredBatch, store
from server.ingest.live import machine_live
from server.ingest.registry import Registry
from server.ingest.status import handle_status
from server.models.ingest import EdgeStatus, MachineStateSegment
from server.models.plant import Line, Machine, Site, Station
from shared.messages import Status
from tests.server.ingest.conftest import FAST, ingest_settings
from tests.server.ingest.support import EDGE, SITE, T0, batch, make_plant


def edge_online(engine: Engine) -> bool:
    with Session(engine) as session:
        row = session.get(EdgeStatus, EDGE)
        assert row is not None
        return row.online


def state(engine: Engine, machine_id: int) -> str | None:
    with Session(engine) as session:
        segment = session.exec(
            select(MachineStateSegment)
            .where(MachineStateSegment.machine_id == machine_id)
            .order_by(col(MachineStateSegment.start_ms).desc())
        ).first()
        return None if segment is None else segment.state


@pytest.fixture
def plant(engine: Engine) -> Any:
    return make_plant(engine, machines=("m1", "m2"))


def send(engine: Engine, status: Status, received_ms: int) -> None:
    handle_status(engine, Registry(engine), SITE, status, received_ms)


@pytest.mark.faults
def test_the_will_of_a_crashed_edge_wins_over_its_later_statuses(engine: Engine, plant: Any) -> None:
    """The issue's finding: the will carries the connect time, older than the statuses the edge published
    since. It ends its connection all the same."""
    send(engine, Status(edge_id=EDGE, online=True, ts_ms=T0 + 1_000, session=7, n=1), T0 + 1_000)
    send(engine, Status(edge_id=EDGE, online=True, ts_ms=T0 + 60_000, session=7, n=2), T0 + 60_000)
    assert edge_online(engine)
    will = Status(edge_id=EDGE, online=False, ts_ms=T0 + 1_000, session=7)  # kill -9 at +90 s
    send(engine, will, T0 + 90_000)
    assert not edge_online(engine)
    assert state(engine, plant.machines["m1"]) == state(engine, plant.machines["m2"]) == "offline"
    late = Status(edge_id=EDGE, online=True, ts_ms=T0 + 80_000, session=7, n=3)  # delivered late
    send(engine, late, T0 + 91_000)
    assert not edge_online(engine)
    send(engine, Status(edge_id=EDGE, online=True, ts_ms=T0 + 95_000, session=8, n=1), T0 + 95_000)
    assert edge_online(engine)
    stale_will = Status(edge_id=EDGE, online=False, ts_ms=T0 + 1_000, session=7)  # a retained copy, late
    send(engine, stale_will, T0 + 96_000)
    assert edge_online(engine)
    send(engine, Status(edge_id=EDGE, online=True, ts_ms=T0 + 99_000, session=8, n=1), T0 + 99_000)
    send(engine, Status(edge_id=EDGE, online=True, ts_ms=T0 + 97_000, session=8, n=2), T0 + 100_000)
    with Session(engine) as session:
        row = session.get(EdgeStatus, EDGE)
        assert row is not None and (row.session, row.status_n) == (8, 2)  # its clock stepped back: n orders


def test_a_restarted_edge_with_its_clock_behind_is_still_newer(engine: Engine, plant: Any) -> None:
    """A Pi without a clock battery boots in the past: its connection number still rises."""
    send(engine, Status(edge_id=EDGE, online=True, ts_ms=T0 + 50_000, session=3, n=1), T0 + 50_000)
    send(engine, Status(edge_id=EDGE, online=False, ts_ms=T0 + 50_000, session=3), T0 + 60_000)
    send(engine, Status(edge_id=EDGE, online=True, ts_ms=T0 - 3_600_000, session=1_048_577, n=1), T0 + 70_000)
    assert edge_online(engine)


def test_statuses_of_older_edges_still_compare_by_time(engine: Engine, plant: Any) -> None:
    send(engine, Status(edge_id=EDGE, online=True, ts_ms=T0 + 5_000), T0 + 5_000)
    send(engine, Status(edge_id=EDGE, online=False, ts_ms=T0 + 1_000), T0 + 6_000)
    assert edge_online(engine)
    send(engine, Status(edge_id=EDGE, online=True, ts_ms=T0 + 7_000, session=2, n=1), T0 + 7_000)
    send(engine, Status(edge_id=EDGE, online=False, ts_ms=T0 + 7_000, session=2), T0 + 8_000)
    assert not edge_online(engine)


def test_machines_of_a_dead_edge_show_no_data_since_their_last_sample(engine: Engine, plant: Any) -> None:
    """On the API's live view and the station tablet's state: when the data stopped, not the last state."""
    ingestor = Ingestor(ingest_settings("sqlite://", port=1), engine, FAST)
    samples = [("m1", "state", T0 + 1_000, 2), ("m1", "good_count", T0 + 2_000, 5)]
    store(engine, [StoredBatch(SITE, EDGE, 1, 2, batch(1, samples))], [], set(), 0)
    apply_edge(ingestor.ctx, EDGE)
    send(engine, Status(edge_id=EDGE, online=True, ts_ms=T0, session=2, n=1), T0)
    with Session(engine) as session:
        line = Line(site_id=plant.site_id, code="L1", name="Line 1")
        session.add(line)
        session.flush()
        assert line.id is not None
        session.add(Station(line_id=line.id, code="st-1", name="St 1", machine_id=plant.machines["m1"]))
        session.commit()

    def views() -> tuple[Any, dict[str, Any]]:
        with Session(engine) as session:
            machine = session.get(Machine, plant.machines["m1"])
            site = session.get(Site, plant.site_id)
            assert machine is not None and site is not None
            return machine_live(session, machine, site, T0 + 100_000), station_view(
                session, "st-1", "en"
            ).to_json()

    live, tablet = views()
    assert (live.state, live.no_data_since_ms, tablet["no_data_since_ms"]) == ("running", None, None)
    send(engine, Status(edge_id=EDGE, online=False, ts_ms=T0, session=2), T0 + 60_000)
    live, tablet = views()
    assert (live.state, live.no_data_since_ms) == ("offline", T0 + 2_000)
    assert (tablet["machine_state"], tablet["no_data_since_ms"]) == ("offline", T0 + 2_000)

"""The state timeline (server/domain/machine_state.py) on the database, without MQTT."""

from sqlalchemy import Engine, event
from sqlmodel import Session, col, select

from server.domain.machine_state import Timeline, Transition, apply_downtime
from server.models.ingest import MachineStateSegment
from server.models.production import DowntimeEvent
from tests.server.ingest.support import make_plant


def _segments(session: Session, machine_id: int) -> list[tuple[str, int, int | None]]:
    rows = session.exec(
        select(MachineStateSegment)
        .where(MachineStateSegment.machine_id == machine_id)
        .order_by(col(MachineStateSegment.start_ms))
    ).all()
    return [(r.state, r.start_ms, r.end_ms) for r in rows]


def test_transitions_late_samples_same_time_and_offline_retraction(engine: Engine) -> None:
    m = make_plant(engine).machines["m1"]
    with Session(engine) as session:
        tl = Timeline(session)
        assert tl.transition(m, "running", 1000) == Transition(m, None, "running", 1000)
        assert tl.transition(m, "running", 1500) is None  # no change
        assert tl.transition(m, "fault", 2000) == Transition(m, "running", "fault", 2000)
        assert tl.transition(m, "idle", 1800) is None  # older than the open segment: ignored
        assert tl.transition(m, "idle", 2000) == Transition(
            m, "fault", "idle", 2000
        )  # same instant: replaced
        assert tl.transition(m, "offline", 5000) is not None
        # buffered data from inside the offline stretch: the edge was only cut off from the broker
        assert tl.transition(m, "running", 3000) == Transition(m, "idle", "running", 3000)
        session.commit()
        assert _segments(session, m) == [
            ("running", 1000, 2000),
            ("idle", 2000, 3000),
            ("running", 3000, None),
        ]
    with Session(engine) as session:  # a new transaction reads the open segment from the database
        tl = Timeline(session)
        assert tl.current(m) is not None and tl.transition(m, "running", 4000) is None
        assert tl.transition(m, "offline", 6000) is not None
        assert tl.transition(m, "idle", 1000) is None  # older than the segment before the offline one
        session.commit()
        assert _segments(session, m)[-2:] == [("running", 3000, 6000), ("offline", 6000, None)]


def test_automatic_downtime_opens_once_and_closes_on_running(engine: Engine) -> None:
    m = make_plant(engine).machines["m1"]
    with Session(engine) as session:
        apply_downtime(session, Transition(m, "running", "fault", 1000), operation_running=False)
        apply_downtime(session, Transition(m, "fault", "idle", 1500), operation_running=True)  # still down
        apply_downtime(
            session, Transition(m, "running", "idle", 1600), operation_running=True
        )  # already open
        apply_downtime(session, Transition(m, "idle", "running", 2000), operation_running=True)
        apply_downtime(session, Transition(m, "running", "idle", 3000), operation_running=False)  # no order
        apply_downtime(session, Transition(m, "running", "offline", 4000), operation_running=True)  # unknown
        session.commit()
        rows = session.exec(select(DowntimeEvent)).all()
    assert [(r.start_ms, r.end_ms, r.source, r.reason_code) for r in rows] == [(1000, 2000, "auto", None)]


def test_load_reads_every_open_segment_in_one_query(engine: Engine) -> None:
    plant = make_plant(engine, machines=("m1", "m2", "m3"))
    m1, m2, m3 = (plant.machines[c] for c in ("m1", "m2", "m3"))
    with Session(engine) as session:  # m1 with a closed history, m2 open from the start, m3 never seen
        tl = Timeline(session)
        for state, ts in (("running", 1000), ("idle", 2000), ("fault", 3000)):
            tl.transition(m1, state, ts)
        tl.transition(m2, "offline", 1500)
        session.commit()
    statements: list[str] = []

    def count(conn: object, cursor: object, statement: str, *args: object) -> None:
        if statement.startswith("SELECT"):  # not SQLite's explicit BEGIN
            statements.append(statement)

    with Session(engine) as session:
        event.listen(engine, "before_cursor_execute", count)
        try:
            loaded = Timeline(session)
            loaded.load([m1, m2, m3, m1])
            got = {m: loaded.current(m) for m in (m1, m2, m3)}
        finally:
            event.remove(engine, "before_cursor_execute", count)
        assert len(statements) == 1, statements
        one_by_one = Timeline(session)
        assert {m: one_by_one.current(m) for m in (m1, m2, m3)} == got
        assert [(s.state, s.start_ms) if s else None for s in got.values()] == [
            ("fault", 3000),
            ("offline", 1500),
            None,
        ]

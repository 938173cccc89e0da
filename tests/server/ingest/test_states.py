"""Machine state timeline, automatic downtime and edge status (birth, will) through a real Ingestor."""

from collections.abc import Callable

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from server.domain.boss_view import data_loss_alerts
from server.domain.machine_state import derive, opens_downtime
from server.ingest import Ingestor
from server.ingest.registry import Registry
from server.ingest.status import EPISODE_GAP_MS, handle_status
from server.models.ingest import CountEvent, DataLossEpisode, EdgeStatus, MachineStateSegment
from server.models.plant import Tag
from server.models.production import DowntimeEvent, Operation
from shared.messages import BufferStatus, DeviceStatus, Status, TagInfo, encode
from tests.server.ingest.support import EDGE, SITE, T0, Broker, batch, cursor, make_plant, wait_for


@pytest.mark.parametrize(
    ("state", "running", "fault", "expected"),
    [
        (2, False, True, "running"),  # the state enum wins
        (3, None, None, "fault"),
        (5, None, None, "starved"),
        (9, None, None, None),  # unknown enum value
        (None, True, False, "running"),
        (None, True, True, "fault"),
        (None, False, False, "idle"),
        (None, False, None, "idle"),
        (None, None, False, "idle"),
        (None, None, None, None),
    ],
)
def test_derive(state: int | None, running: bool | None, fault: bool | None, expected: str | None) -> None:
    assert derive(state, running, fault) == expected


def test_downtime_rule() -> None:
    assert opens_downtime("running", "fault", operation_running=False)
    assert opens_downtime("running", "idle", operation_running=True)
    assert not opens_downtime("running", "idle", operation_running=False)
    assert not opens_downtime("running", "offline", operation_running=True)
    assert not opens_downtime("idle", "fault", operation_running=True)


def segments(engine: Engine, machine_id: int) -> list[tuple[str, int, int | None]]:
    with Session(engine) as session:
        rows = session.exec(
            select(MachineStateSegment).where(MachineStateSegment.machine_id == machine_id)
            .order_by(MachineStateSegment.start_ms)  # type: ignore[arg-type]
        ).all()  # fmt: skip
    return [(r.state, r.start_ms - T0, None if r.end_ms is None else r.end_ms - T0) for r in rows]


def downtimes(engine: Engine) -> list[tuple[int, int | None, str]]:
    with Session(engine) as session:
        rows = session.exec(select(DowntimeEvent).order_by(DowntimeEvent.start_ms)).all()  # type: ignore[arg-type]
    return [(r.start_ms - T0, None if r.end_ms is None else r.end_ms - T0, r.source) for r in rows]


def test_timeline_downtime_and_a_will_retracted_by_buffered_data(
    engine: Engine, start_ingestor: Callable[..., Ingestor], broker: Broker
) -> None:
    plant = make_plant(engine, machines=("m1", "m2"))
    m1, m2 = plant.machines["m1"], plant.machines["m2"]
    start_ingestor()
    broker.publish(batch(1, [("m1", "state", T0 + 1000, 2), ("m2", "running", T0 + 1000, True)]))
    broker.publish(batch(2, [("m1", "state", T0 + 5000, 3), ("m1", "running", T0 + 5000, False)]))
    broker.publish(batch(3, [("m1", "state", T0 + 9000, 2), ("m2", "running", T0 + 9000, False)]))
    broker.publish(batch(4, [("m1", "state", T0 + 12000, 0), ("m1", "state", T0 + 13000, 0)]))
    wait_for(lambda: cursor(engine) == 4, what="4 batches")
    assert segments(engine, m1) == [("running", 1000, 5000), ("fault", 5000, 9000), ("running", 9000, 12000),
                                    ("idle", 12000, None)]  # fmt: skip
    # m2 has no operation running: idle is not downtime; m1's fault and idle-while-producing are
    assert segments(engine, m2) == [("running", 1000, 9000), ("idle", 9000, None)]
    assert downtimes(engine) == [(5000, 9000, "auto"), (12000, None, "auto")]

    will = Status(edge_id=EDGE, online=False, ts_ms=T0)
    broker.publish(encode(will), kind="status")
    wait_for(lambda: segments(engine, m1)[-1][0] == "offline", what="m1 offline after the will")
    assert segments(engine, m2)[-1][0] == "offline"
    # the edge comes back and replays what it buffered: m1 was running again at +20 s
    broker.publish(batch(5, [("m1", "state", T0 + 20000, 2)]))
    wait_for(lambda: cursor(engine) == 5, what="batch 5")
    assert segments(engine, m1)[-2:] == [("idle", 12000, 20000), ("running", 20000, None)]
    assert downtimes(engine) == [(5000, 9000, "auto"), (12000, 20000, "auto")]
    assert segments(engine, m2)[-1][0] == "offline"  # nothing new from m2: still offline


def test_stale_samples_mark_the_machine_offline(
    engine: Engine, start_ingestor: Callable[..., Ingestor], broker: Broker
) -> None:
    plant = make_plant(engine)
    start_ingestor()
    broker.publish(batch(1, [("m1", "running", T0 + 1000, True)]))
    broker.publish(
        batch(2, [("m1", "running", T0 + 2000, True, "stale"), ("m1", "running", T0 + 2500, None, "bad")])
    )
    broker.publish(batch(3, [("m1", "running", T0 + 4000, True)]))
    wait_for(lambda: cursor(engine) == 3, what="3 batches")
    assert segments(engine, plant.machines["m1"]) == [("running", 1000, 2000), ("offline", 2000, 4000),
                                                      ("running", 4000, None)]  # fmt: skip


def test_birth_upserts_tags_and_stores_edge_status(
    engine: Engine, start_ingestor: Callable[..., Ingestor], broker: Broker
) -> None:
    plant = make_plant(engine)
    ingestor = start_ingestor()
    birth = Status(
        edge_id=EDGE, online=True, ts_ms=T0, version="0.1.0", next_seq=42,
        devices=[DeviceStatus(name="plc-1", connected=True)],
        buffer=BufferStatus(depth=7, bytes=1234, oldest_ms=T0 - 5000, dropped_samples={"analog": 3},
                            disk_full_errors=2),
        tags=[TagInfo(machine="m1", tag="good_count", role="counter", width=32),  # width changes 16 -> 32
              TagInfo(machine="m1", tag="pressure", role="analog", unit="bar"),
              TagInfo(machine="ghost", tag="good_count", role="counter", width=16)],
    )  # fmt: skip
    broker.publish(encode(birth), kind="status")
    wait_for(lambda: ingestor.metrics.snapshot()["status_messages"] == 1, what="the birth")
    with Session(engine) as session:
        tags = {t.name: t for t in session.exec(select(Tag).where(Tag.machine_id == plant.machines["m1"]))}
        status = session.get(EdgeStatus, EDGE)
    assert tags["good_count"].width == 32
    assert (tags["pressure"].role, tags["pressure"].unit) == ("analog", "bar")
    assert status is not None and status.online
    assert (status.buffer_depth, status.buffer_bytes, status.dropped, status.next_seq) == (
        7,
        1234,
        {"analog": 3},
        42,
    )
    assert status.machines == ["ghost", "m1"] and status.disk_full_errors == 2
    assert status.devices == [{"name": "plc-1", "connected": True, "error": None, "since_ms": None}]
    # the registry sees the new width at once: 32-bit values above 65535 now count
    broker.publish(batch(1, [("m1", "good_count", T0 + 1000, 70_000)]))
    broker.publish(batch(2, [("m1", "good_count", T0 + 2000, 70_004)]))
    wait_for(lambda: cursor(engine) == 2, what="2 batches")
    with Session(engine) as session:
        op = session.get(Operation, plant.operation_id)
        assert op is not None and op.machine_good == 4
        # both clocks kept on the ledger: the edge's sample time and the server's time of receipt
        event = session.exec(select(CountEvent)).one()
        assert event.ts_ms == T0 + 2000 and event.received_ms is not None and event.received_ms > T0 + 2000


def test_outbox_drops_become_data_loss_episodes_and_a_boss_alarm(engine: Engine) -> None:
    make_plant(engine)
    registry = Registry(engine)

    def report(dropped: dict[str, int], at_ms: int, span: tuple[int, int] | None = None) -> None:
        buffer = BufferStatus(depth=500, bytes=60_000, oldest_ms=T0, dropped_samples=dropped,
                              dropped_from_ms=span and span[0], dropped_to_ms=span and span[1])  # fmt: skip
        status = Status(edge_id=EDGE, online=True, ts_ms=at_ms, version="0.1.0", buffer=buffer)
        handle_status(engine, registry, SITE, status, at_ms)

    later = T0 + EPISODE_GAP_MS + 60_000
    report({}, T0)
    report({"analog": 40}, T0 + 1_000, (T0 - 90_000, T0 - 60_000))  # the quota is reached: an episode opens
    report({"analog": 100}, T0 + 5_000, (T0 - 90_000, T0 - 20_000))  # goes on: the same episode
    report({"analog": 100}, T0 + 9_000, (T0 - 95_000, T0))  # no new drop: nothing recorded
    report({"analog": 130}, later)  # long after: a second episode (from an edge that sends no span)
    with Session(engine) as session:
        episodes = session.exec(select(DataLossEpisode).order_by(DataLossEpisode.first_ms)).all()
        assert [(e.first_ms, e.last_ms, e.samples, e.from_ms, e.to_ms) for e in episodes] == [
            (T0 + 1_000, T0 + 5_000, {"analog": 100}, T0 - 90_000, T0 - 20_000),
            (later, later, {"analog": 30}, None, None),
        ]
        alerts = data_loss_alerts(session, SITE, since_ms=T0)
        assert [(a.kind, a.subject, a.value) for a in alerts] == [("data_loss", EDGE, 130)]
        assert data_loss_alerts(session, SITE, since_ms=later + 1) == []
        assert data_loss_alerts(session, "another-site", since_ms=T0) == []


def test_an_offline_machine_is_back_with_its_last_state_at_its_next_good_sample(
    engine: Engine, start_ingestor: Callable[..., Ingestor], broker: Broker
) -> None:
    plant = make_plant(engine, machines=("m1", "m2"))
    m1, m2 = plant.machines["m1"], plant.machines["m2"]
    start_ingestor()
    broker.publish(batch(1, [("m1", "state", T0 + 1000, 2), ("m2", "state", T0 + 1000, 0)]))
    wait_for(lambda: cursor(engine) == 1, what="batch 1")
    broker.publish(encode(Status(edge_id=EDGE, online=False, ts_ms=T0)), kind="status")
    wait_for(lambda: segments(engine, m1)[-1][0] == "offline", what="offline after the will")
    # state unchanged (reported by exception: no state sample), only counters/analogs arrive
    broker.publish(batch(2, [("m1", "temperature", T0 + 5000, 20.5), ("m2", "good_count", T0 + 6000, 3)]))
    wait_for(lambda: cursor(engine) == 2, what="batch 2")
    # buffered data from before the will's arrival: the offline stretch is retracted, states continue
    assert segments(engine, m1) == [("running", 1000, None)]
    assert segments(engine, m2) == [("idle", 1000, None)]
    # a device that stopped answering (stale) comes back with good samples: offline, then running again
    # (in one batch, so in one transaction: the order of samples decides)
    broker.publish(batch(3, [("m1", "state", T0 + 8000, 2, "stale"), ("m1", "temperature", T0 + 9000, 21.0)]))
    wait_for(lambda: cursor(engine) == 3, what="batch 3")
    assert segments(engine, m1) == [("running", 1000, 8000), ("offline", 8000, 9000), ("running", 9000, None)]


def test_off_is_takts_state_code_6_a_stop_like_idle() -> None:
    """An edge maps a PLC's "switched off" to code 6 (shared.messages.STATE_CODES): the server names it,
    an operation running on the machine gets a downtime, and OEE counts it as not available (idle)."""
    from server.domain import machine_state, oee_calc
    from shared.messages import STATE_CODES

    assert machine_state.derive(STATE_CODES["off"], None, None) == "off"
    assert {machine_state.derive(code, None, None) for code in STATE_CODES.values()} == set(STATE_CODES)
    assert machine_state.opens_downtime("running", "off", operation_running=True)
    assert not machine_state.opens_downtime("running", "off", operation_running=False)
    assert oee_calc.BUCKET["off"] == "idle_ms"

"""The Ingestor against a real mosquitto: inbox, exactly-once apply, seq order, gaps, acks, dead letters."""

from collections.abc import Callable

import pytest
from sqlalchemy import Engine, func
from sqlmodel import Session, select

from server.ingest import Ingestor
from server.ingest.apply import skip_gap
from server.ingest.inbox import Rejected, prune_dead_letters, store
from server.models.ingest import (
    CounterAnomaly,
    CountEvent,
    DeadLetter,
    GapEvent,
    HistorianPoint,
    InboxBatch,
)
from tests.server.ingest.support import (
    EDGE,
    T0,
    Broker,
    batch,
    counts,
    cursor,
    machine_counts,
    make_plant,
    wait_for,
)


@pytest.mark.faults
def test_batches_count_once_even_when_delivered_twice(
    engine: Engine, start_ingestor: Callable[..., Ingestor], broker: Broker
) -> None:
    plant = make_plant(engine)
    ingestor = start_ingestor()
    broker.publish(counts(1, good=100, scrap=5))  # baseline
    broker.publish(counts(2, good=103, scrap=5))
    broker.publish(counts(2, good=103, scrap=5))  # duplicate delivery
    broker.publish(counts(3, good=107, scrap=6))
    broker.publish(counts(3, good=107, scrap=6))
    wait_for(lambda: broker.acks.get(EDGE) == 3, what="ack of seq 3")
    assert machine_counts(engine, plant.operation_id) == (7, 1)
    assert cursor(engine) == 3
    # a re-delivery after the batch was applied and deleted from the inbox is still a no-op
    broker.publish(counts(2, good=103, scrap=5))
    broker.publish(counts(4, good=108, scrap=6))
    wait_for(lambda: cursor(engine) == 4, what="seq 4 applied")
    assert machine_counts(engine, plant.operation_id) == (8, 1)
    metrics = ingestor.metrics.snapshot()
    assert metrics["duplicates"] >= 3
    assert metrics["batches_applied"] == 4
    with Session(engine) as session:
        columns = (CountEvent.seq, CountEvent.good, CountEvent.scrap, CountEvent.operation_id)
        ledger = session.exec(select(*columns).order_by(CountEvent.id)).all()
        assert [(s, g, sc) for s, g, sc, _ in ledger] == [(2, 3, 0), (3, 4, 0), (3, 0, 1), (4, 1, 0)]
        assert {op for *_, op in ledger} == {plant.operation_id}
        points = session.exec(select(func.count()).select_from(HistorianPoint)).one()
        assert points == 4 * 3  # good_count, scrap_count, temperature per batch
        assert session.exec(select(func.count()).select_from(InboxBatch)).one() == 0


@pytest.mark.faults
def test_out_of_order_batches_apply_in_seq_order_and_gaps_are_held(
    engine: Engine, start_ingestor: Callable[..., Ingestor], broker: Broker
) -> None:
    plant = make_plant(engine)
    start_ingestor()
    broker.publish(counts(1, good=10))
    broker.publish(counts(3, good=30))  # wrong order: 3 before 2
    broker.publish(counts(2, good=20))
    wait_for(lambda: cursor(engine) == 3, what="seqs 1-3 applied")
    # the order of application shows in the ledger: 10 -> 20 -> 30, never 10 -> 30 -> (20 = reset)
    assert machine_counts(engine, plant.operation_id) == (20, 0)
    broker.publish(counts(6, good=60))  # 4 and 5 missing: held
    broker.publish(counts(7, good=70))
    gap = wait_for(lambda: _open_gap(engine), what="a recorded gap")
    assert (gap.from_seq, gap.to_seq) == (4, 5)
    assert cursor(engine) == 3
    assert broker.acks[EDGE] == 3  # highest contiguous stored seq
    assert machine_counts(engine, plant.operation_id) == (20, 0)
    broker.publish(counts(5, good=50))
    broker.publish(counts(4, good=40))
    wait_for(lambda: cursor(engine) == 7, what="gap filled")
    wait_for(lambda: broker.acks.get(EDGE) == 7, what="ack 7")
    assert machine_counts(engine, plant.operation_id) == (60, 0)
    with Session(engine) as session:
        gaps = session.exec(select(GapEvent)).all()
        assert [(g.resolution, g.resolved_ms is not None) for g in gaps] == [("filled", True)]


def test_an_operator_can_skip_a_gap_that_will_never_be_filled(
    engine: Engine, start_ingestor: Callable[..., Ingestor], broker: Broker
) -> None:
    plant = make_plant(engine)
    ingestor = start_ingestor()
    broker.publish(counts(1, good=10))
    broker.publish(counts(4, good=12))
    wait_for(lambda: _open_gap(engine), what="a recorded gap")
    skip_gap(engine, EDGE, 2, by="admin", on_done=ingestor.kick)
    wait_for(lambda: cursor(engine) == 4, what="batch 4 applied after the skip")
    wait_for(lambda: broker.acks.get(EDGE) == 4, what="ack 4")
    assert machine_counts(engine, plant.operation_id) == (2, 0)
    with Session(engine) as session:
        (gap,) = session.exec(select(GapEvent)).all()
        assert (gap.from_seq, gap.to_seq, gap.resolution, gap.resolved_by) == (2, 3, "skipped", "admin")


@pytest.mark.faults
def test_malformed_payloads_are_dead_lettered_and_acked_while_later_messages_flow(
    engine: Engine, start_ingestor: Callable[..., Ingestor], broker: Broker
) -> None:
    plant = make_plant(engine)
    ingestor = start_ingestor()
    broker.publish(counts(1, good=0))
    bad = [
        b"\xff\xfe not utf-8",
        b'{"v":1,"edge_id":"edge-1","seq":2,"sent_ms":1,"samples":[["m1","good_count",1,NaN,"good"]]}',
        b'{"v":1,"edge_id":"edge-1","seq":"two","sent_ms":1,"samples":[]}',
        b'{"v":2,"edge_id":"edge-1","seq":2,"sent_ms":1,"samples":[]}',
        b"[" * 70_000,  # oversized (limit 64 KiB in the test options)
        batch(2, [("m1", "good_count", T0 + 2000, 5)], edge="other-edge"),  # payload edge differs from topic
    ]
    for payload in bad:
        broker.publish(payload)
    broker.publish(b"{}", topic="takt/v1/demo/edge-1/status")  # invalid status
    broker.publish(counts(2, good=5))
    wait_for(lambda: cursor(engine) == 2, what="the good batch after the bad ones")
    assert machine_counts(engine, plant.operation_id) == (5, 0)
    with Session(engine) as session:
        letters = session.exec(select(DeadLetter).order_by(DeadLetter.id)).all()
    assert len(letters) == len(bad) + 1
    assert letters[0].payload == bad[0]
    reasons = [letter.reason for letter in letters]
    assert "exceeds" in reasons[4] and letters[4].size == 70_000 and len(letters[4].payload) < 70_000
    assert "differs from the topic" in reasons[5]
    assert ingestor.metrics.snapshot()["dead_letters"] == len(bad) + 1
    # every message was acked: a fresh session of the same client id gets nothing redelivered
    assert ingestor.link.inbox.qsize() == 0


def _open_gap(engine: Engine) -> GapEvent | None:
    with Session(engine) as session:
        return session.exec(select(GapEvent).where(GapEvent.resolved_ms == None)).first()  # noqa: E711


@pytest.mark.faults
def test_a_restarted_server_gets_what_the_broker_queued_for_its_session(
    engine: Engine, start_ingestor: Callable[..., Ingestor], broker: Broker
) -> None:
    plant = make_plant(engine)
    first = start_ingestor(client_id="takt-server-restart")
    broker.publish(counts(1, good=100))
    broker.publish(counts(2, good=104))
    wait_for(lambda: cursor(engine) == 2, what="seq 2 applied")
    first.stop()
    for seq, good in [(3, 110), (4, 111), (5, 120)]:  # queued by the broker for the persistent session
        broker.publish(counts(seq, good=good))
    start_ingestor(client_id="takt-server-restart")
    wait_for(lambda: cursor(engine) == 5, what="the queued batches applied after the restart")
    assert machine_counts(engine, plant.operation_id) == (20, 0)


def test_dead_letters_are_pruned_by_age_and_count(engine: Engine) -> None:
    day = 86_400_000
    now = T0 + 100 * day
    rejected = [Rejected("t", f"r{i}", b"x", 1) for i in range(3)]
    store(engine, [], rejected[:1], set(), now - 40 * day)  # too old
    store(engine, [], rejected[1:], set(), now - day)
    store(engine, [], [Rejected("t", "newest", b"y", 1)], set(), now)
    assert prune_dead_letters(engine, now, keep_days=30, keep_max=2) == 2  # the old one, then beyond 2
    with Session(engine) as session:
        assert [d.reason for d in session.exec(select(DeadLetter).order_by(DeadLetter.id))] == [
            "r2",
            "newest",
        ]


@pytest.mark.faults
def test_an_impossible_jump_is_quarantined_and_recorded(
    engine: Engine, start_ingestor: Callable[..., Ingestor], broker: Broker
) -> None:
    plant = make_plant(engine)
    ingestor = start_ingestor()
    broker.publish(counts(1, good=100))
    broker.publish(counts(2, good=48_032))  # 47_932 parts in one second: garbage
    broker.publish(counts(3, good=103))
    wait_for(lambda: cursor(engine) == 3, what="3 batches")
    assert machine_counts(engine, plant.operation_id) == (3, 0)
    with Session(engine) as session:
        (anomaly,) = session.exec(select(CounterAnomaly)).all()
    assert (anomaly.tag, anomaly.old_value, anomaly.new_value, anomaly.seq) == ("good_count", 100, 48_032, 2)
    assert "exceeds" in anomaly.reason
    assert ingestor.metrics.snapshot()["quarantined"] == 1


def test_a_machine_created_after_the_start_counts_from_its_first_sample(
    engine: Engine, start_ingestor: Callable[..., Ingestor], broker: Broker
) -> None:
    start_ingestor()  # its registry is loaded now, without the machine
    plant = make_plant(engine)
    broker.publish(counts(1, good=10))  # the baseline must not be lost
    broker.publish(counts(2, good=15))
    wait_for(lambda: cursor(engine) == 2, what="2 batches")
    assert machine_counts(engine, plant.operation_id) == (5, 0)

"""Two Ingestors (separate paho clients, one shared subscription $share/takt/...) on one broker and one
database ingest interleaved edges with duplicates and out-of-order deliveries: counts are exact."""

import random
from collections.abc import Callable

from sqlalchemy import Engine, func
from sqlmodel import Session, select

from server.ingest import Ingestor
from server.models.ingest import CountEvent, EdgeCursor
from server.models.production import Operation
from tests.server.ingest.support import T0, Broker, counts, make_plant, wait_for

EDGES = {"e1": "m1", "e2": "m2", "e3": "m3"}
BATCHES = 60


def test_two_replicas_share_the_stream_and_count_exactly_once(
    engine: Engine, start_ingestor: Callable[..., Ingestor], broker: Broker
) -> None:
    owners = {machine: edge for edge, machine in EDGES.items()}
    plant = make_plant(engine, machines=tuple(EDGES.values()), run_from=T0, owners=owners)
    first = start_ingestor(shared=True)
    second = start_ingestor(shared=True)
    rng = random.Random(7)
    messages = []
    for seq in range(1, BATCHES + 1):
        for edge, machine in EDGES.items():
            good = (65_500 + seq * 3) % 65_536  # 16-bit counters that wrap during the run
            messages.append((edge, counts(seq, good=good, scrap=seq // 10, machine=machine, edge=edge)))
    duplicates = rng.sample(messages, 40)
    # swap neighbours now and then: out-of-order arrival per edge
    for i in range(0, len(messages) - 3, 5):
        messages[i], messages[i + 3] = messages[i + 3], messages[i]
    for edge, payload in messages + duplicates:
        broker.publish(payload, edge=edge)

    def done() -> bool:
        with Session(engine) as session:
            cursors = session.exec(select(EdgeCursor.last_applied_seq)).all()
        return len(cursors) == 3 and all(c == BATCHES for c in cursors)

    wait_for(done, timeout=60, what="every edge applied to the last seq")
    wait_for(lambda: all(broker.acks.get(e) == BATCHES for e in EDGES), what="final acks")
    with Session(engine) as session:
        for machine in EDGES.values():
            good, scrap = session.exec(
                select(func.sum(CountEvent.good), func.sum(CountEvent.scrap)).where(
                    CountEvent.machine_id == plant.machines[machine]
                )
            ).one()
            assert (good, scrap) == (3 * (BATCHES - 1), BATCHES // 10), machine
        op = session.get(Operation, plant.operation_id)
        assert op is not None and (op.machine_good, op.machine_scrap) == (3 * (BATCHES - 1), BATCHES // 10)
    both = [first.metrics.snapshot(), second.metrics.snapshot()]
    assert all(m["batches_stored"] > 0 for m in both), "the shared subscription fed both replicas"
    assert sum(m["batches_applied"] for m in both) == 3 * BATCHES

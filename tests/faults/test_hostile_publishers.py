"""Issue 18, cases 1-2 on the whole plant, on SQLite and on PostgreSQL: while five machines produce through
a real `takt edge`, a hostile publisher on the same mosquitto sends the poison message, an unknown edge's
reading for a machine it does not own, and births from unknown edges that would retype a counter or add a
tag; and the poison waits in the broker's persistent session while the server is killed (-9) and comes
with everything else queued when it restarts with the same client id. The real edge's counts must stay
exact against the simulator's ground truth, ingestion must never stall (never a store retry), and
everything hostile must be in the dead letters with its reason."""

import time

import httpx
from sqlmodel import Session, col, select

from server.models.ingest import DeadLetter, SignalState
from server.models.plant import Machine, Tag
from shared.messages import DataBatch, Sample, Status, TagInfo, encode
from tests.edge.support import wait_until
from tests.faults.plant import SITE, Plant
from tests.server.ingest.support import Broker

POISON = b'{"v":1,"edge_id":"rogue10","seq":9223372036854775808,"sent_ms":1,"samples":[]}'
POISON_TOPIC = f"takt/v1/{SITE}/rogue10/data"


def _current(plant: Plant, machine: str, tag: str) -> int:
    with Session(plant.engine) as session:
        row = session.exec(
            select(SignalState).join(Machine).where(Machine.code == machine, SignalState.tag == tag)
        ).one()
        return row.value


def _roles(plant: Plant, machine: str) -> dict[str, str]:
    with Session(plant.engine) as session:
        rows = session.exec(select(Tag.name, Tag.role).join(Machine).where(Machine.code == machine)).all()
        return {str(name): str(role) for name, role in rows}


def _letters(plant: Plant) -> list[tuple[str, str]]:
    with Session(plant.engine) as session:
        rows = session.exec(select(DeadLetter.topic, DeadLetter.reason).order_by(col(DeadLetter.id))).all()
        return [(str(t), str(r)) for t, r in rows]


def test_a_hostile_publisher_neither_stops_nor_fakes_the_plant(plant_on_each_engine: Plant) -> None:
    plant = plant_on_each_engine
    before = {m: _roles(plant, m) for m in ("mold32", "saw16")}
    attacker = Broker(plant.broker.port)
    try:
        with plant.production() as window:
            wait_until(lambda: plant.cursor() > 0, 20, "batches applied")
            attacker.publish(POISON, topic=POISON_TOPIC)
            now = int(time.time() * 1000)
            fake = [
                Sample("press16", "good_count", now, (_current(plant, "press16", "good_count") + 15) % 65_536)
            ]
            attacker.publish(
                encode(DataBatch(edge_id="rogue11", seq=1, sent_ms=now, samples=fake)),
                topic=f"takt/v1/{SITE}/rogue11/data",
            )
            retype = Status(edge_id="rogue12", online=True, ts_ms=now,
                            tags=[TagInfo(machine="mold32", tag="good_count", role="analog")])  # fmt: skip
            attacker.publish(encode(retype), topic=f"takt/v1/{SITE}/rogue12/status")
            spy = Status(
                edge_id="rogue13", online=True, ts_ms=now, tags=[TagInfo(machine="saw16", tag="spy")]
            )
            attacker.publish(encode(spy), topic=f"takt/v1/{SITE}/rogue13/status")
            cursor = plant.cursor()
            wait_until(lambda: plant.cursor() > cursor + 5, 20, "the real edge's batches applied after it")
            time.sleep(3)  # a few simulated minutes of production after the attacks
            health = httpx.get(f"{plant.base}/healthz", timeout=5)
            assert health.status_code == 200, health.text
    finally:
        attacker.close()
    plant.assert_counts_exact(window)
    assert {m: _roles(plant, m) for m in ("mold32", "saw16")} == before
    letters = _letters(plant)
    assert any(t == POISON_TOPIC and "seq" in r for t, r in letters), letters
    for edge in ("rogue11", "rogue12", "rogue13"):
        assert any(f"'{edge}' is not approved" in r for _, r in letters), (edge, letters)
    registry = {e["edge_id"]: e["state"] for e in plant.api("/edge-registry")}
    assert registry == {
        "plant-edge": "approved",
        "rogue11": "pending",
        "rogue12": "pending",
        "rogue13": "pending",
    }


def _poison_letters(plant: Plant) -> list[str]:
    """The reasons of the dead letters holding the poison message, byte for byte."""
    with Session(plant.engine) as session:
        rows = session.exec(select(DeadLetter.reason).where(DeadLetter.payload == POISON)).all()
        return [str(reason) for reason in rows]


def test_a_restart_with_the_poison_in_the_brokers_session_recovers_at_once(
    plant_on_each_engine: Plant,
) -> None:
    plant = plant_on_each_engine
    before = len(_poison_letters(plant))
    attacker = Broker(plant.broker.port)
    try:
        with plant.production() as window:
            plant.wait_ingesting("production ingested")
            plant.server.kill()
            killed_at = plant.outbox()[1]
            attacker.publish(POISON, topic=POISON_TOPIC)  # queued for the dead server's session
            wait_until(lambda: plant.outbox()[1] > killed_at + 10, 30, "ten batches made while it is dead")
            plant.start_server()  # same client id: the broker delivers what it queued for the session
            made = plant.outbox()[1] - 1  # the edge's last seq: its batches made while the server was dead
            wait_until(lambda: plant.cursor() >= made, 30, f"the edge's batches up to seq {made} applied")
            stats = plant.api("/ingest/stats")  # the new process's counters
            assert stats["store_errors"] == 0, (
                stats
            )  # never one retry: the poison was not taken for a bad database
            assert stats["apply_errors_by_edge"] == {}, stats
            reasons = _poison_letters(plant)
            assert len(reasons) == before + 1, reasons
            assert "seq" in reasons[-1] and "9007199254740991" in reasons[-1], reasons  # the bound it broke
            plant.wait_ingesting("production ingested after the restart")
    finally:
        attacker.close()
    plant.assert_counts_exact(window)
    assert len(_poison_letters(plant)) == before + 1  # dead-lettered once

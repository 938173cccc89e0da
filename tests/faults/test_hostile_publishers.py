"""Issue 18, cases 1-2 on the whole plant: while five machines produce through a real `takt edge`, a
hostile publisher on the same mosquitto sends the poison message, an unknown edge's reading for a machine
it does not own, and births from unknown edges that would retype a counter or add a tag. The real edge's
counts must stay exact against the simulator's ground truth, ingestion must never stall, and everything
hostile must be in the dead letters with its reason. (SQLite here; the same replays run on SQLite and
PostgreSQL in tests/server/ingest/test_poison.py and test_edge_identity.py.)"""

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


def test_a_hostile_publisher_neither_stops_nor_fakes_the_plant(plant: Plant) -> None:
    before = {m: _roles(plant, m) for m in ("mold32", "saw16")}
    attacker = Broker(plant.broker.port)
    try:
        with plant.production() as window:
            wait_until(lambda: plant.cursor() > 0, 20, "batches applied")
            attacker.publish(POISON, topic=f"takt/v1/{SITE}/rogue10/data")
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
    assert any(t.endswith("/rogue10/data") and "seq" in r for t, r in letters), letters
    for edge in ("rogue11", "rogue12", "rogue13"):
        assert any(f"'{edge}' is not approved" in r for _, r in letters), (edge, letters)
    registry = {e["edge_id"]: e["state"] for e in plant.api("/edge-registry")}
    assert registry == {
        "plant-edge": "approved",
        "rogue11": "pending",
        "rogue12": "pending",
        "rogue13": "pending",
    }

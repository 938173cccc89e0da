"""Edge identity (issue 18, case 2), replayed as the issue describes against a real mosquitto, on SQLite
and PostgreSQL: an unknown edge's `press1 good_count` at current+15, a birth from another unknown edge
turning mold2's counter into an analog, a birth adding a tag to mold1, and the same from a registered
edge for machines it does not own. Everything is refused and dead-lettered with its reason; the owners'
counts stay exact; a new edge is pending approval until an admin approves it, then its data counts.
"""

import time
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from server.ingest import Ingestor
from server.models.ingest import CountEvent, DeadLetter
from server.models.plant import Machine, Tag
from server.web.auth import SESSION_COOKIE
from shared.messages import Status, TagInfo, encode
from tests.server.conftest import ADMIN_TOKEN
from tests.server.ingest.support import T0, Broker, batch, cursor, machine_counts, make_plant, wait_for

OWNERS = {"press1": "line-a", "mold1": "line-b", "mold2": "line-b"}


def reasons(engine: Engine) -> list[str]:
    with Session(engine) as session:
        return [d.reason for d in session.exec(select(DeadLetter).order_by(col(DeadLetter.id))).all()]


def tags(engine: Engine, machine: str) -> dict[str, str]:
    with Session(engine) as session:
        rows = session.exec(select(Tag.name, Tag.role).join(Machine).where(Machine.code == machine)).all()
        return {str(name): str(role) for name, role in rows}


def reading(seq: int, machine: str, value: int, edge: str) -> bytes:
    return batch(seq, [(machine, "good_count", T0 + seq * 1000, value)], edge=edge)


@pytest.mark.faults
def test_no_edge_writes_a_machine_it_does_not_own_and_new_edges_wait_for_approval(
    engine: Engine,
    start_ingestor: Callable[..., Ingestor],
    broker: Broker,
    client: TestClient,
    admin_headers: dict[str, str],
) -> None:
    plant = make_plant(engine, machines=("press1", "mold1", "mold2"), owners=OWNERS)
    ingestor = start_ingestor()
    broker.publish(reading(1, "press1", 100, "line-a"), edge="line-a")
    broker.publish(reading(1, "mold2", 500, "line-b"), edge="line-b")
    wait_for(lambda: cursor(engine, "line-a") == 1 and cursor(engine, "line-b") == 1, what="baselines")

    # the attacks
    broker.publish(reading(1, "press1", 115, "rogue11"), edge="rogue11")  # unknown edge: current + 15
    birth = Status(edge_id="rogue12", online=True, ts_ms=T0,
                   tags=[TagInfo(machine="mold2", tag="good_count", role="analog")])  # fmt: skip
    broker.publish(encode(birth), edge="rogue12", kind="status")
    spy = Status(edge_id="rogue13", online=True, ts_ms=T0, tags=[TagInfo(machine="mold1", tag="spy")])
    broker.publish(encode(spy), edge="rogue13", kind="status")
    # an insider with line-b's password: press1 is line-a's; its own mold2 reading still counts
    mixed = batch(2, [("press1", "good_count", T0 + 2000, 130), ("mold2", "good_count", T0 + 2000, 503)],
                  edge="line-b")  # fmt: skip
    broker.publish(mixed, edge="line-b")
    claims = [
        TagInfo(machine="press1", tag="good_count", role="analog"),
        TagInfo(machine="mold2", tag="good_count", role="counter", width=16),
    ]
    takeover = Status(edge_id="line-b", online=True, ts_ms=T0, tags=claims)
    broker.publish(encode(takeover), edge="line-b", kind="status")

    # the owners' real readings go on and count exactly
    for seq, value in [(2, 104), (3, 110)]:
        broker.publish(reading(seq, "press1", value, "line-a"), edge="line-a")
    broker.publish(reading(3, "mold2", 510, "line-b"), edge="line-b")
    wait_for(lambda: cursor(engine, "line-a") == 3 and cursor(engine, "line-b") == 3, what="real readings")
    wait_for(lambda: len(reasons(engine)) == 5, what="5 dead letters")
    good, _ = machine_counts(engine, plant.operation_id)
    assert good == 10  # press1: 100 -> 104 -> 110, nothing from the others
    assert tags(engine, "mold2")["good_count"] == "counter" and "spy" not in tags(engine, "mold1")
    assert tags(engine, "press1")["good_count"] == "counter"
    found = reasons(engine)
    assert sum("'rogue11' is not approved" in r for r in found) == 1
    assert sum("'rogue12' is not approved" in r for r in found) == 1
    assert sum("'rogue13' is not approved" in r for r in found) == 1
    assert sum("'line-b' does not own machine(s) press1: 1 samples of seq 2" in r for r in found) == 1
    assert sum("'line-b' does not own machine(s) press1: their tag definitions" in r for r in found) == 1
    with Session(engine) as session:
        mold2 = session.exec(select(Machine).where(Machine.code == "mold2")).one()
        mold2_parts = sum(
            session.exec(select(CountEvent.good).where(CountEvent.machine_id == mold2.id)).all()
        )
    assert mold2_parts == 10  # 500 -> 503 -> 510
    assert ingestor.metrics.snapshot()["store_errors"] == 0

    # the unknown edges wait for approval, visible in the API; nothing of theirs was stored
    listing = client.get("/api/v1/edge-registry", headers=admin_headers).json()
    states = {e["edge_id"]: (e["state"], e["announced"]) for e in listing}
    assert states["rogue11"] == ("pending", ["press1"]) and states["rogue12"] == ("pending", ["mold2"])
    assert states["line-a"][0] == "approved" and states["line-b"][0] == "approved"
    assert cursor(engine, "rogue11") == -1
    assert client.post("/api/v1/edge-registry/rogue11/approve", headers={}).status_code == 401
    # approving it with press1 is refused: line-a owns it; with a machine of its own it counts
    taken = client.post(
        "/api/v1/edge-registry/rogue11/approve", json={"machines": ["press1"]}, headers=admin_headers
    )
    assert taken.status_code == 422, taken.text
    with Session(engine) as session:
        session.add(Machine(site_id=plant.site_id, code="press9", name="press9"))
        session.commit()
    approved = client.post(
        "/api/v1/edge-registry/rogue11/approve", json={"machines": ["press9"]}, headers=admin_headers
    )
    assert approved.status_code == 200 and approved.json()["state"] == "approved", approved.text
    assert approved.json()["machines"] == ["press9"]

    # its outbox still holds seq 1 (never acked end to end): it sends it again, now stored
    # (again until acked, as the edge does: the ingestor sees an approval within registry_refresh_s, and at
    # most a second after an unknown edge's last refusal)
    def resent() -> bool:
        broker.publish(batch(1, [("press9", "temperature", T0 + 1000, 20.5)], edge="rogue11"), edge="rogue11")
        return cursor(engine, "rogue11") == 1 or wait_until_applied()

    def wait_until_applied() -> bool:
        deadline = time.monotonic() + 1.5
        while time.monotonic() < deadline:
            if cursor(engine, "rogue11") == 1:
                return True
            time.sleep(0.1)
        return False

    wait_for(resent, timeout=30, what="the approved edge's batch applied")

    # the admin page lists them (pending first) and revokes line-b
    client.cookies.set(SESSION_COOKIE, ADMIN_TOKEN)
    page = client.get("/admin/edges")
    assert page.status_code == 200, page.text
    assert 'data-edge="rogue12" data-state="pending"' in page.text
    assert 'data-edge="rogue11" data-state="approved"' in page.text
    assert page.text.index('data-edge="rogue12"') < page.text.index('data-edge="line-a"')
    revoked = client.post(
        "/admin/edges/line-b/revoke", headers={"Origin": "http://testserver"}, follow_redirects=False
    )
    assert revoked.status_code == 303, revoked.text
    listing = client.get("/api/v1/edge-registry", headers=admin_headers).json()
    assert {e["edge_id"]: e["state"] for e in listing}["line-b"] == "revoked"
    ingestor.registry.reload()  # the worker reloads every registry_refresh_s; don't wait for it here
    broker.publish(reading(4, "mold2", 900, "line-b"), edge="line-b")
    wait_for(lambda: any("'line-b' is revoked" in r for r in reasons(engine)), what="revoked edge refused")
    assert cursor(engine, "line-b") == 3

"""Counting at the edges of the counter, applied through the inbox (SQLite and PostgreSQL): a reset near the
top of a uint32 while the machine went idle, jumps and ambiguous drops held as count anomalies that a
supervisor confirms or rejects, total, cycle and down counters (docs/ingest.md, "Counting")."""

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func
from sqlmodel import Session, select

from server.core.errors import Conflict
from server.domain import counts
from server.ingest import Ingestor
from server.ingest.apply import apply_edge
from server.ingest.inbox import StoredBatch, store
from server.models.audit import AuditLog
from server.models.catalog import Product
from server.models.ingest import CounterAnomaly, CountEvent
from server.models.plant import Tag
from tests.server.ingest.conftest import FAST, ingest_settings
from tests.server.ingest.support import EDGE, SITE, T0, batch, machine_counts, make_plant

TOP32 = (1 << 32) - 1
Apply = Callable[[list[tuple[Any, ...]]], None]


@pytest.fixture
def plant(engine: Engine) -> Any:
    return make_plant(engine)


@pytest.fixture
def apply(engine: Engine, plant: Any) -> Iterator[Apply]:
    ingestor = Ingestor(ingest_settings("sqlite://", port=1), engine, FAST)  # never connected
    seq = [0]

    def run(samples: list[tuple[Any, ...]]) -> None:
        seq[0] += 1
        ingestor.ctx.registry.invalidate()  # set_tag changes tags as a birth would
        store(engine, [StoredBatch(SITE, EDGE, seq[0], len(samples), batch(seq[0], samples))], [], set(), 0)
        assert apply_edge(ingestor.ctx, EDGE).error is None

    yield run


def set_tag(engine: Engine, name: str, **values: Any) -> None:
    with Session(engine) as session:
        for tag in session.exec(select(Tag).where(Tag.name == name)):
            for key, value in values.items():
                setattr(tag, key, value)
            session.add(tag)
        session.commit()


def anomalies(engine: Engine) -> list[CounterAnomaly]:
    with Session(engine) as session:
        return list(session.exec(select(CounterAnomaly).order_by(CounterAnomaly.id)))  # type: ignore[arg-type]


def at(s: float) -> int:
    return T0 + int(s * 1000)


@pytest.mark.faults
def test_a_uint32_reset_near_the_top_while_the_machine_went_idle_counts_nothing(
    engine: Engine, plant: Any, apply: Apply
) -> None:
    """The issue's finding, replayed: PartCount 4294967265 reset to 0 by the operator while the machine went
    idle. A wrap would be 31 parts (plausible in the time): the state decides, and nothing is counted."""
    set_tag(engine, "good_count", width=32)
    apply([("m1", "state", at(0), 2), ("m1", "good_count", at(0), TOP32 - 30)])  # running, baseline
    apply([("m1", "good_count", at(1), TOP32 - 30)])
    apply([("m1", "state", at(2), 0)])  # idle
    apply([("m1", "good_count", at(3), 0)])  # the operator's reset
    apply([("m1", "good_count", at(4), 0)])
    assert machine_counts(engine, plant.operation_id) == (0, 0)
    with Session(engine) as session:
        kinds = session.exec(select(CountEvent.kind, CountEvent.good)).all()
    assert [tuple(k) for k in kinds] == []  # a reset to 0 counts 0 parts: no ledger row
    assert anomalies(engine) == []
    apply([("m1", "state", at(5), 2), ("m1", "good_count", at(6), 2)])
    assert machine_counts(engine, plant.operation_id) == (2, 0)


@pytest.mark.faults
def test_the_same_drop_while_running_is_a_wrap(engine: Engine, plant: Any, apply: Apply) -> None:
    set_tag(engine, "good_count", width=32)
    apply([("m1", "state", at(0), 2), ("m1", "good_count", at(0), TOP32 - 30)])
    apply([("m1", "good_count", at(3), 0)])
    assert machine_counts(engine, plant.operation_id) == (31, 0)


@pytest.mark.faults
def test_a_drop_the_state_cannot_explain_is_held_and_a_supervisor_confirms_it(
    engine: Engine, plant: Any, apply: Apply
) -> None:
    """Stopped machine, 16-bit counter near the top lands on 4, not on the reset value: a reset (4 parts)
    or a wrap (10 parts). 4 count for sure; 6 are held until a supervisor says it was a wrap."""
    apply([("m1", "state", at(0), 0), ("m1", "good_count", at(0), 65_530)])  # idle
    apply([("m1", "good_count", at(2), 4)])
    assert machine_counts(engine, plant.operation_id) == (4, 0)
    (held,) = anomalies(engine)
    assert (held.kind, held.held, held.status, held.old_value, held.new_value) == (
        "ambiguous", 6, "open", 65_530, 4)  # fmt: skip
    assert held.id is not None
    with Session(engine) as session:
        view = counts.resolve(session, held.id, confirm=True, actor="boss")
        session.commit()
    assert (view.status, view.good, view.operation_id) == ("confirmed", 6, plant.operation_id)
    assert machine_counts(engine, plant.operation_id) == (10, 0)
    with Session(engine) as session:
        assert session.exec(select(CountEvent.good).where(CountEvent.kind == "confirmed")).all() == [6]
        audit = session.exec(select(AuditLog).where(AuditLog.entity == "count_anomaly")).one()
        assert (audit.actor, audit.action) == ("boss", "confirm")
        with pytest.raises(Conflict):
            counts.resolve(session, held.id, confirm=False, actor="boss")


@pytest.mark.faults
def test_a_jump_of_a_million_is_held_not_counted_and_a_rejection_keeps_it_out(
    engine: Engine, plant: Any, apply: Apply
) -> None:
    set_tag(engine, "good_count", width=32)
    apply([("m1", "good_count", at(0), 100)])
    apply([("m1", "good_count", at(1), 1_000_100)])
    apply([("m1", "good_count", at(2), 1_000_102)])  # the jump was real (a preset): counting goes on
    assert machine_counts(engine, plant.operation_id) == (2, 0)
    (held,) = anomalies(engine)
    assert (held.kind, held.held, held.status) == ("quarantine", 1_000_000, "open")
    assert held.id is not None
    with Session(engine) as session:
        assert [a.id for a in counts.list_anomalies(session)] == [held.id]
        view = counts.resolve(session, held.id, confirm=False, actor="boss")
        session.commit()
    assert view.status == "rejected"
    assert machine_counts(engine, plant.operation_id) == (2, 0)
    with Session(engine) as session:
        assert counts.list_anomalies(session) == []


@pytest.mark.faults
def test_a_glitch_is_dismissed_by_the_next_reading(engine: Engine, plant: Any, apply: Apply) -> None:
    set_tag(engine, "good_count", width=32)
    apply([("m1", "good_count", at(0), 100)])
    apply([("m1", "good_count", at(1), 9_000_000)])  # garbage
    apply([("m1", "good_count", at(2), 8_000_000)])  # garbage again
    apply([("m1", "good_count", at(3), 103)])
    assert machine_counts(engine, plant.operation_id) == (3, 0)
    assert [(a.held, a.status, a.resolved_by) for a in anomalies(engine)] == [
        (8_999_900, "dismissed", "takt"), (7_999_900, "dismissed", "takt")]  # fmt: skip


def test_a_total_counter_books_good_as_total_minus_scrap(engine: Engine, plant: Any, apply: Apply) -> None:
    set_tag(engine, "good_count", role="total_counter")
    apply([("m1", "good_count", at(0), 10), ("m1", "scrap_count", at(0), 1)])
    apply([("m1", "good_count", at(1), 15), ("m1", "scrap_count", at(1), 3)])
    apply([("m1", "good_count", at(2), 18)])
    assert machine_counts(engine, plant.operation_id) == (8 - 2, 2)


def test_a_cycle_counter_counts_cycles_times_the_products_cavities(
    engine: Engine, plant: Any, apply: Apply
) -> None:
    set_tag(engine, "good_count", role="cycle_counter")
    with Session(engine) as session:
        product = session.exec(select(Product)).one()
        product.parts_per_cycle = 4
        session.add(product)
        session.commit()
    apply([("m1", "good_count", at(0), 7)])
    apply([("m1", "good_count", at(1), 10), ("m1", "scrap_count", at(1), 2)])
    assert machine_counts(engine, plant.operation_id) == (3 * 4, 0)  # scrap_count's first sample: a baseline
    apply([("m1", "scrap_count", at(2), 3)])
    assert machine_counts(engine, plant.operation_id) == (11, 1)
    set_tag(engine, "good_count", parts_per_cycle=2)  # the edge fixes the cavities: they win
    apply([("m1", "good_count", at(3), 12)])
    assert machine_counts(engine, plant.operation_id) == (15, 1)


def test_a_down_counter_counts_each_step_down_and_its_reload(
    engine: Engine, plant: Any, apply: Apply
) -> None:
    set_tag(engine, "good_count", direction="down", reset_value=500, width=16)
    apply([("m1", "state", at(0), 2), ("m1", "good_count", at(0), 12)])
    apply([("m1", "good_count", at(1), 10)])
    apply([("m1", "good_count", at(2), 3)])
    apply([("m1", "state", at(3), 0)])
    apply([("m1", "good_count", at(4), 500)])  # reloaded by the operator while idle: no part
    apply([("m1", "state", at(5), 2), ("m1", "good_count", at(6), 495)])
    assert machine_counts(engine, plant.operation_id) == (2 + 7 + 5, 0)
    with Session(engine) as session:
        assert session.exec(select(func.count()).select_from(CounterAnomaly)).one() == 0


def test_the_api_lists_confirms_and_rejects_held_counts(
    engine: Engine, plant: Any, apply: Apply, client: TestClient, admin_headers: dict[str, str]
) -> None:
    set_tag(engine, "good_count", width=32)
    apply([("m1", "good_count", at(0), 100)])
    apply([("m1", "good_count", at(1), 500_100)])
    apply([("m1", "good_count", at(2), 500_101)])
    apply([("m1", "good_count", at(4), 900_101)])
    listed = client.get("/api/v1/count-anomalies", headers=admin_headers)
    assert listed.status_code == 200, listed.text
    jump, drop = sorted(listed.json(), key=lambda a: a["ts_ms"])
    assert (jump["machine"], jump["kind"], jump["held"]) == ("m1", "quarantine", 500_000)
    assert (drop["kind"], drop["held"], drop["old_value"]) == ("quarantine", 400_000, 500_101)
    confirmed = client.post(f"/api/v1/count-anomalies/{jump['id']}/confirm", headers=admin_headers)
    assert confirmed.status_code == 200, confirmed.text
    assert (confirmed.json()["status"], confirmed.json()["good"]) == ("confirmed", 500_000)
    again = client.post(f"/api/v1/count-anomalies/{jump['id']}/reject", headers=admin_headers)
    assert again.status_code == 409
    rejected = client.post(f"/api/v1/count-anomalies/{drop['id']}/reject", headers=admin_headers)
    assert rejected.json()["status"] == "rejected"
    assert client.post("/api/v1/count-anomalies/999999/confirm", headers=admin_headers).status_code == 404
    assert machine_counts(engine, plant.operation_id) == (1 + 500_000, 0)
    everything = client.get("/api/v1/count-anomalies?status=all", headers=admin_headers).json()
    assert {a["status"] for a in everything} == {"confirmed", "rejected"}
    assert client.get("/api/v1/count-anomalies").status_code == 401


def test_the_boss_page_lists_held_counts_and_a_supervisor_decides_there(
    engine: Engine, plant: Any, apply: Apply, client: TestClient, admin_headers: dict[str, str]
) -> None:
    set_tag(engine, "good_count", width=32)
    apply([("m1", "good_count", at(0), 100)])
    apply([("m1", "good_count", at(1), 300_100)])
    (held,) = anomalies(engine)
    origin = {"Origin": "http://testserver", "Accept-Language": "zh-CN"}
    for name, role in (("boss1", "supervisor"), ("plan1", "planner")):
        user = {"username": name, "display_name": name, "role": role, "password": f"pw-{name}-123456"}
        assert client.post("/api/v1/users", json=user, headers=admin_headers).status_code == 201
    login = {"username": "plan1", "password": "pw-plan1-123456"}
    assert client.post("/login", data=login, headers=origin).status_code == 200
    page = client.get("/boss/counts", headers=origin)
    assert page.status_code == 200 and f'data-anomaly="{held.id}"' in page.text and "暂扣计数" in page.text
    assert f'data-confirm="{held.id}"' not in page.text  # a planner sees, a supervisor decides
    assert client.post(f"/boss/counts/{held.id}/confirm", headers=origin).status_code == 403
    client.post("/logout", headers=origin)
    login = {"username": "boss1", "password": "pw-boss1-123456"}
    assert client.post("/login", data=login, headers=origin).status_code == 200
    assert f'data-confirm="{held.id}"' in client.get("/boss/counts", headers=origin).text
    done = client.post(f"/boss/counts/{held.id}/confirm", headers=origin)
    assert done.status_code == 200 and 'id="none-held"' in done.text
    assert f'data-decided="{held.id}"' in done.text
    assert machine_counts(engine, plant.operation_id) == (300_000, 0)

"""Slips forgiven, through the API on both engines: a complete below target answers 409 with the numbers
unless confirmed (`confirm_short`), at target it is one call; a supervisor (not an operator) reopens a
completed step and its order within the shift (or `TAKT_REOPEN_HOURS` without shifts), audit-logged, counts
unchanged."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, select

from server.domain import workorders as wo
from server.domain.reopen_window import reopen_since
from server.models.audit import AuditLog
from server.models.plant import Site
from server.models.production import Operation
from server.models.shifts import Shift
from server.models.types import now_ms
from tests.server.factory import build_plant, make_order, ok

URL = "/api/v1/work-orders/WO-SLIP"


def _running(client: TestClient, quantity: int, good: int) -> dict[str, dict[str, str]]:
    """WO-SLIP (operator reports count) running step 10 on lathe-1 with `good` parts reported."""
    plant = build_plant(client)
    make_order(plant, "WO-SLIP", quantity, count_source="manual")
    ok(client.post(f"{URL}/release", headers=plant.as_("planner")))
    ok(client.post(f"{URL}/start", json={"step_no": 10, "machine": "lathe-1"}, headers=plant.as_("operator")))
    ok(client.post(f"{URL}/reports", json={"step_no": 10, "good": good}, headers=plant.as_("operator")), 201)
    return plant.headers


def _step(order: dict, step: int) -> dict:  # type: ignore[type-arg]
    return next(op for op in order["operations"] if op["step_no"] == step)  # type: ignore[no-any-return]


def _audit(engine: Engine, action: str) -> list[AuditLog]:
    with Session(engine) as session:
        return list(session.exec(select(AuditLog).where(AuditLog.action == action)).all())


def test_short_complete_needs_confirmation(client: TestClient, engine: Engine) -> None:
    who = _running(client, 800, 29)
    refused = client.post(
        f"{URL}/complete", json={"step_no": 10}, headers=who["operator"] | {"Accept-Language": "zh-CN"}
    )
    assert refused.status_code == 409, refused.text
    body = refused.json()
    assert body["short"] == [{"step_no": 10, "made": 29, "target": 800}]
    assert "29 of 800" in body["detail"] and "29" in body["message"] and "800" in body["message"]
    assert body["message"] != body["detail"]  # in the client's language
    still = ok(client.get(URL, headers=who["operator"]))
    assert _step(still, 10)["status"] == "running" and still["status"] == "in_progress"
    # an empty complete (every step, the order) by a planner is refused with every short step's numbers
    whole = client.post(f"{URL}/complete", headers=who["planner"])
    assert whole.json()["short"] == [
        {"step_no": 10, "made": 29, "target": 800}, {"step_no": 20, "made": 0, "target": 800}
    ]  # fmt: skip
    done = ok(
        client.post(f"{URL}/complete", json={"step_no": 10, "confirm_short": True}, headers=who["operator"])
    )
    assert _step(done, 10)["status"] == "done"
    [row] = [a for a in _audit(engine, "complete") if a.diff]
    assert row.diff == {"made": 29, "target": 800} and row.actor == "operator1"
    paths = ok(client.get("/openapi.json"))["paths"]
    complete = paths["/api/v1/work-orders/{number}/complete"]["post"]
    assert "ShortCompletion" in complete["responses"]["409"]["content"]["application/json"]["schema"]["$ref"]
    assert "/api/v1/work-orders/{number}/reopen" in paths


def test_complete_at_target_is_one_call(client: TestClient) -> None:
    who = _running(client, 30, 30)
    done = ok(client.post(f"{URL}/complete", json={"step_no": 10}, headers=who["operator"]))
    assert _step(done, 10)["status"] == "done"


def test_supervisor_reopens_a_completed_order(client: TestClient, engine: Engine) -> None:
    who = _running(client, 10, 4)
    ok(client.post(f"{URL}/start", json={"step_no": 20, "machine": "pack-1"}, headers=who["operator"]))
    ok(client.post(f"{URL}/reports", json={"step_no": 20, "good": 3}, headers=who["operator"]), 201)
    completed = ok(client.post(f"{URL}/complete", json={"confirm_short": True}, headers=who["planner"]))
    assert completed["status"] == "completed"
    before = [(op["step_no"], op["good"], op["scrap"], op["machine_good"]) for op in completed["operations"]]
    for role in ("operator", "inspector"):
        denied = client.post(f"{URL}/reopen", json={"step_no": 20}, headers=who[role])
        assert denied.status_code == 403, (role, denied.text)
    assert ok(client.get(URL, headers=who["planner"]))["status"] == "completed"
    reopened = ok(client.post(f"{URL}/reopen", json={"step_no": 20}, headers=who["supervisor"]))
    assert reopened["status"] == "paused" and _step(reopened, 20)["status"] == "paused"
    assert _step(reopened, 10)["status"] == "done"
    assert [
        (op["step_no"], op["good"], op["scrap"], op["machine_good"]) for op in reopened["operations"]
    ] == before
    [row] = _audit(engine, "reopen")
    assert row.actor == "supervisor1" and row.entity == "Operation" and row.diff is not None
    assert row.diff["status"] == ["done", "paused"] and row.diff["made"] == 3 and row.diff["target"] == 10
    with Session(engine) as session:
        order = wo.get(session, "WO-SLIP")
        assert order.completed_at is None
    again = client.post(f"{URL}/reopen", json={"step_no": 20}, headers=who["supervisor"])
    assert again.status_code == 409 and "not done" in again.json()["detail"]
    # the operator resumes the reopened step and completes it again
    ok(client.post(f"{URL}/resume", json={"step_no": 20, "machine": "pack-1"}, headers=who["operator"]))
    ok(client.post(f"{URL}/reports", json={"step_no": 20, "good": 7}, headers=who["operator"]), 201)
    final = ok(client.post(f"{URL}/complete", json={"step_no": 20}, headers=who["operator"]))
    assert final["status"] == "completed" and _step(final, 20)["good"] == 10


def test_reopen_reaches_back_only_reopen_hours_without_shifts(client: TestClient, engine: Engine) -> None:
    who = _running(client, 800, 29)
    ok(client.post(f"{URL}/complete", json={"step_no": 10, "confirm_short": True}, headers=who["operator"]))
    with Session(engine) as session:  # completed 13 hours ago (the default TAKT_REOPEN_HOURS is 12)
        op = session.exec(select(Operation).where(Operation.step_no == 10)).one()
        op.ended_ms = now_ms() - 13 * 3_600_000
        session.add(op)
        session.commit()
    late = client.post(f"{URL}/reopen", json={"step_no": 10}, headers=who["supervisor"])
    assert late.status_code == 409 and "before this shift" in late.json()["detail"]
    assert _audit(engine, "reopen") == []


def test_reopen_window_is_the_current_shift(client: TestClient, engine: Engine) -> None:
    build_plant(client)
    now = now_ms()
    with Session(engine) as session:
        site = session.exec(select(Site).where(Site.code == "demo")).one()
        assert reopen_since(session, "demo", 12, now) == now - 12 * 3_600_000  # no calendar
        tz = ZoneInfo(site.timezone)
        local = datetime.fromtimestamp(now / 1000, tz)
        # a shift that started 2 hours ago (today or, just after midnight, yesterday) and lasts 8 hours
        start = (local - timedelta(hours=2)).replace(minute=0, second=0, microsecond=0)
        end = (start + timedelta(hours=8)).time()
        session.add(Shift(site_id=site.id or 0, name="day", start_local=start.time(), end_local=end,
                          days="1,2,3,4,5,6,7"))  # fmt: skip
        session.commit()
        assert reopen_since(session, "demo", 12, now) == int(start.timestamp() * 1000)
        # between shifts: since the start of the last shift that started
        later = int((start + timedelta(hours=10)).timestamp() * 1000)
        assert reopen_since(session, "demo", 12, later) == int(start.timestamp() * 1000)

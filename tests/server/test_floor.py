"""Downtime classification, the shift calendar, progress rates/ETA/lateness, plant and catalog CRUD."""

from datetime import date, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event
from sqlmodel import Session, col, select

from server.domain import progress
from server.models.production import DowntimeEvent, Operation, OperationRun, WorkOrder
from server.models.types import now_ms
from tests.server.factory import ADMIN, build_plant, make_order, ok, running_order


def test_downtime_classification(client: TestClient, engine: Engine) -> None:
    plant = build_plant(client)
    with Session(engine) as session:
        session.add(DowntimeEvent(machine_id=1, start_ms=now_ms() - 60_000, source="auto"))
        session.commit()
    operator = plant.as_("operator")
    open_events = ok(
        client.get("/api/v1/downtime", params={"unclassified": True, "machine": "lathe-1"}, headers=operator)
    )
    assert open_events["total"] == 1
    event_id = open_events["items"][0]["id"]
    url = f"/api/v1/downtime/{event_id}/classify"
    assert client.post(url, json={"reason_code": "burr"}, headers=operator).status_code == 422  # a scrap code
    done = ok(client.post(url, json={"reason_code": "tool_change"}, headers=operator))
    assert (done["reason_code"], done["classified_by"]) == ("tool_change", "operator1") and done[
        "classified_ms"
    ]
    assert ok(client.get("/api/v1/downtime", params={"unclassified": True}, headers=operator))["total"] == 0
    manual = {"machine": "lathe-2", "start_ms": 1_000, "end_ms": 500}
    assert client.post("/api/v1/downtime", json=manual, headers=plant.as_("supervisor")).status_code == 422
    manual["end_ms"] = 2_000
    assert (
        ok(client.post("/api/v1/downtime", json=manual, headers=plant.as_("supervisor")), 201)["source"]
        == "manual"
    )
    assert client.post("/api/v1/downtime", json=manual, headers=operator).status_code == 403
    audit = ok(
        client.get("/api/v1/audit", params={"entity": "DowntimeEvent"}, headers=plant.as_("supervisor"))
    )
    assert {a["action"] for a in audit["items"]} == {"classify", "create"}


def test_shift_calendar(client: TestClient) -> None:
    plant = build_plant(client)
    body = {"site_id": 1, "name": "night", "start_local": "20:00", "end_local": "06:00", "days": "1,2,3,4,5",
            "breaks": [{"name": "meal", "start_local": "00:00", "end_local": "00:30"}]}  # fmt: skip
    shift = ok(client.post("/api/v1/shifts", json=body, headers=plant.as_("supervisor")), 201)
    assert shift["planned_minutes"] == 570.0 and shift["breaks"][0]["name"] == "meal"
    assert (
        client.post("/api/v1/shifts", json=body | {"name": "x", "days": "0,8"}, headers=ADMIN).status_code
        == 422
    )
    changed = ok(client.patch(f"/api/v1/shifts/{shift['id']}", json={"breaks": []}, headers=ADMIN))
    assert changed["planned_minutes"] == 600.0
    assert [s["name"] for s in ok(client.get("/api/v1/shifts", headers=plant.as_("operator")))] == ["night"]


def test_progress_rate_eta_and_late(client: TestClient, engine: Engine) -> None:
    plant = build_plant(client)
    yesterday = (date.today() - timedelta(days=1)).isoformat()
    running_order(plant, "WO-P", 1000)
    ok(client.patch("/api/v1/work-orders/WO-P", json={"count_source": "manual", "due_date": yesterday},
                    headers=plant.as_("planner")))  # fmt: skip
    now = now_ms()
    with Session(engine) as session:  # the run started 30 minutes ago; machine counted 200, operators 150
        run = session.exec(select(OperationRun)).one()
        run.start_ms = now - 1_800_000
        op = session.exec(select(Operation).where(Operation.step_no == 10)).one()
        op.machine_good, op.started_ms = 200, now - 1_800_000
        session.add_all([run, op])
        session.commit()
    ok(client.post("/api/v1/work-orders/WO-P/reports", json={"good": 150, "ts_ms": now - 60_000},
                   headers=plant.as_("operator")), 201)  # fmt: skip
    progress = ok(client.get("/api/v1/work-orders/WO-P/progress", headers=plant.as_("supervisor")))
    turn = progress["operations"][0]
    assert (
        turn["manual"]["good"] == 150 and turn["machine_counts"]["good"] == 200 and turn["source"] == "manual"
    )
    assert 290 <= turn["rate_per_hour"] <= 300  # 150 parts in 30 minutes of run time
    assert progress["good"] == 0 and progress["eta"] is not None  # the last step has not started
    assert progress["late"] is True  # due yesterday
    ok(client.patch("/api/v1/work-orders/WO-P", json={"count_source": "machine", "due_date": "2099-01-01"},
                    headers=plant.as_("planner")))  # fmt: skip
    progress = ok(client.get("/api/v1/work-orders/WO-P/progress", headers=plant.as_("supervisor")))
    assert progress["operations"][0]["good"] == 200 and progress["late"] is False


def test_progress_of_many_orders_in_a_few_queries(client: TestClient, engine: Engine) -> None:
    """The boss's list: every order's progress as `progress` gives it, in queries that do not grow with
    the orders (an operation that ran in the last hour, one that ran only before, one not started)."""
    plant = build_plant(client)
    running_order(plant, "WO-A", 1000)
    make_order(plant, "WO-B", 1000)
    ok(client.post("/api/v1/work-orders/WO-B/release", headers=plant.as_("planner")))
    start = {"step_no": 10, "machine": "lathe-2"}
    ok(client.post("/api/v1/work-orders/WO-B/start", json=start, headers=plant.as_("supervisor")))
    make_order(plant, "WO-C", 10)
    ok(
        client.patch(
            "/api/v1/work-orders/WO-A", json={"count_source": "manual"}, headers=plant.as_("planner")
        )
    )
    now = now_ms()
    with Session(engine) as session:
        a, b = (session.exec(select(WorkOrder).where(WorkOrder.number == n)).one() for n in ("WO-A", "WO-B"))
        for order, start, end, good in (
            (a, now - 1_800_000, None, 0),
            (b, now - 7_200_000, now - 3_600_000, 300),
        ):
            op = session.exec(
                select(Operation).where(Operation.work_order_id == order.id, Operation.step_no == 10)
            ).one()
            run = session.exec(select(OperationRun).where(OperationRun.operation_id == op.id)).one()
            run.start_ms, run.end_ms = start, end
            op.started_ms, op.machine_good = start, good
            session.add_all([run, op])
        session.commit()
    ok(client.post("/api/v1/work-orders/WO-A/reports", json={"good": 150, "ts_ms": now - 60_000},
                   headers=plant.as_("operator")), 201)  # fmt: skip
    statements: list[str] = []

    def count(conn: object, cursor: object, statement: str, *args: object) -> None:
        if statement.startswith("SELECT"):
            statements.append(statement)

    with Session(engine) as session:
        orders = list(session.exec(select(WorkOrder).order_by(col(WorkOrder.number))).all())
        event.listen(engine, "before_cursor_execute", count)
        try:
            many = progress.progress_many(session, orders)
        finally:
            event.remove(engine, "before_cursor_execute", count)
        one_by_one = [progress.progress(session, order) for order in orders]
    assert len(statements) <= 5  # operations, machines, runs, and the last hour's good per source
    rates = [[op.rate_per_hour for op in p.operations] for p in many]
    for mine, theirs in zip(many, one_by_one, strict=True):  # the same but for the clock moving on
        assert [op.rate_per_hour or 0 for op in mine.operations] == pytest.approx(
            [op.rate_per_hour or 0 for op in theirs.operations], rel=1e-3
        )
        assert (mine.good, mine.late, [op.good for op in mine.operations]) == (
            theirs.good,
            theirs.late,
            [op.good for op in theirs.operations],
        )
    assert 290 <= rates[0][0] <= 300  # 150 parts in the last 30 minutes of run time
    assert rates[1][0] == 300.0  # nothing in the last hour: 300 parts over its one hour of run time
    assert rates[2] == [None, None]  # not started
    assert [p.number for p in many] == ["WO-A", "WO-B", "WO-C"]
    assert [p.operations[0].good for p in many] == [150, 300, 0]


def test_plant_and_catalog_crud(client: TestClient) -> None:
    plant = build_plant(client)
    planner = plant.as_("planner")
    machines = ok(client.get("/api/v1/machines", headers=planner))
    assert [m["code"] for m in machines["items"]] == ["lathe-1", "lathe-2", "pack-1"]
    tag = {"name": "good_count", "role": "counter", "width": 16}
    ok(client.post("/api/v1/machines/lathe-1/tags", json=tag, headers=ADMIN), 201)
    assert client.post("/api/v1/machines/lathe-1/tags", json=tag, headers=ADMIN).status_code == 409
    assert [t["role"] for t in ok(client.get("/api/v1/machines/lathe-1/tags", headers=planner))] == [
        "counter"
    ]
    ok(client.patch("/api/v1/machines/lathe-1", json={"ideal_cycle_s": 18.5}, headers=ADMIN))
    assert ok(client.get("/api/v1/machines/lathe-1", headers=planner))["ideal_cycle_s"] == 18.5
    routing = [{"step_no": 1, "name": "stamp"}, {"step_no": 1, "name": "again"}]
    assert (
        client.patch("/api/v1/products/PIN-7", json={"routing": routing}, headers=planner).status_code == 422
    )
    product = ok(
        client.patch(
            "/api/v1/products/PIN-7", json={"routing": routing[:1], "name": "Pin 7"}, headers=planner
        )
    )
    assert product["name"] == "Pin 7" and [s["name"] for s in product["routing"]] == ["stamp"]
    ok(client.patch("/api/v1/customers/suzhou", json={"contact": "Ms. Zhao"}, headers=planner))
    assert (
        ok(client.get("/api/v1/customers", params={"q": "SUZ"}, headers=planner))["items"][0]["contact"]
        == "Ms. Zhao"
    )
    reasons = ok(client.get("/api/v1/reason-codes", params={"kind": "scrap"}, headers=plant.as_("operator")))
    assert [(r["code"], r["label_zh"]) for r in reasons["items"]] == [("burr", "毛刺")]
    ok(client.patch("/api/v1/sites/demo", json={"timezone": "Asia/Shanghai"}, headers=ADMIN))
    assert ok(client.get("/api/v1/sites", headers=planner))["items"][0]["timezone"] == "Asia/Shanghai"

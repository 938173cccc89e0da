"""Work orders through the API on both engines: CRUD, routing copy, status transitions, runs, roles."""

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, select

from server.models.audit import AuditLog
from server.models.production import OperationRun
from tests.server.factory import build_plant, make_order, ok, running_order


def test_create_get_update_list(client: TestClient, engine: Engine) -> None:
    plant = build_plant(client)
    order = make_order(plant, "WO-2311-042", 5000, due_date="2026-12-01", priority=5)
    assert order["status"] == "draft"
    assert [(op["step_no"], op["name"], op["planned_qty"]) for op in order["operations"]] == [
        (10, "turn", 5000), (20, "pack", 5000)
    ]  # fmt: skip
    make_order(plant, "WO-2311-043", 10, customer="ningbo")
    pin = {"number": "WO-PIN-1", "product": "PIN-7", "quantity": 7}
    assert (
        len(ok(client.post("/api/v1/work-orders", json=pin, headers=plant.as_("planner")), 201)["operations"])
        == 1
    )
    updated = ok(
        client.patch("/api/v1/work-orders/WO-2311-042", json={"quantity": 6000}, headers=plant.as_("planner"))
    )
    assert updated["quantity"] == 6000 and updated["operations"][0]["planned_qty"] == 6000
    listing = ok(
        client.get("/api/v1/work-orders", params={"customer": "ningbo"}, headers=plant.as_("operator"))
    )
    assert [o["number"] for o in listing["items"]] == ["WO-2311-043"] and listing["total"] == 1
    by_product = ok(client.get("/api/v1/work-orders", params={"q": "pin"}, headers=plant.as_("operator")))
    assert [o["number"] for o in by_product["items"]] == ["WO-PIN-1"]
    first = ok(
        client.get("/api/v1/work-orders", params={"limit": 1, "offset": 0}, headers=plant.as_("operator"))
    )
    assert first["total"] == 3 and first["items"][0]["number"] == "WO-2311-042"  # highest priority first
    assert client.post("/api/v1/work-orders", json=pin, headers=plant.as_("planner")).status_code == 409
    assert client.get("/api/v1/work-orders/NOPE", headers=plant.as_("planner")).status_code == 404
    for bad in ("W 1!", "WO/1", "-WO"):  # a number is a path segment of the order's URLs
        refused = client.post("/api/v1/work-orders", json=pin | {"number": bad}, headers=plant.as_("planner"))
        assert refused.status_code == 422 and refused.json()["detail"][0]["type"] == "string_pattern_mismatch"
    with Session(engine) as session:
        actions = session.exec(select(AuditLog.action).where(AuditLog.entity == "WorkOrder")).all()
    assert "create" in actions and "update" in actions


def test_status_transitions_and_runs(client: TestClient, engine: Engine) -> None:
    plant = build_plant(client)
    make_order(plant, "WO-1", 100)
    url = "/api/v1/work-orders/WO-1"
    planner, operator = plant.as_("planner"), plant.as_("operator")
    assert (
        client.post(f"{url}/start", json={"step_no": 10, "machine": "lathe-1"}, headers=operator).status_code
        == 409
    )
    assert client.post(f"{url}/close", headers=planner).status_code == 409  # draft -> closed is illegal
    assert ok(client.post(f"{url}/release", headers=planner))["status"] == "released"
    assert client.post(f"{url}/release", headers=planner).status_code == 200  # already there: no-op
    started = ok(client.post(f"{url}/start", json={"step_no": 10, "machine": "lathe-1"}, headers=operator))
    assert started["status"] == "in_progress" and started["operations"][0]["status"] == "running"
    make_order(plant, "WO-2", 10)
    ok(client.post("/api/v1/work-orders/WO-2/release", headers=planner))
    busy = client.post(
        "/api/v1/work-orders/WO-2/start", json={"step_no": 10, "machine": "lathe-1"}, headers=operator
    )
    assert busy.status_code == 409 and "busy" in busy.json()["detail"]
    assert ok(client.post(f"{url}/pause", headers=operator))["status"] == "paused"
    assert ok(client.post(f"{url}/resume", json={"step_no": 10}, headers=operator))["status"] == "in_progress"
    ok(client.post(f"{url}/start", json={"step_no": 20, "machine": "pack-1"}, headers=operator))
    ok(client.post(f"{url}/complete", json={"step_no": 10, "confirm_short": True}, headers=operator))
    assert ok(client.get(url, headers=operator))["status"] == "in_progress"
    done = ok(client.post(f"{url}/complete", json={"confirm_short": True}, headers=operator))
    assert done["status"] == "completed" and all(op["status"] == "done" for op in done["operations"])
    assert client.post(f"{url}/cancel", headers=planner).status_code == 409  # completed cannot be cancelled
    assert ok(client.post(f"{url}/close", headers=planner))["status"] == "closed"
    assert client.patch(url, json={"quantity": 5}, headers=planner).status_code == 409
    with Session(engine) as session:
        runs = session.exec(select(OperationRun).order_by(OperationRun.id)).all()
    assert len(runs) == 3 and all(r.end_ms is not None and r.end_ms >= r.start_ms for r in runs)
    cancelled = running_order(plant, "WO-3", 5)
    assert cancelled["status"] == "in_progress"
    assert client.post("/api/v1/work-orders/WO-2/cancel", headers=planner).json()["status"] == "cancelled"
    assert client.post("/api/v1/work-orders/WO-2/release", headers=planner).status_code == 409

"""Inspections against limits, the nonconformance flow, and lot genealogy forward and backward."""

import asyncio

from fastapi.testclient import TestClient

from server.core.events import InspectionRecorded, bus
from tests.server.factory import build_plant, make_order, ok, running_order


def test_inspection_limits_and_nonconformance(client: TestClient) -> None:
    plant = build_plant(client)
    running_order(plant, "WO-Q", 100)
    inspector = plant.as_("inspector")
    chars = [
        {"name": "diameter", "kind": "numeric", "nominal": 10.0, "lsl": 9.95, "usl": 10.05, "unit": "mm"},
        {"name": "surface", "kind": "attribute"},
    ]
    plan = {"product_id": 1, "step_no": 10, "name": "first article", "frequency": "first_article",
            "sample_size": 3, "characteristics": chars}  # fmt: skip
    created = ok(client.post("/api/v1/inspection-plans", json=plan, headers=inspector), 201)
    dia, surface = (c["id"] for c in created["characteristics"])
    bad_plan = plan | {"frequency": "every_n_parts"}
    assert client.post("/api/v1/inspection-plans", json=bad_plan, headers=inspector).status_code == 422
    values = [
        {"characteristic_id": dia, "sample_no": i, "value": v} for i, v in enumerate([10.0, 9.95, 10.05], 1)
    ]
    record = {"plan_id": created["id"], "work_order": "WO-Q", "step_no": 10,
              "values": [*values, {"characteristic_id": surface, "ok": True}]}  # fmt: skip
    passed = ok(client.post("/api/v1/inspections", json=record, headers=inspector), 201)
    assert passed["passed"] is True and all(v["passed"] for v in passed["values"])
    record["values"] = [*values[:2], {"characteristic_id": dia, "sample_no": 3, "value": 10.051},
                        {"characteristic_id": surface, "ok": True}]  # fmt: skip
    failed = ok(client.post("/api/v1/inspections", json=record, headers=inspector), 201)
    assert failed["passed"] is False and [v["passed"] for v in failed["values"]] == [True, True, False, True]
    record["values"] = values  # surface missing
    assert client.post("/api/v1/inspections", json=record, headers=inspector).status_code == 422
    record["values"] = [*values, {"characteristic_id": surface, "value": 1.0}]  # attribute needs ok
    assert client.post("/api/v1/inspections", json=record, headers=inspector).status_code == 422
    history = ok(
        client.get("/api/v1/inspections", params={"work_order": "WO-Q"}, headers=plant.as_("operator"))
    )
    assert [r["passed"] for r in history] == [True, False]
    ncs = ok(client.get("/api/v1/nonconformances", params={"work_order": "WO-Q"}, headers=inspector))["items"]
    assert len(ncs) == 1 and ncs[0]["inspection_id"] == failed["id"] and "diameter" in ncs[0]["description"]
    nc = f"/api/v1/nonconformances/{ncs[0]['id']}"
    assert client.post(f"{nc}/close", headers=inspector).status_code == 409  # open -> closed skips a step
    assert (
        client.post(f"{nc}/disposition", json={"disposition": "melt"}, headers=inspector).status_code == 422
    )
    done = ok(
        client.post(f"{nc}/disposition", json={"disposition": "rework", "note": "re-turn"}, headers=inspector)
    )
    assert (done["status"], done["disposition"], done["dispositioned_by"]) == (
        "dispositioned",
        "rework",
        "inspector1",
    )
    assert (
        client.post(f"{nc}/disposition", json={"disposition": "scrap"}, headers=inspector).status_code == 409
    )
    closed = ok(client.post(f"{nc}/close", headers=plant.as_("supervisor")))
    assert closed["status"] == "closed" and closed["closed_at"]
    manual = {"work_order_id": None, "lot_code": "STEEL-1", "quantity": 3, "description": "rust"}
    assert ok(client.post("/api/v1/nonconformances", json=manual, headers=inspector), 201)["status"] == "open"
    assert (
        client.post("/api/v1/nonconformances", json=manual, headers=plant.as_("operator")).status_code == 403
    )


def test_lot_genealogy(client: TestClient) -> None:
    plant = build_plant(client)
    op = plant.as_("operator")
    for code in ("STEEL-1", "STEEL-2", "BOX-1"):
        ok(
            client.post(
                "/api/v1/lots",
                json={"code": code, "material": code.split("-")[0], "quantity": 100},
                headers=op,
            ),
            201,
        )
    running_order(plant, "WO-1", 10)
    make_order(plant, "WO-2", 10)
    ok(client.post("/api/v1/work-orders/WO-2/release", headers=plant.as_("planner")))
    moves = [  # (order, consume|produce, lot, quantity, step)
        ("WO-1", "consume", "STEEL-1", 5, 10), ("WO-1", "consume", "STEEL-2", 1, None),
        ("WO-1", "produce", "BRK-L1", 10, 20), ("WO-2", "consume", "BRK-L1", 10, 10),
        ("WO-2", "consume", "BOX-1", 1, 20), ("WO-2", "produce", "KIT-L1", 10, 20),
    ]  # fmt: skip  # WO-2 runs no step yet: its operator (of both stations) names one
    for number, verb, lot, quantity, step in moves:
        body = {"lot_code": lot, "quantity": quantity} | ({"step_no": step} if step else {})
        ok(client.post(f"/api/v1/work-orders/{number}/{verb}", json=body, headers=op), 201)
    forward = ok(client.get("/api/v1/lots/STEEL-1/trace", params={"direction": "forward"}, headers=op))
    assert forward["work_orders"] == ["WO-1", "WO-2"]
    assert [(n["lot"], n["depth"], n["via_work_order"]) for n in forward["lots"]] == [
        ("BRK-L1", 1, "WO-1"), ("KIT-L1", 2, "WO-2")
    ]  # fmt: skip
    backward = ok(client.get("/api/v1/lots/KIT-L1/trace", params={"direction": "backward"}, headers=op))
    assert backward["work_orders"] == ["WO-2", "WO-1"]
    assert {(n["lot"], n["depth"]) for n in backward["lots"]} == {
        ("BRK-L1", 1),
        ("BOX-1", 1),
        ("STEEL-1", 2),
        ("STEEL-2", 2),
    }
    assert (
        ok(client.get("/api/v1/lots/BOX-1/trace", params={"direction": "backward"}, headers=op))["lots"] == []
    )
    assert client.get("/api/v1/lots/BOX-1/trace", params={"direction": "up"}, headers=op).status_code == 422
    assert client.get("/api/v1/lots/NOPE/trace", headers=op).status_code == 404


async def test_a_recorded_inspection_is_a_live_event(client: TestClient) -> None:
    """Pages following /live/events (the boss view's SPC and NC counts) refresh when an inspection lands."""
    plant = build_plant(client)
    running_order(plant, "WO-EV", 10)
    chars = [{"name": "width", "kind": "numeric", "nominal": 5.0, "lsl": 4.9, "usl": 5.1, "unit": "mm"}]
    plan = {"product_id": 1, "step_no": 10, "name": "patrol", "frequency": "first_article",
            "sample_size": 1, "characteristics": chars}  # fmt: skip
    created = ok(client.post("/api/v1/inspection-plans", json=plan, headers=plant.as_("inspector")), 201)
    values = [{"characteristic_id": created["characteristics"][0]["id"], "sample_no": 1, "value": 5.3}]
    record = {"plan_id": created["id"], "work_order": "WO-EV", "step_no": 10, "values": values}
    async with bus.subscribe() as events:
        ok(client.post("/api/v1/inspections", json=record, headers=plant.as_("inspector")), 201)
        event = await asyncio.wait_for(events.queue.get(), timeout=5)
    assert event == InspectionRecorded("WO-EV", passed=False)

"""Backflush from manual work reports (API, SQLite and PostgreSQL): each report consumes the BOM quantity
from the lots issued to the order, oldest first, scrap included; what is missing is caught up when more is
issued; the finished lot's backward genealogy names the consumed lots; shortages per order and upcoming."""

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, select

from server.domain import backflush
from server.models.materials import MaterialLot
from server.models.production import Operation, WorkOrder
from tests.server.factory import Plant, make_order, ok
from tests.server.test_stock import on_hand, receive, stocked_plant


def report(plant: Plant, number: str, step: int, good: int, scrap: int = 0) -> None:
    body = {"step_no": step, "good": good, "scrap": scrap} | ({"scrap_reason": "burr"} if scrap else {})
    ok(
        plant.client.post(f"/api/v1/work-orders/{number}/reports", json=body, headers=plant.as_("operator")),
        201,
    )


def issue(plant: Plant, lot: str, number: str, quantity: float | None = None) -> None:
    body = {"lot_code": lot, "work_order": number} | ({"quantity": quantity} if quantity else {})
    ok(plant.client.post("/api/v1/stock/issues", json=body, headers=plant.as_("operator")), 201)


def components(plant: Plant, number: str) -> dict[str, tuple[float, float, float]]:
    rows = ok(plant.client.get(f"/api/v1/work-orders/{number}/components", headers=plant.as_("operator")))
    return {c["material"]: (c["consumed"], c["issued"], c["short"]) for c in rows}


def test_reports_backflush_oldest_lot_first(client: TestClient) -> None:
    plant = stocked_plant(client)  # BRK-100: 0.25 kg STEEL-6 at step 10; 2 NUT-M6 (+5 %) at step 20
    receive(plant, "S-OLD", "STEEL-6", 8)
    receive(plant, "S-NEW", "STEEL-6", 20)
    receive(plant, "N-1", "NUT-M6", 100)
    make_order(plant, "WO-9", quantity=100, count_source="manual")
    ok(client.post("/api/v1/work-orders/WO-9/release", headers=plant.as_("planner")))
    short = components(plant, "WO-9")
    assert short == {"STEEL-6": (0, 0, 0), "NUT-M6": (0, 0, 110)}  # 100 x 2 x 1.05 = 210 needed, 100 in stock
    issue(plant, "S-NEW", "WO-9")
    issue(plant, "S-OLD", "WO-9")
    issue(plant, "N-1", "WO-9", 50)
    report(plant, "WO-9", 10, good=30, scrap=2)  # 32 x 0.25 = 8 kg: all of S-OLD (received first)
    report(plant, "WO-9", 10, good=10)  # 42 x 0.25 = 10.5 kg: 2.5 from S-NEW
    report(plant, "WO-9", 20, good=30)  # 60 nuts, 50 issued: 10 wait for more
    assert components(plant, "WO-9") == {"STEEL-6": (10.5, 17.5, 0), "NUT-M6": (50, 0, 110)}
    issue(plant, "N-1", "WO-9", 20)  # the 10 missing are caught up at once
    assert components(plant, "WO-9")["NUT-M6"] == (60, 10, 110)
    lots = {(b["lot"], b["location"]): b["quantity"] for b in on_hand(plant, "STEEL-6")["lots"]}
    assert lots == {("S-NEW", "wo:WO-9"): 17.5}  # S-OLD is used up: its zero balance is not listed
    consumed = ok(
        client.get("/api/v1/stock/moves", params={"work_order": "WO-9"}, headers=plant.as_("operator"))
    )
    assert [(m["lot"], m["quantity"]) for m in consumed["items"] if m["kind"] == "consume"] == [
        ("S-OLD", -8.0), ("S-NEW", -2.5), ("N-1", -50.0), ("N-1", -10.0),
    ]  # fmt: skip
    fg = ok(client.get("/api/v1/lots/FG-WO-9", headers=plant.as_("operator")))
    assert (fg["material"], fg["quantity"]) == ("BRK-100", 30)
    back = ok(
        client.get(
            "/api/v1/lots/FG-WO-9/trace", params={"direction": "backward"}, headers=plant.as_("operator")
        )
    )
    assert {(n["lot"], n["via_work_order"]) for n in back["lots"]} == {
        ("S-OLD", "WO-9"), ("S-NEW", "WO-9"), ("N-1", "WO-9"),
    }  # fmt: skip
    forward = ok(
        client.get("/api/v1/lots/S-OLD/trace", params={"direction": "forward"}, headers=plant.as_("operator"))
    )
    assert [n["lot"] for n in forward["lots"]] == ["FG-WO-9"]


def test_upcoming_shortages_share_stock_by_due_date(client: TestClient) -> None:
    plant = stocked_plant(client)
    receive(plant, "S-1", "STEEL-6", 30)
    receive(plant, "N-1", "NUT-M6", 1000)
    today = datetime.now(UTC).date()  # the test site's zone is UTC
    make_order(plant, "WO-LATE", quantity=100, due_date=str(today + timedelta(days=4)))  # 25 kg: 5 left
    make_order(plant, "WO-EARLY", quantity=100, due_date=str(today + timedelta(days=2)))  # 25 kg steel
    make_order(plant, "WO-FAR", quantity=100, due_date=str(today + timedelta(days=60)))  # not within 14 days
    rows = ok(client.get("/api/v1/shortages", params={"days": 14}, headers=plant.as_("planner")))
    assert [r["number"] for r in rows] == ["WO-EARLY", "WO-LATE"]
    by_order = {r["number"]: {c["material"]: c["short"] for c in r["components"]} for r in rows}
    assert by_order == {
        "WO-EARLY": {"STEEL-6": 0, "NUT-M6": 0},  # listed: covered, but nothing issued yet
        "WO-LATE": {"STEEL-6": 20, "NUT-M6": 0},
    }


def test_a_backflush_refusal_never_stops_the_counts(client: TestClient, engine: Engine) -> None:
    """Ingestion's hook: an order whose issued lot names no stock material (data broken by hand) keeps its
    machine counts; its backflush is skipped, logged, and done at a later count once the data is right."""
    plant = stocked_plant(client)
    receive(plant, "S-X", "STEEL-6", 10)
    make_order(plant, "WO-X", quantity=10)
    ok(client.post("/api/v1/work-orders/WO-X/release", headers=plant.as_("planner")))
    issue(plant, "S-X", "WO-X")
    with Session(engine) as session:
        lot = session.exec(select(MaterialLot).where(MaterialLot.code == "S-X")).one()
        lot.material = "GONE"
        op = session.exec(select(Operation).join(WorkOrder).where(WorkOrder.number == "WO-X")).first()
        assert op is not None
        op.machine_good = 4
        session.add_all([lot, op])
        session.commit()
        backflush.after_counts(session, [op.id or 0])
        session.commit()
        assert session.get(Operation, op.id).machine_good == 4  # type: ignore[union-attr]
        assert components(plant, "WO-X")["STEEL-6"][0] == 0  # nothing consumed
        lot.material = "STEEL-6"
        session.add(lot)
        session.commit()
        backflush.after_counts(session, [op.id or 0])
        session.commit()
    assert components(plant, "WO-X")["STEEL-6"][:2] == (1.0, 9.0)  # 4 x 0.25 kg, caught up

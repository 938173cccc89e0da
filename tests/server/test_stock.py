"""Materials, BOMs (API and CSV/XLSX import), the stock ledger (receipts, issues, returns, transfers,
adjustments), negative stock refused, a retried scan moving stock once, lot certificates checked like
uploads. Every test runs on SQLite and PostgreSQL."""

import io

from fastapi.testclient import TestClient
from openpyxl import Workbook

from tests.server.factory import Plant, build_plant, make_order, ok

STEEL = {"code": "STEEL-6", "name": "Steel bar 6 mm", "unit": "kg"}
NUT = {"code": "NUT-M6", "name": "Nut M6", "unit": "pcs"}


def stocked_plant(client: TestClient) -> Plant:
    """The test plant, two materials, BRK-100's BOM (0.25 kg steel at step 10, 2 nuts + 5 % at step 20)."""
    plant = build_plant(client)
    for body in (STEEL, NUT):
        ok(client.post("/api/v1/materials", json=body, headers=plant.as_("planner")), 201)
    lines = [
        {"step_no": 10, "material": "STEEL-6", "quantity_per_part": 0.25, "unit": "kg"},
        {"step_no": 20, "material": "NUT-M6", "quantity_per_part": 2, "scrap_allowance": 0.05},
    ]
    ok(client.put("/api/v1/products/BRK-100/bom/1", json={"lines": lines}, headers=plant.as_("planner")))
    return plant


def receive(plant: Plant, lot: str, material: str, quantity: float, **extra: object) -> list[dict]:  # type: ignore[type-arg]
    body = {"lot_code": lot, "material": material, "quantity": quantity} | extra
    return ok(plant.client.post("/api/v1/stock/receipts", json=body, headers=plant.as_("operator")), 201)  # type: ignore[return-value]


def on_hand(plant: Plant, material: str) -> dict:  # type: ignore[type-arg]
    return ok(plant.client.get(f"/api/v1/stock/on-hand/{material}", headers=plant.as_("operator")))


def test_bom_versions_and_the_order_copy(client: TestClient) -> None:
    plant = stocked_plant(client)
    planner = plant.as_("planner")
    bom = ok(client.get("/api/v1/products/BRK-100/bom", headers=planner))
    assert bom["version"] == 1 and [(x["step_no"], x["material"]) for x in bom["lines"]] == [
        (10, "STEEL-6"), (20, "NUT-M6"),
    ]  # fmt: skip
    make_order(plant, "WO-B1", quantity=200)
    v2 = [{"step_no": 10, "material": "STEEL-6", "quantity_per_part": 0.3, "unit": "kg"}]
    ok(client.put("/api/v1/products/BRK-100/bom/2", json={"lines": v2}, headers=planner))
    make_order(plant, "WO-B2", quantity=10)
    first = ok(client.get("/api/v1/work-orders/WO-B1/components", headers=planner))
    assert [(c["material"], c["bom_version"], c["required"]) for c in first] == [
        ("STEEL-6", 1, 50.0), ("NUT-M6", 1, 420.0),  # 200 x 0.25; 200 x 2 x 1.05
    ]  # fmt: skip
    second = ok(client.get("/api/v1/work-orders/WO-B2/components", headers=planner))
    assert [(c["material"], c["bom_version"], c["required"]) for c in second] == [("STEEL-6", 2, 3.0)]
    bad = [{"step_no": 30, "material": "NOPE", "quantity_per_part": 1}]
    refused = client.put("/api/v1/products/BRK-100/bom/3", json={"lines": bad}, headers=planner)
    assert refused.status_code == 422
    assert (
        "unknown material 'NOPE'" in refused.json()["detail"]
        and "no routing step 30" in refused.json()["detail"]
    )


def test_bom_import_csv_and_xlsx(client: TestClient) -> None:
    plant = stocked_plant(client)
    planner = plant.as_("planner")
    bad = "product,version,step_no,material,quantity_per_part\nBRK-100,1,10,STEEL-6,abc\nGONE,1,10,NUT-M6,1\n"
    files = {"file": ("bom.csv", bad.encode(), "text/csv")}
    result = client.post("/api/v1/boms/import", files=files, headers=planner)
    assert result.status_code == 422
    assert [(e["row"], e["field"]) for e in result.json()["errors"]] == [
        (2, "quantity_per_part"),
        (3, "product"),
    ]
    book = Workbook()
    sheet = book.active
    sheet.append(
        ["product", "version", "step_no", "material", "quantity_per_part", "unit", "scrap_allowance"]
    )
    sheet.append(["PIN-7", 1, 1, "STEEL-6", 0.05, "kg", 0.1])
    sheet.append(["PIN-7", 1, 1, "NUT-M6", 1, "pcs", None])
    data = io.BytesIO()
    book.save(data)
    files = {"file": ("bom.xlsx", data.getvalue(), "application/octet-stream")}
    assert ok(client.post("/api/v1/boms/import", files=files, headers=planner))["imported"] == 2
    bom = ok(client.get("/api/v1/products/PIN-7/bom", headers=planner))
    assert [(x["material"], x["quantity_per_part"], x["scrap_allowance"]) for x in bom["lines"]] == [
        ("NUT-M6", 1.0, 0.0), ("STEEL-6", 0.05, 0.1),
    ]  # fmt: skip


def test_ledger_moves_and_on_hand(client: TestClient) -> None:
    plant = stocked_plant(client)
    receive(plant, "S-1", "STEEL-6", 40, supplier="Baosteel", supplier_lot="BS-2026-118")
    receive(plant, "S-2", "STEEL-6", 25.5)
    make_order(plant, "WO-1", quantity=100)
    op, boss = plant.as_("operator"), plant.as_("supervisor")
    issued = ok(
        client.post("/api/v1/stock/issues", json={"lot_code": "S-1", "work_order": "WO-1"}, headers=op), 201
    )
    assert [(m["location"], m["quantity"], m["kind"]) for m in issued] == [
        ("WH", -40, "issue"),
        ("wo:WO-1", 40, "issue"),
    ]
    part = {"lot_code": "S-2", "work_order": "WO-1", "quantity": 5}
    ok(client.post("/api/v1/stock/issues", json=part, headers=op), 201)
    back = {"lot_code": "S-1", "work_order": "WO-1", "quantity": 12.5}
    ok(client.post("/api/v1/stock/returns", json=back, headers=op), 201)
    move = {"lot_code": "S-2", "quantity": 10, "from_location": "WH", "to_location": "LINE-A"}
    ok(client.post("/api/v1/stock/transfers", json=move, headers=op), 201)
    count = {"lot_code": "S-2", "location": "LINE-A", "quantity": -0.5, "reason": "cycle count"}
    assert client.post("/api/v1/stock/adjustments", json=count, headers=op).status_code == 403
    ok(client.post("/api/v1/stock/adjustments", json=count, headers=boss), 201)
    steel = on_hand(plant, "STEEL-6")
    assert {(b["lot"], b["location"]): b["quantity"] for b in steel["lots"]} == {
        ("S-1", "WH"): 12.5, ("S-1", "wo:WO-1"): 27.5, ("S-2", "WH"): 10.5, ("S-2", "LINE-A"): 9.5,
        ("S-2", "wo:WO-1"): 5.0,
    }  # fmt: skip
    assert (steel["on_hand"], steel["issued"], steel["unit"]) == (32.5, 32.5, "kg")
    everything = ok(client.get("/api/v1/stock/on-hand", headers=op))
    assert [(t["material"], t["on_hand"], t["issued"]) for t in everything] == [
        ("NUT-M6", 0, 0),
        ("STEEL-6", 32.5, 32.5),
    ]
    ledger = ok(client.get("/api/v1/stock/moves", params={"lot": "S-2"}, headers=op))
    assert [m["kind"] for m in ledger["items"]] == [
        "receipt",
        "issue",
        "issue",
        "transfer",
        "transfer",
        "adjust",
    ]
    assert ledger["items"][-1]["reason"] == "cycle count" and ledger["items"][-1]["actor"] == "supervisor1"
    audit = ok(client.get("/api/v1/audit", params={"entity": "StockMove"}, headers=plant.as_("admin")))
    assert audit["total"] == len(ok(client.get("/api/v1/stock/moves", headers=op))["items"])


def test_negative_stock_refused_unless_allowed(client: TestClient) -> None:
    plant = stocked_plant(client)
    receive(plant, "N-1", "NUT-M6", 100)
    make_order(plant, "WO-2")
    op = plant.as_("operator")
    too_much = {"lot_code": "N-1", "work_order": "WO-2", "quantity": 150}
    refused = client.post("/api/v1/stock/issues", json=too_much, headers=op)
    assert refused.status_code == 409
    assert refused.json()["detail"] == "not enough stock: lot N-1 has 100.0 pcs at WH, 150.0 needed"
    assert on_hand(plant, "NUT-M6")["on_hand"] == 100
    assert ok(client.get("/api/v1/stock/moves", params={"lot": "N-1"}, headers=op))["total"] == 1
    ok(client.patch("/api/v1/materials/NUT-M6", json={"allow_negative": True}, headers=plant.as_("planner")))
    ok(client.post("/api/v1/stock/issues", json=too_much, headers=op), 201)
    assert on_hand(plant, "NUT-M6")["on_hand"] == -50
    bad_code = {"lot_code": "N 2/x", "material": "NUT-M6", "quantity": 1}  # a lot code is a URL path segment
    assert client.post("/api/v1/stock/receipts", json=bad_code, headers=op).status_code == 422
    unknown = client.post("/api/v1/stock/issues", json={"lot_code": "X-9", "work_order": "WO-2"}, headers=op)
    assert unknown.status_code == 404 and unknown.json()["detail"] == "unknown lot code 'X-9'"


def test_the_same_scan_posted_twice_moves_once(client: TestClient) -> None:
    plant = stocked_plant(client)
    receive(plant, "S-7", "STEEL-6", 30)
    make_order(plant, "WO-3")
    headers = plant.as_("operator") | {"Idempotency-Key": "scan-3f2a"}
    body = {"lot_code": "S-7", "work_order": "WO-3", "quantity": 20}
    first = ok(client.post("/api/v1/stock/issues", json=body, headers=headers), 201)
    again = ok(client.post("/api/v1/stock/issues", json=body, headers=headers), 201)
    assert again == first
    steel = on_hand(plant, "STEEL-6")
    assert (steel["on_hand"], steel["issued"]) == (10, 20)
    other = client.post("/api/v1/stock/issues", json=body | {"quantity": 5}, headers=headers)
    assert other.status_code == 422


def test_lot_certificate_checked_like_uploads(client: TestClient) -> None:
    plant = stocked_plant(client)
    receive(plant, "S-9", "STEEL-6", 1)
    op = plant.as_("operator")
    fake = {"file": ("cert.pdf", b"<html><script>alert(1)</script>", "application/pdf")}
    refused = client.put("/api/v1/lots/S-9/certificate", files=fake, headers=op)
    assert refused.status_code == 422 and "not the image or PDF" in refused.json()["detail"]
    pdf = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
    ok_put = client.put(
        "/api/v1/lots/S-9/certificate", files={"file": ("mill.pdf", pdf, "application/pdf")}, headers=op
    )
    assert ok_put.status_code == 204
    got = client.get("/api/v1/lots/S-9/certificate", headers=op)
    assert got.content == pdf and got.headers["content-type"] == "application/pdf"
    assert got.headers["x-content-type-options"] == "nosniff"

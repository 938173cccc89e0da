"""Sales orders: XLSX/CSV import (row errors, all or nothing, dry run), a line split into work orders whose
quantities must add up, and the status and progress rolled up from the work orders."""

import csv
import io
from datetime import datetime

from fastapi.testclient import TestClient
from openpyxl import Workbook

from tests.server.factory import ADMIN, build_plant, ok

HEADER = ["customer", "po_number", "po_date", "product", "quantity", "due_date", "unit_price", "notes"]
URL = "/api/v1/sales-orders"


def _xlsx(rows: list[list[object]]) -> bytes:
    book = Workbook()
    book.active.append(HEADER)
    for row in rows:
        book.active.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _upload(client: TestClient, data: bytes, name: str, **params: object) -> tuple[int, dict]:  # type: ignore[type-arg]
    response = client.post(f"{URL}/import", files={"file": (name, data)}, params=params, headers=ADMIN)
    return response.status_code, response.json()


def test_import_split_and_roll_up(client: TestClient) -> None:
    plant = build_plant(client)
    rows: list[list[object]] = [
        ["suzhou", "PO-8841", datetime(2026, 11, 20), "BRK-100", 500, datetime(2026, 12, 20), 1.25, "rush"],
        ["suzhou", "PO-8841", None, "PIN-7", 300, "2026-12-22", None, None],
        ["suzhou", "PO-8841", None, "BRK-100", 200, "2026-12-30", "1.2", None],
        ["ghost", "PO-1", None, "NOPE", "many", None, "-1", None],
    ]
    status, result = _upload(client, _xlsx(rows), "po.xlsx")
    assert status == 422 and result["imported"] == 0
    problems = {(e["row"], e["field"]) for e in result["errors"]}
    assert {(5, "quantity"), (5, "unit_price")} <= problems
    assert ok(client.get(URL, headers=ADMIN))["total"] == 0
    rows[3] = ["ghost", "PO-1", None, "NOPE", 1, None, None, None]
    status, result = _upload(client, _xlsx(rows), "po.xlsx")
    assert status == 422 and {(e["row"], e["field"]) for e in result["errors"]} == {
        (5, "customer"),
        (5, "product"),
    }
    status, result = _upload(client, _xlsx(rows[:3]), "po.xlsx", dry_run=True)
    assert (status, result["imported"], ok(client.get(URL, headers=ADMIN))["total"]) == (200, 0, 0)
    status, result = _upload(client, _xlsx(rows[:3]), "po.xlsx")
    assert (status, result["imported"]) == (200, 3)
    status, again = _upload(client, _xlsx(rows[:3]), "po.xlsx")
    assert status == 422 and {e["field"] for e in again["errors"]} == {"po_number"}

    [so] = ok(client.get(URL, headers=plant.as_("supervisor")))["items"]
    assert (so["po_number"], so["po_date"], so["customer"], so["notes"], so["status"]) == (
        "PO-8841", "2026-11-20", "suzhou", "rush", "open",
    )  # fmt: skip
    fields = ("line_no", "product", "quantity", "due_date", "unit_price")
    assert [tuple(ln[f] for f in fields) for ln in so["lines"]] == [
        (1, "BRK-100", 500, "2026-12-20", "1.25"), (2, "PIN-7", 300, "2026-12-22", None),
        (3, "BRK-100", 200, "2026-12-30", "1.2"),
    ]  # fmt: skip
    assert client.get(URL, headers=plant.as_("operator")).status_code == 403

    split = f"{URL}/{so['id']}/lines/1/work-orders"
    wrong = client.post(
        split, json={"orders": [{"quantity": 300}, {"quantity": 100}]}, headers=plant.as_("planner")
    )
    assert wrong.status_code == 422 and "400" in wrong.text and "500" in wrong.text
    made = ok(client.post(split, json={"orders": [{"quantity": 300}, {"number": "WO-L1-B", "quantity": 200}]},
                          headers=plant.as_("planner")), 201)  # fmt: skip
    assert [(o["number"], o["quantity"], o["customer"], o["due_date"]) for o in made] == [
        (f"SO{so['id']}-1-1", 300, "suzhou", "2026-12-20"), ("WO-L1-B", 200, "suzhou", "2026-12-20"),
    ]  # fmt: skip
    more = client.post(split, json={"orders": [{"quantity": 1}]}, headers=plant.as_("planner"))
    assert more.status_code == 422  # nothing left to plan
    line2 = {"orders": [{"number": "WO-L2", "quantity": 300}]}
    ok(client.post(f"{URL}/{so['id']}/lines/2/work-orders", json=line2, headers=plant.as_("planner")), 201)

    so = ok(client.get(f"{URL}/{so['id']}", headers=ADMIN))
    assert [ln["status"] for ln in so["lines"]] == ["planned", "planned", "open"] and so["status"] == "open"
    number = f"SO{so['id']}-1-1"
    ok(client.post(f"/api/v1/work-orders/{number}/release", headers=plant.as_("planner")))
    ok(client.post(f"/api/v1/work-orders/{number}/start", json={"step_no": 10, "machine": "lathe-1"},
                   headers=plant.as_("operator")))  # fmt: skip
    ok(
        client.patch(
            f"/api/v1/work-orders/{number}", json={"count_source": "manual"}, headers=plant.as_("planner")
        )
    )
    for step in (10, 20):
        ok(client.post(f"/api/v1/work-orders/{number}/reports", json={"step_no": step, "good": 120},
                       headers=plant.as_("operator")), 201)  # fmt: skip
    so = ok(client.get(f"{URL}/{so['id']}", headers=ADMIN))
    line = so["lines"][0]
    assert (line["status"], line["planned"], line["good"], line["percent"]) == (
        "in_production",
        500,
        120,
        24.0,
    )
    assert [(w["number"], w["good"]) for w in line["work_orders"]] == [(number, 120), ("WO-L1-B", 0)]
    assert so["status"] == "in_production"


def test_csv_import_groups_rows_by_po(client: TestClient) -> None:
    build_plant(client)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(HEADER)
    writer.writerows([
        ["ningbo", "NB-1", "", "PIN-7", "10", "", "", ""],
        ["suzhou", "NB-1", "", "PIN-7", "20", "", "", ""],
        ["ningbo", "NB-1", "", "BRK-100", "30", "", "0.5", ""],
    ])  # fmt: skip
    status, result = _upload(client, buffer.getvalue().encode(), "po.csv")
    assert (status, result["imported"]) == (200, 3)
    orders = ok(client.get(URL, headers=ADMIN))["items"]
    shape = sorted((o["customer"], [(ln["line_no"], ln["quantity"]) for ln in o["lines"]]) for o in orders)
    assert shape == [("ningbo", [(1, 10), (2, 30)]), ("suzhou", [(1, 20)])]

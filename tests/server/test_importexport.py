"""CSV/XLSX import (row errors, all or nothing, dry run) and export round trips."""

import csv
import io
from datetime import datetime
from pathlib import Path

from fastapi.testclient import TestClient
from openpyxl import Workbook, load_workbook

from server.core.services import services_of
from server.main import create_app
from tests.server.factory import ADMIN, build_plant, make_order, ok

HEADER = ["number", "product", "customer", "quantity", "due_date", "priority", "count_source", "notes"]


def _csv(rows: list[list[object]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(HEADER)
    writer.writerows(rows)
    return buffer.getvalue().encode()


def _upload(client: TestClient, data: bytes, name: str, **params: object) -> tuple[int, dict]:  # type: ignore[type-arg]
    response = client.post(
        "/api/v1/work-orders/import", files={"file": (name, data)}, params=params, headers=ADMIN
    )
    return response.status_code, response.json()


def test_import_row_errors_import_nothing(client: TestClient) -> None:
    build_plant(client)
    make_order_rows = [
        ["WO-I-1", "BRK-100", "suzhou", 100, "2026-12-01", 1, "machine", "first"],
        ["WO-I-2", "NOPE", "", 5, "", "", "", ""],
        ["WO-I-3", "PIN-7", "ghost", "many", "2026-13-40", "", "manual", ""],
        ["WO-I-1", "PIN-7", "", 1, "", "", "", ""],
    ]
    status, result = _upload(client, _csv(make_order_rows), "orders.csv")
    assert status == 422 and result["imported"] == 0 and result["rows"] == 4
    problems = {(e["row"], e["field"]) for e in result["errors"]}
    assert {(3, "product"), (4, "quantity"), (4, "due_date"), (5, "number")} <= problems
    assert ok(client.get("/api/v1/work-orders", headers=ADMIN))["total"] == 0
    good_rows = [make_order_rows[0], ["WO-I-2", "PIN-7", "", 5, "", "", "manual", ""]]
    status, result = _upload(client, _csv(good_rows), "orders.csv", dry_run=True)
    assert status == 200 and result == {"dry_run": True, "rows": 2, "imported": 0, "errors": []}
    assert ok(client.get("/api/v1/work-orders", headers=ADMIN))["total"] == 0
    status, result = _upload(client, _csv(good_rows), "orders.csv")
    assert status == 200 and result["imported"] == 2
    order = ok(client.get("/api/v1/work-orders/WO-I-1", headers=ADMIN))
    assert (order["due_date"], order["customer"], len(order["operations"])) == ("2026-12-01", "suzhou", 2)
    status, result = _upload(client, _csv(good_rows), "orders.csv")
    assert status == 422 and {e["field"] for e in result["errors"]} == {"number"}


def test_xlsx_import_and_export_round_trip(client: TestClient, tmp_path: Path) -> None:
    plant = build_plant(client)
    book = Workbook()
    book.active.append(HEADER)
    book.active.append(["WO-X-1", "BRK-100", "ningbo", 250, "2026-11-30", 3, "machine", "中文备注"])
    book.active.append(["WO-X-2", "PIN-7", None, 40, None, None, None, None])
    book.active.append(["WO-X-3", "PIN-7", None, -1, None, None, None, None])
    buffer = io.BytesIO()
    book.save(buffer)
    status, result = _upload(client, buffer.getvalue(), "orders.xlsx")
    assert status == 422 and [(e["row"], e["field"]) for e in result["errors"]] == [(4, "quantity")]
    book.active.delete_rows(4)
    buffer = io.BytesIO()
    book.save(buffer)
    assert _upload(client, buffer.getvalue(), "orders.xlsx")[1]["imported"] == 2
    make_order(plant, "WO-X-0", 9)
    exported = client.get("/api/v1/work-orders/export", params={"format": "xlsx"}, headers=ADMIN)
    assert exported.status_code == 200
    sheet = load_workbook(io.BytesIO(exported.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:8] == tuple(HEADER) and rows[0][8] == "status"
    by_number = {r[0]: r for r in rows[1:]}
    assert by_number["WO-X-1"][1:8] == (
        "BRK-100",
        "ningbo",
        250,
        datetime(2026, 11, 30),
        3,
        "machine",
        "中文备注",
    )
    assert set(by_number) == {"WO-X-0", "WO-X-1", "WO-X-2"}
    csv_export = client.get("/api/v1/work-orders/export", params={"format": "csv", "q": "X-1"}, headers=ADMIN)
    assert [r["number"] for r in csv.DictReader(io.StringIO(csv_export.text))] == ["WO-X-1"]
    # round trip: the CSV export imports into an empty factory and exports the same again
    full = client.get("/api/v1/work-orders/export", params={"format": "csv"}, headers=ADMIN).content
    here = services_of(client.app).settings  # type: ignore[arg-type]
    settings = here.model_copy(update={"database_url": f"sqlite:///{tmp_path / 'b.db'}"})
    with TestClient(create_app(settings)) as other:
        build_plant(other)
        assert _upload(other, full, "export.csv")[1]["imported"] == 3
        assert (
            other.get("/api/v1/work-orders/export", params={"format": "csv"}, headers=ADMIN).content == full
        )


def test_chinese_excel_csv_and_xlsx_serial_dates(client: TestClient) -> None:
    """A CSV saved by Chinese Excel (GBK, dates as 2026/12/25 and 2026年12月25日), and an XLSX whose due date
    is a bare serial number (a cell without a date format)."""
    build_plant(client)
    rows = [["WO-GBK-1", "BRK-100", "suzhou", 10, "2026/12/25", "", "manual", "客户加急"],
            ["WO-GBK-2", "PIN-7", "", 5, "2027年1月5日", "", "manual", ""]]  # fmt: skip
    text = _csv(rows).decode()
    status, result = _upload(client, text.encode("gbk"), "订单.csv")
    assert status == 200 and result["imported"] == 2, result
    first = ok(client.get("/api/v1/work-orders/WO-GBK-1", headers=ADMIN))
    assert (first["due_date"], first["notes"]) == ("2026-12-25", "客户加急")
    assert ok(client.get("/api/v1/work-orders/WO-GBK-2", headers=ADMIN))["due_date"] == "2027-01-05"
    book = Workbook()
    sheet = book.active
    sheet.append(HEADER)
    sheet.append(["WO-XS-1", "PIN-7", "", 3, 46381, None, "manual", None])
    buffer = io.BytesIO()
    book.save(buffer)
    status, result = _upload(client, buffer.getvalue(), "orders.xlsx")
    assert status == 200 and result["imported"] == 1, result
    assert ok(client.get("/api/v1/work-orders/WO-XS-1", headers=ADMIN))["due_date"] == "2026-12-25"

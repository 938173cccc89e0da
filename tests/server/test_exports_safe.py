"""Exports that open safely in Excel/WPS (docs/reliability.md, case H5): text that a spreadsheet could run
as a formula is neutralised in CSV (a leading ') and is a text cell in XLSX, in every export."""

import csv
import io

from fastapi.testclient import TestClient
from openpyxl import Workbook, load_workbook

from server.domain.sheets import TRIGGERS, csv_cell, xlsx_append
from tests.server.factory import ADMIN, build_plant, ok, running_order

PAYLOAD = "=cmd|' /C calc'!A0"
HOSTILE = [PAYLOAD, "+1+1", "-2+3", "@SUM(A1:A9)", "\t=1", "\r=1", "＝1+1", "＋1", "－1", "＠SUM(A1)"]
XML_READ = [text.replace("\r", "\n") for text in HOSTILE]  # XML reads a lone CR back as LF
HEADER = ["number", "product", "customer", "quantity", "due_date", "priority", "count_source", "notes"]


def test_every_trigger_is_neutralised_and_numbers_stay_numbers() -> None:
    assert {text[0] for text in HOSTILE} == set(TRIGGERS)
    assert [csv_cell(text) for text in HOSTILE] == ["'" + text for text in HOSTILE]
    assert [csv_cell(v) for v in (-5, 2.5, None, "plain", "a=b", "")] == [-5, 2.5, None, "plain", "a=b", ""]
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    xlsx_append(sheet, [*HOSTILE, -5])
    buffer = io.BytesIO()
    book.save(buffer)
    row = next(load_workbook(io.BytesIO(buffer.getvalue())).active.iter_rows())  # type: ignore[union-attr]
    assert [c.data_type for c in row] == ["s"] * len(HOSTILE) + ["n"]
    assert [c.value for c in row] == [*XML_READ, -5]


def test_imported_notes_come_back_neutralised(client: TestClient) -> None:
    build_plant(client)
    rows = [[f"WO-F-{i}", "PIN-7", "", 5, "", "", "manual", text] for i, text in enumerate(HOSTILE)]
    buffer = io.StringIO()
    csv.writer(buffer).writerows([HEADER, *rows])
    answer = client.post("/api/v1/work-orders/import", files={"file": ("orders.csv", buffer.getvalue())},
                         headers=ADMIN)  # fmt: skip
    assert ok(answer)["imported"] == len(HOSTILE)
    exported = client.get("/api/v1/work-orders/export", params={"format": "csv"}, headers=ADMIN)
    notes = {r["number"]: r["notes"] for r in csv.DictReader(io.StringIO(exported.text, newline=""))}
    assert notes == {f"WO-F-{i}": "'" + text.strip() for i, text in enumerate(HOSTILE)}  # import strips
    xlsx = client.get("/api/v1/work-orders/export", params={"format": "xlsx"}, headers=ADMIN)
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    assert sheet is not None
    cells = {row[0].value: row[7] for row in sheet.iter_rows(min_row=2)}
    assert {n: (c.value, c.data_type) for n, c in cells.items()} == {
        f"WO-F-{i}": (text.strip(), "s") for i, text in enumerate(HOSTILE)
    }


def test_a_reason_label_never_becomes_a_formula_in_the_scrap_report(client: TestClient) -> None:
    plant = build_plant(client)
    label = '=HYPERLINK("http://evil.example/x","click")'
    reason = {"kind": "scrap", "code": "evil", "label_zh": label, "label_en": label}
    ok(client.post("/api/v1/reason-codes", json=reason, headers=ADMIN), 201)
    running_order(plant, "WO-S", 100)
    report = {"good": 3, "scrap": 2, "scrap_reason": "evil"}
    ok(client.post("/api/v1/work-orders/WO-S/reports", json=report, headers=plant.as_("supervisor")), 201)
    params = {"format": "xlsx", "lang": "en"}
    xlsx = client.get("/api/v1/reports/scrap", params=params, headers=ADMIN)
    assert xlsx.status_code == 200, xlsx.text
    book = load_workbook(io.BytesIO(xlsx.content))
    found = [c for ws in book.worksheets for row in ws.iter_rows() for c in row if c.value == label]
    assert found and all(c.data_type == "s" for c in found)
    assert not any(c.data_type == "f" for ws in book.worksheets for row in ws.iter_rows() for c in row)
    text = client.get("/api/v1/reports/scrap", params=params | {"format": "csv"}, headers=ADMIN).text
    cells = [c for row in csv.reader(io.StringIO(text.lstrip("\ufeff"))) for c in row]
    assert "'" + label in cells and label not in cells

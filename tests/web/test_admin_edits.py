"""Editing on the admin pages (issue 13) over HTTP with an admin's session: a reason code's labels and its
use, a product's routing (the stations of kept steps stay), a shift changed and removed; each audit-logged,
a malformed form answered with a clear error that changes nothing. Imports of customers (a GBK CSV) and of
products with routings (XLSX): row errors import nothing, a clean file is previewed, written on confirming."""

import io
from collections.abc import Iterator

import httpx
import pytest
from openpyxl import Workbook
from sqlmodel import Session, col, select

from server.domain import catalog, reasons
from server.models.audit import AuditLog
from server.models.catalog import Customer, Product, ReasonCode
from server.models.plant import Line, Station
from server.models.shifts import Shift, ShiftBreak
from tests.web.conftest import LiveServer


@pytest.fixture(scope="module")
def admin(live: LiveServer) -> Iterator[httpx.Client]:
    token = live.plant.as_("admin")["Authorization"].split()[1]
    headers = {"Origin": live.base, "Accept-Language": "en"}
    with httpx.Client(base_url=live.base, cookies={"takt_session": token}, headers=headers) as client:
        yield client


def _audited(live: LiveServer, entity: str, action: str) -> int:
    with Session(live.engine) as session:
        stmt = select(AuditLog).where(AuditLog.entity == entity, AuditLog.action == action)
        return len(session.exec(stmt).all())


def test_a_reason_code_is_relabelled_and_taken_out_of_use(live: LiveServer, admin: httpx.Client) -> None:
    body = {"kind": "downtime", "code": "tool_wait", "label_zh": "等刀", "label_en": "Tool wait"}
    assert admin.post("/admin/reasons", data=body).status_code == 303
    form = {"label_zh": "等待刀具", "label_en": "Waiting for tools"}  # the box unticked: out of use
    assert admin.post("/admin/reasons/downtime/tool_wait", data=form).status_code == 303
    with Session(live.engine) as session:
        row = session.exec(select(ReasonCode).where(ReasonCode.code == "tool_wait")).one()
        assert (row.label_zh, row.label_en, row.active) == ("等待刀具", "Waiting for tools", False)
    with Session(live.engine) as session:  # the operators' list (the station's dialogs) leaves it out
        assert "tool_wait" not in dict(reasons.names(session, "downtime", "en"))
    assert admin.post("/admin/reasons/downtime/tool_wait", data=form | {"active": "on"}).status_code == 303
    assert _audited(live, "ReasonCode", "update") >= 2
    assert admin.post("/admin/reasons/downtime/nope", data=form).status_code == 404


def test_a_products_routing_is_changed_and_its_stations_stay(live: LiveServer, admin: httpx.Client) -> None:
    with Session(live.engine) as session:
        product = session.exec(select(Product).where(Product.code == "BRK-100")).one()
        before = {s.step_no: s.station_id for s in catalog.routing_of(session, product.id or 0)}
    page = admin.get("/admin/products/BRK-100").text
    assert 'id="edit-product"' in page and "10 " in page
    routing = "10 turn lathe 45\n20 pack - 12\n30 inspect"
    form = {"name": "Bracket 100", "unit": "pcs", "routing": routing}
    assert admin.post("/admin/products/BRK-100", data=form).status_code == 303
    with Session(live.engine) as session:
        product = session.exec(select(Product).where(Product.code == "BRK-100")).one()
        steps = {s.step_no: s for s in catalog.routing_of(session, product.id or 0)}
    assert product.name == "Bracket 100" and sorted(steps) == [10, 20, 30]
    assert steps[10].ideal_cycle_s == 45 and steps[10].machine_kind == "lathe"
    assert steps[20].machine_kind is None and steps[20].ideal_cycle_s == 12
    assert steps[10].station_id == before.get(10)  # kept
    bad = admin.post("/admin/products/BRK-100", data=form | {"routing": "turn lathe"})
    assert bad.status_code == 422 and "routing line 1" in bad.text
    assert _audited(live, "Product", "routing") >= 1


def test_a_shift_is_changed_then_removed(live: LiveServer, admin: httpx.Client) -> None:
    assert (
        admin.post("/admin/shifts", data={"lines": "Late 14:00-22:00 1-5 break 18:00-18:30"}).status_code
        == 303
    )
    with Session(live.engine) as session:
        late = session.exec(select(Shift).where(Shift.name == "Late")).one()
    page = admin.get("/admin/shifts").text
    assert 'value="Late 14:00-22:00 1,2,3,4,5 break 18:00-18:30"' in page
    changed = admin.post(f"/admin/shifts/{late.id}", data={"line": "Late 15:00-23:00 1-6"})
    assert changed.status_code == 303
    with Session(live.engine) as session:
        row = session.get(Shift, late.id)
        breaks = session.exec(select(ShiftBreak).where(col(ShiftBreak.shift_id) == late.id)).all()
    assert row is not None and (row.start_local.hour, row.end_local.hour, row.days) == (15, 23, "1,2,3,4,5,6")
    assert breaks == []
    assert admin.post(f"/admin/shifts/{late.id}", data={"line": "Late 25:00"}).status_code == 422
    assert admin.post(f"/admin/shifts/{late.id}/delete").status_code == 303
    with Session(live.engine) as session:
        assert session.get(Shift, late.id) is None
    assert _audited(live, "Shift", "delete") == 1


def _confirm(admin: httpx.Client, preview: httpx.Response, action: str, fmt: str) -> httpx.Response:
    encoded = preview.text.split('name="data" value="', 1)[1].split('"', 1)[0]
    return admin.post(action, data={"data": encoded, "fmt": fmt})


def test_customers_from_a_gbk_csv_previewed_then_confirmed(live: LiveServer, admin: httpx.Client) -> None:
    bad = "code,name,contact\r\nsuzhou,重复,王\r\nnb,,李\r\n"  # a taken code; no name
    refused = admin.post(
        "/admin/products/import/customers", files={"file": ("c.csv", bad.encode("gbk"), "text/csv")}
    )
    assert (
        refused.status_code == 422
        and "customer suzhou already exists" in refused.text
        and "name" in refused.text
    )
    good = "code,name,contact\r\nnb-auto,宁波汽配,陈经理 138\r\nxm-elec,厦门电子,\r\n"
    preview = admin.post(
        "/admin/products/import/customers", files={"file": ("客户.csv", good.encode("gbk"), "text/csv")}
    )
    assert preview.status_code == 200 and "宁波汽配" in preview.text
    with Session(live.engine) as session:
        assert session.exec(select(Customer).where(Customer.code == "nb-auto")).first() is None  # not yet
    done = _confirm(admin, preview, "/admin/products/import/customers/confirm", "csv")
    assert done.status_code == 200 and "Imported 2 customers." in done.text
    with Session(live.engine) as session:
        row = session.exec(select(Customer).where(Customer.code == "nb-auto")).one()
    assert (row.name, row.contact) == ("宁波汽配", "陈经理 138")


def test_products_with_routings_from_xlsx_previewed_then_confirmed(
    live: LiveServer, admin: httpx.Client
) -> None:
    header = ["product_code", "product_name", "unit", "step_no", "step_name", "machine_kind", "ideal_cycle_s",
              "station"]  # fmt: skip

    def xlsx(rows: list[list[object]]) -> bytes:
        book = Workbook()
        sheet = book.active
        assert sheet is not None
        for row in [header, *rows]:
            sheet.append(row)
        out = io.BytesIO()
        book.save(out)
        return out.getvalue()

    bad = xlsx([["SHAFT-9", "轴9", "件", 10, "车", "lathe", 30, "st-nope"],
                ["SHAFT-9", "轴9", "件", 10, "磨", "grinder", 12, None],
                ["BRK-100", "重复", "pcs", 10, "x", None, None, None]])  # fmt: skip
    files = {"file": ("p.xlsx", bad, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")}
    refused = admin.post("/admin/products/import/products", files=files)
    assert refused.status_code == 422
    for text in (
        "unknown station st-nope",
        "step 10 of SHAFT-9 is there twice",
        "product BRK-100 already exists",
    ):
        assert text in refused.text, text
    good = xlsx([["SHAFT-9", "轴9", "件", 10, "车削", "lathe", 30, "st-lathe-1"],
                 ["SHAFT-9", "轴9", "件", 20, "磨削", "grinder", 12.5, None],
                 ["CAP-9", "盖9", "pcs", 10, "注塑", "mold", 8, None]])  # fmt: skip
    files = {"file": ("p.xlsx", good, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")}
    preview = admin.post("/admin/products/import/products", files=files)
    assert preview.status_code == 200 and "磨削" in preview.text
    done = _confirm(admin, preview, "/admin/products/import/products/confirm", "xlsx")
    assert done.status_code == 200 and "Imported 2 products with their routings." in done.text
    with Session(live.engine) as session:
        shaft = session.exec(select(Product).where(Product.code == "SHAFT-9")).one()
        steps = catalog.routing_of(session, shaft.id or 0)
        station = session.exec(select(Station).where(Station.code == "st-lathe-1")).one()
    assert (shaft.name, shaft.unit) == ("轴9", "件")
    assert [(s.step_no, s.name, s.machine_kind, s.ideal_cycle_s) for s in steps] == [
        (10, "车削", "lathe", 30.0), (20, "磨削", "grinder", 12.5)]  # fmt: skip
    assert steps[0].station_id == station.id


def test_a_line_is_renamed_on_the_machines_page(live: LiveServer, admin: httpx.Client) -> None:
    with Session(live.engine) as session:
        line = session.exec(select(Line)).first()
    assert line is not None
    assert (
        admin.post("/admin/lines/edit", data={"line_id": str(line.id), "name": "机加工一线"}).status_code
        == 303
    )
    with Session(live.engine) as session:
        renamed = session.get(Line, line.id)
    assert renamed is not None and (renamed.name, renamed.code) == ("机加工一线", line.code)
    assert "机加工一线" in admin.get("/admin/machines").text and _audited(live, "Line", "update") == 1
    assert admin.post("/admin/lines/edit", data={"line_id": str(line.id), "name": ""}).status_code == 422

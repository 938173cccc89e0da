"""Editing on the admin pages (issue 13) over HTTP with an admin's session: a reason code's labels and its
use, a product's routing (the stations of kept steps stay), a shift changed and removed; each audit-logged,
a malformed form answered with a clear error that changes nothing."""

from collections.abc import Iterator

import httpx
import pytest
from sqlmodel import Session, col, select

from server.domain import catalog, reasons
from server.models.audit import AuditLog
from server.models.catalog import Product, ReasonCode
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

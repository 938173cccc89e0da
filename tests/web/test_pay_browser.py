"""The operator's own figure on the station tablet, in Chromium: after the badge sign-in the page shows the
operator's pieces and pay today and this period, and both update after a work report is sent."""

import io
import re
from datetime import date, timedelta

import httpx
import pytest
from openpyxl import load_workbook
from playwright.sync_api import expect

from tests.server.factory import add_user, make_order, ok
from tests.web.conftest import LiveServer, PageFactory, enroll_and_sign_in, start_order

pytestmark = pytest.mark.browser


def test_operator_sees_own_pieces_and_pay_update(live: LiveServer, new_page: PageFactory) -> None:
    rate = {"product": "BRK-100", "step_no": 10, "effective_from": "2020-01-01", "rate": "0.35"}
    ok(live.http.post("/api/v1/piece-rates", json=rate, headers=live.plant.as_("supervisor")), 201)
    start_order(live, "WO-PAY-1", 500)
    page = new_page("tablet", "zh-CN")
    enroll_and_sign_in(page, live)
    expect(page.locator("#my-pay")).to_contain_text("我的计件和工资")
    expect(page.locator("#pay-pieces-today")).to_have_text("0")
    expect(page.locator("#pay-amount-today")).to_have_text("0.00")
    page.click("#btn-report")
    page.fill("#report-good", "12")
    page.fill("#report-scrap", "0")
    page.click("#report-send")
    expect(page.locator("#pay-pieces-today")).to_have_text("12", timeout=10_000)
    expect(page.locator("#pay-amount-today")).to_have_text("4.20")  # 12 x 0.35
    expect(page.locator("#pay-pieces-period")).to_have_text("12")
    expect(page.locator("#pay-amount-period")).to_have_text("4.20")
    page.reload()  # rendered by the server the same way
    expect(page.locator("#pay-amount-today")).to_have_text("4.20")


def test_wage_sheet_page_for_the_payroll_clerk(live: LiveServer) -> None:
    """The payroll clerk's home is the wage sheet: zh and en, the operator's row, printable, the same figures
    in its XLSX; an operator's session gets a 403 page."""
    add_user(live.plant, "operator", "op-page")
    stations = {"stations": ["st-lathe-1"]}  # an operator signed in by password acts at its stations only
    ok(live.http.put("/api/v1/users/op-page/stations", json=stations, headers=live.plant.as_("admin")))
    add_user(live.plant, "payroll", "clerk-page")
    skill = live.http.put(
        "/api/v1/users/op-page/skill", json={"level": "pg"}, headers=live.plant.as_("supervisor")
    )
    assert skill.status_code == 204
    rate = {
        "product": "BRK-100",
        "step_no": 10,
        "effective_from": "2020-01-01",
        "rate": "0.5",
        "skill_level": "pg",
    }
    ok(live.http.post("/api/v1/piece-rates", json=rate, headers=live.plant.as_("supervisor")), 201)
    make_order(live.plant, "WO-PAY-2", 500)  # released: reports are taken (lathe-1 runs the other test's job)
    ok(live.http.post("/api/v1/work-orders/WO-PAY-2/release", headers=live.plant.as_("planner")))
    report = {"step_no": 10, "good": 10}
    ok(
        live.http.post(
            "/api/v1/work-orders/WO-PAY-2/reports", json=report, headers=live.plant.as_("op-page")
        ),
        201,
    )
    form = {"username": "clerk-page", "password": live.plant.passwords["clerk-page"]}
    with httpx.Client(base_url=live.base, headers={"Origin": live.base}) as clerk:
        assert clerk.post("/login", data=form).headers["location"] == "/wages"
        zh = clerk.get("/wages", headers={"Accept-Language": "zh-CN"})
        assert zh.status_code == 200 and "计件工资表" in zh.text and "data-print" in zh.text
        row = re.search(r'<tr data-operator="op-page">(.*?)</tr>', zh.text, re.S)
        assert row and ">10<" in row.group(1) and ">5.00<" in row.group(1)
        assert "Piece-rate wage sheet" in clerk.get("/wages", headers={"Accept-Language": "en"}).text
        sheet = load_workbook(
            io.BytesIO(clerk.get("/wages/sheet.xlsx", headers={"Accept-Language": "zh-CN"}).content)
        )
        rows = {r[0]: r for r in sheet["汇总"].iter_rows(values_only=True)}
        assert rows["op-page"][2:6] == (10, 5, 0, 5)
    operator = {"username": "op-page", "password": live.plant.passwords["op-page"]}
    with httpx.Client(base_url=live.base, headers={"Origin": live.base}) as op:
        op.post("/login", data=operator)
        assert op.get("/wages").status_code == 403


def test_adjust_and_close_on_the_page(live: LiveServer) -> None:
    """A supervisor adds an adjustment (a line of its own); the clerk closes last month's period
    (audit-logged), whose page then says who closed it and offers no more forms."""
    add_user(live.plant, "payroll", "clerk-close")
    add_user(live.plant, "operator", "op-adj")
    sessions = {}
    for name in ("supervisor1", "clerk-close"):
        client = httpx.Client(base_url=live.base, headers={"Origin": live.base, "Accept-Language": "en"})
        client.post("/login", data={"username": name, "password": live.plant.passwords[name]})
        sessions[name] = client
    today = date.today()
    adjust = {"username": "op-adj", "day": today.isoformat(), "amount": "-2.50", "reason": "broken gauge"}
    assert sessions["clerk-close"].post("/wages/adjustments", data=adjust).status_code == 403
    added = sessions["supervisor1"].post("/wages/adjustments", data=adjust)
    assert added.status_code == 303
    page = sessions["clerk-close"].get(added.headers["location"]).text
    row = re.search(r'<tr data-operator="op-adj">(.*?)</tr>', page, re.S)
    assert row and ">-2.50<" in row.group(1) and "broken gauge" in page and "supervisor1" in page
    last_month = today.replace(day=1) - timedelta(days=1)
    closed = sessions["clerk-close"].post("/wages/close", data={"start": last_month.isoformat()})
    assert closed.status_code == 303
    page = sessions["clerk-close"].get(closed.headers["location"]).text
    assert "Closed by clerk-close" in page and 'id="close"' not in page and 'id="adjust"' not in page
    audit = ok(
        live.http.get("/api/v1/audit", params={"entity": "PayPeriod"}, headers=live.plant.as_("supervisor"))
    )
    assert [a["action"] for a in audit["items"]] == ["close"]
    current = sessions["clerk-close"].post("/wages/close", data={"start": today.isoformat()})
    assert current.status_code == 409 and "has not ended yet" in current.text
    for client in sessions.values():
        client.close()


def test_rates_page_adds_a_rate(live: LiveServer) -> None:
    add_user(live.plant, "payroll", "clerk-rates")
    add_user(live.plant, "operator", "op-skill")
    form = {"username": "clerk-rates", "password": live.plant.passwords["clerk-rates"]}
    with httpx.Client(base_url=live.base, headers={"Origin": live.base, "Accept-Language": "zh-CN"}) as clerk:
        clerk.post("/login", data=form)
        assert "计件单价" in clerk.get("/wages/rates").text
        rate = {
            "product": "PIN-7",
            "step_no": "1",
            "effective_from": "2026-01-01",
            "rate": "0.0825",
            "scrap_rule": "material_share",
            "material_share_pct": "50",
            "material_reasons": "burr",
        }
        added = clerk.post("/wages/rates", data=rate)
        assert added.status_code == 303
        assert clerk.post("/wages/rates", data=rate).status_code == 409  # same step, level and date
        saved = clerk.post("/wages/skills", data={"username": "op-skill", "level": "A"})
        assert saved.status_code == 303
        assert re.search(r"<td>op-skill</td><td>A</td>", clerk.get("/wages/rates").text)
        bad = clerk.post("/wages/rates", data=rate | {"rate": "-1", "effective_from": "2026-02-01"})
        assert bad.status_code == 422
    rates = ok(live.http.get("/api/v1/piece-rates?product=PIN-7", headers=live.plant.as_("supervisor")))
    assert [
        (r["rate"], r["scrap_rule"], r["material_share_pct"], r["material_reasons"], r["created_by"])
        for r in rates
    ] == [("0.0825", "material_share", 50, ["burr"], "clerk-rates")]

"""Report pages in a real browser, in both languages; the XLSX download holds the numbers the page shows."""

import io
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from openpyxl import load_workbook
from playwright.sync_api import Page, expect
from sqlmodel import Session, select

from server.core.db import lock_for_write
from server.models.audit import AuditLog
from server.models.ingest import CountEvent, MachineStateSegment
from server.models.plant import Machine
from server.models.production import DowntimeEvent, Operation, WorkOrder, WorkReport
from server.models.quality import Characteristic, InspectionPlan, InspectionRecord, InspectionValue
from tests.server.factory import make_order, ok
from tests.server.reports import support as reports
from tests.web.conftest import ADMIN, LiveServer, PageFactory, shot

DAY = "2026-11-16"
REPORTS = ["daily", "oee", "oee-trend", "scrap", "downtime", "on-time"]
TITLES = {"zh-CN": "生产日报", "en": "Daily production report"}


def _ms(hm: str) -> int:
    return int(datetime.fromisoformat(f"{DAY} {hm}").replace(tzinfo=UTC).timestamp() * 1000)


@pytest.fixture(scope="module")
def seeded(live: LiveServer) -> LiveServer:
    """A day shift with a break, a state timeline, counts, a downtime, an order with inspections."""
    body = {
        "site_id": 1,
        "name": "day",
        "start_local": "08:00",
        "end_local": "16:00",
        "days": "1,2,3,4,5",
        "breaks": [{"name": "lunch", "start_local": "12:00", "end_local": "12:30"}],
    }
    ok(live.http.post("/api/v1/shifts", json=body, headers=ADMIN), 201)
    make_order(live.plant, "WO-R1", 500, due_date=DAY)
    with Session(live.engine) as s:
        lock_for_write(s)  # BEGIN IMMEDIATE: the live server's ingestion writes too
        lathe = s.exec(select(Machine).where(Machine.code == "lathe-1")).one()
        lathe.ideal_cycle_s = 20.0
        for state, a, b in [
            ("running", "07:00", "10:00"),
            ("fault", "10:00", "10:45"),
            ("running", "10:45", "15:00"),
            ("setup", "15:00", "15:20"),
            ("running", "15:20", "17:00"),
        ]:
            s.add(MachineStateSegment(machine_id=lathe.id or 0, state=state, start_ms=_ms(a), end_ms=_ms(b)))
        s.add(
            CountEvent(machine_id=lathe.id or 0, ts_ms=_ms("09:00"), good=900, scrap=12, edge_id="e", seq=1)
        )
        s.add(DowntimeEvent(machine_id=lathe.id or 0, start_ms=_ms("10:00"), end_ms=_ms("10:45"),
                            reason_code="tool_change"))  # fmt: skip
        order = s.exec(select(WorkOrder).where(WorkOrder.number == "WO-R1")).one()
        op = s.exec(select(Operation).where(Operation.work_order_id == order.id)).first()
        assert op is not None
        s.add(
            WorkReport(
                work_order_id=order.id or 0,
                operation_id=op.id or 0,
                good=0,
                scrap=5,
                scrap_reason="burr",
                ts_ms=_ms("11:00"),
            )
        )
        s.add(lathe)
        char = reports.first_article_d1(s, order.product_id)
        first, values = datetime(2026, 11, 16, 9, tzinfo=UTC), [40.0, 40.01, 39.99, 40.0, 40.3]
        reports.measured(s, char, order.id or 0, values, first, timedelta(minutes=10), "inspector1", "L-1")
        s.commit()
    return live


def _signed_in(
    new_page: PageFactory, live: LiveServer, locale: str, size: str = "phone", role: str = "supervisor"
) -> Page:
    page = new_page(size, locale)
    token = live.plant.as_(role)["Authorization"].split()[1]
    page.context.add_cookies([{"name": "takt_session", "value": token, "url": live.base}])
    return page


def _table(page: Page, name: str) -> list[dict[str, str]]:
    rows = page.locator(f"[data-table='{name}'] tbody tr")
    out = []
    for i in range(rows.count()):
        cells = rows.nth(i).locator("td")
        out.append(
            {
                cells.nth(j).get_attribute("data-key") or "": cells.nth(j).inner_text().strip()
                for j in range(cells.count())
            }
        )
    return out


def ths_labels(page: Page) -> list[str]:
    return [t.strip() for t in page.locator("[data-table='production'] thead th").all_text_contents()]


def _number(text: str) -> float:
    return float(re.sub(r"[%,]", "", text))


@pytest.mark.parametrize("locale", ["zh-CN", "en"])
def test_daily_report_page_matches_its_xlsx(
    seeded: LiveServer, new_page: PageFactory, artifacts: Path, locale: str
) -> None:
    page = _signed_in(new_page, seeded, locale)
    page.goto(seeded.url(f"/reports/daily?day={DAY}"))
    assert page.locator("h1").inner_text() == TITLES[locale]
    rows = _table(page, "oee")
    assert [r["machine"] for r in rows] == ["lathe-1", "lathe-2", "pack-1"]
    oee_row = rows[0]
    assert oee_row["planned_ms"] == "7.50" and oee_row["fault_ms"] == "0.75"
    assert oee_row["availability"] == f"{385 / 450 * 100:.1f}%"  # run 120 + 225 + 40 min of 450 planned
    assert rows[1]["oee"] == "0.0%" and rows[1]["performance"] == "—"  # planned, never ran
    shot(page, artifacts, f"report-daily-{locale}")
    resp = page.request.get(seeded.url(f"/reports/daily.xlsx?day={DAY}"))
    assert resp.ok
    wb = load_workbook(io.BytesIO(resp.body()))
    ws = wb["oee"]
    header = [c.value for c in ws[1]]
    values = dict(zip(header, [c.value for c in ws[2]], strict=True))
    ths = page.locator("[data-table='oee'] thead th").all_inner_texts()
    assert header == [t.strip() for t in ths]  # same labels, same language
    for key, label in zip(
        [c.get_attribute("data-key") for c in page.locator("[data-table='oee'] thead th").all()],
        header,
        strict=True,
    ):
        shown = oee_row[key or ""]
        if isinstance(values[label], float) and shown.endswith("%"):
            assert _number(shown) == pytest.approx(round(values[label] * 100, 1))
        elif isinstance(values[label], (int, float)):
            assert _number(shown) == pytest.approx(values[label])
        else:
            assert shown == str(values[label])
    page_rows = [(r["good"], r["scrap"], r["source"]) for r in _table(page, "production")]
    sheet_rows = [
        (str(r[-2]), str(r[-1]), r[-3]) for r in wb["production"].iter_rows(min_row=2, values_only=True)
    ]
    assert page_rows == sheet_rows  # source translated the same way: 机台计数 / machine
    for key in ("good", "scrap"):  # on a 390 px phone every column is on screen, labelled (no side scroll)
        cell = page.locator(f"[data-table='production'] tbody tr >> nth=0 >> td[data-key='{key}']")
        box = cell.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390, (key, box)
        assert cell.evaluate("c => getComputedStyle(c, '::before').content").strip('"') in ths_labels(page)
    assert ("900", "12") in [r[:2] for r in sheet_rows] and ("0", "5") in [r[:2] for r in sheet_rows]


def test_every_report_renders_in_both_languages(seeded: LiveServer, new_page: PageFactory) -> None:
    english = {"Machine", "Shift", "Availability", "Reason", "Work order", "Day", "Good"}
    for locale in ("zh-CN", "en"):
        page = _signed_in(new_page, seeded, locale, "tablet")
        page.goto(seeded.url("/reports"))
        assert page.locator("a[data-report]").count() == len(REPORTS)
        for name in REPORTS:
            page.goto(seeded.url(f"/reports/{name}?start=2026-11-01&end=2026-11-30"))
            assert page.locator(f"[data-report='{name}']").count() == 1
            if name == "oee-trend":  # the chart: one point per planned day (21 weekdays in Nov 2026)
                assert len((page.locator("[data-line='oee']").get_attribute("points") or "").split()) == 21
            labels = set(page.locator("thead th").all_inner_texts())
            if locale == "zh-CN":
                assert not labels & english, (
                    f"{name}: English headers on the Chinese page: {labels & english}"
                )
            else:
                assert labels & english, f"{name}: no English headers on the English page"


def test_oee_figure_links_to_its_breakdown(
    seeded: LiveServer, new_page: PageFactory, artifacts: Path
) -> None:
    page = _signed_in(new_page, seeded, "en")
    page.goto(seeded.url(f"/reports/daily?day={DAY}"))
    shown = page.locator("[data-table='oee'] td[data-key='availability'] a").first.inner_text()
    page.locator("[data-table='oee'] td[data-key='availability'] a").first.click()
    page.wait_for_url(re.compile(r"/reports/oee/breakdown"))
    assert page.locator("td[data-key='availability']").inner_text() == shown
    assert "fault" in page.locator("table").nth(1).inner_text()
    shot(page, artifacts, "report-oee-breakdown-en")


def test_printable_page_hides_navigation_for_a4(
    seeded: LiveServer, new_page: PageFactory, artifacts: Path
) -> None:
    page = _signed_in(new_page, seeded, "zh-CN", "tablet")
    page.goto(seeded.url(f"/reports/daily?day={DAY}&print=1"))
    assert not page.locator(".topbar").is_visible() and not page.locator(".tools").is_visible()
    page.emulate_media(media="print")
    pdf = page.pdf(format="A4")
    assert pdf[:4] == b"%PDF"
    (artifacts / "report-daily-zh-CN.pdf").write_bytes(pdf)


def test_spc_chart_flags_the_outlier_and_certificate_shows_role(
    seeded: LiveServer, new_page: PageFactory, artifacts: Path
) -> None:
    page = _signed_in(new_page, seeded, "zh-CN")
    page.goto(seeded.url("/reports/spc"))
    assert page.locator("[data-ooc]").get_attribute("data-ooc") == "1"
    page.locator("a", has_text="D1").click()
    assert page.locator("svg circle.bad").count() >= 1
    shot(page, artifacts, "report-spc-zh-CN")
    page.goto(seeded.url("/reports/certificate/WO-R1"))
    text = page.locator("main").inner_text()
    assert "首件检验" in text and "检验员" in text and "inspector1" not in text
    assert page.locator("[data-key='result']").inner_text() == "不合格"


def _measure(live: LiveServer, name: str, values: list[float]) -> int:
    """A new numeric characteristic (individuals, n = 1) of WO-R1's product with one record per value."""
    with Session(live.engine) as s:
        lock_for_write(s)
        order = s.exec(select(WorkOrder).where(WorkOrder.number == "WO-R1")).one()
        plan = InspectionPlan(product_id=order.product_id, name=f"patrol {name}", frequency="every_n_parts",
                              frequency_n=50, sample_size=1)  # fmt: skip
        s.add(plan)
        s.flush()
        char = Characteristic(plan_id=plan.id or 0, name=name, nominal=10.0, lsl=9.0, usl=11.0, unit="mm")
        s.add(char)
        s.flush()
        for i, v in enumerate(values):
            at = datetime(2026, 11, 16, 9, i, tzinfo=UTC)
            rec = InspectionRecord(
                plan_id=plan.id or 0,
                work_order_id=order.id or 0,
                inspector="inspector1",
                passed=True,
                created_at=at,
            )
            s.add(rec)
            s.flush()
            s.add(
                InspectionValue(record_id=rec.id or 0, characteristic_id=char.id or 0, value=v, passed=True)
            )
        s.commit()
        return char.id or 0


def test_boss_view_shows_spc_signals_live_and_links_to_the_chart(
    seeded: LiveServer, new_page: PageFactory, artifacts: Path
) -> None:
    page = _signed_in(new_page, seeded, "en")
    page.goto(seeded.url("/boss"))
    expect(page.locator("#kpi-spc")).to_have_text("1")  # D1's 40.3 is beyond 3 sigma
    expect(page.locator("#spc-flags [data-spc]")).to_have_count(1)
    expect(page.locator("#spc-flags")).to_contain_text("D1")
    expect(page.locator("#spc-flags [data-rule='1']")).to_have_text("a point beyond 3 sigma")
    page.evaluate("window.__noReload = 7")
    run = _measure(seeded, "W8", [10.0, 9.0, 11.0, 9.5, 10.5, 9.8, 10.2] + [10.3] * 8)  # eight above the CL
    expect(page.locator("#kpi-spc")).to_have_text("2", timeout=10_000)  # the live refresh, no reload
    assert page.evaluate("window.__noReload") == 7
    expect(page.locator(f"#spc-flags [data-spc='{run}'] [data-rule='4']")).to_have_text(
        "8 points in a row on one side of the centre line"
    )
    page.click(f"#spc-flags [data-spc='{run}']")  # the inspection (SPC) page names the same rule
    expect(page.locator("[data-violations] [data-rule='4']").first).to_be_visible()
    page.goto(seeded.url("/boss?lang=zh-CN"))
    expect(page.locator("#spc-card")).to_contain_text("统计失控")
    expect(page.locator(f"#spc-flags [data-spc='{run}'] [data-rule='4']")).to_have_text(
        "连续8点在中心线同一侧"
    )
    shot(page, artifacts, "boss-spc-phone-zh-CN")


def _audit(live: LiveServer, action: str) -> int:
    with Session(live.engine) as s:
        rows = s.exec(select(AuditLog).where(AuditLog.entity == "ShareLink", AuditLog.action == action)).all()
        return len(rows)


def test_planner_releases_and_withdraws_the_certificate_on_a_share_link(
    seeded: LiveServer, new_page: PageFactory, artifacts: Path
) -> None:
    link = ok(
        seeded.http.post("/api/v1/work-orders/WO-R1/share-links", headers=seeded.plant.as_("planner")), 201
    )
    share = f"/s/{link['token']}"
    assert "certificate" not in ok(seeded.http.get(share + ".json"))  # not released by default
    planner = _signed_in(new_page, seeded, "zh-CN", "tablet", role="planner")
    planner.goto(seeded.url("/admin/orders/WO-R1"))
    row = planner.locator("[data-link]").last
    expect(row.locator("[data-key=certificate]")).to_contain_text("未发布")
    row.locator("[data-action=certificate]").click()
    expect(planner.locator(".flash")).to_have_text("证书已发布给客户")
    expect(planner.locator("[data-link]").last.locator("[data-key=certificate]")).to_contain_text(
        "已发布给客户"
    )
    assert _audit(seeded, "release_certificate") == 1

    customer = new_page("phone", "zh-CN")
    customer.goto(seeded.url(share))
    cert = customer.locator("#certificate")
    expect(cert).to_contain_text("检验证书")
    expect(cert.locator("[data-record=first_article]")).to_have_count(5)
    expect(cert.locator("[data-key=role]").first).to_have_text("检验员")  # the role, never the name
    expect(cert.locator("[data-key=result]")).to_have_text("不合格")  # 40.3 is over the USL
    body = customer.locator("body").inner_text()
    assert "inspector1" not in body and "WO-R1" not in body
    shot(customer, artifacts, "share-certificate-phone-zh-CN")
    english = new_page("phone", "en")
    english.goto(seeded.url(share))
    expect(english.locator("#certificate")).to_contain_text("First-article inspection")
    expect(english.locator("#certificate [data-key=role]").first).to_have_text("inspector")

    data = ok(seeded.http.get(share + ".json"))
    assert set(data["certificate"]) == {"passed", "records"}
    record = data["certificate"]["records"][0]
    assert set(record) == {"kind", "lot", "inspector_role", "date", "passed", "characteristics"}
    assert record["inspector_role"] == "inspector" and "inspector1" not in str(data)
    assert set(record["characteristics"][0]) == {"name", "unit", "nominal", "lsl", "usl", "values", "passed"}

    planner.locator("[data-link]").last.locator("[data-action=certificate]").click()  # withdraw
    expect(planner.locator(".flash")).to_have_text("证书已撤回")
    assert _audit(seeded, "withdraw_certificate") == 1
    customer.reload()
    expect(customer.locator("#steps")).to_be_visible()
    expect(customer.locator("#certificate")).to_have_count(0)
    assert "certificate" not in ok(seeded.http.get(share + ".json"))

"""Station tablet in a real browser: badge + PIN sign-in, start, one-sequence good + scrap report, the
offline outbox (reports, downtime reasons and checks: sent once after the network returns, kept across a
reload, same Idempotency-Key on retry), PIN lockout on the page."""

from pathlib import Path

import pytest
from playwright.sync_api import Page, Route, expect
from sqlmodel import Session, select

from server.domain import workorders as wo
from server.models.audit import AuditLog
from server.models.production import DowntimeEvent, WorkReport
from server.models.quality import InspectionRecord
from server.web.instructions import save_instruction
from server.web.share import qr_png
from tests.server.factory import add_user, make_order, ok
from tests.web.conftest import (
    LiveServer,
    PageFactory,
    enroll_and_sign_in,
    offline_ready,
    shot,
    start_order,
    wait_until,
)

pytestmark = pytest.mark.browser


def _reports(live: LiveServer, number: str) -> list[WorkReport]:
    with Session(live.engine) as session:
        order = wo.get(session, number)
        return list(session.exec(select(WorkReport).where(WorkReport.work_order_id == order.id)).all())


@pytest.fixture
def running_job(live: LiveServer) -> str:
    """A job running at the station (the first test starts one through the tablet; alone, start one here)."""
    running = ok(live.http.get("/api/v1/work-orders?status=in_progress", headers=live.plant.as_("planner")))
    if running["items"]:
        return str(running["items"][0]["number"])
    start_order(live, "WO-ST-RUN", 300)
    return "WO-ST-RUN"


def _report(page: Page, good: int, scrap: int, reason: str | None) -> None:
    page.click("#btn-report")
    page.fill("#report-good", str(good))
    page.fill("#report-scrap", str(scrap))
    if reason:
        page.click(f"[data-scrap-reason={reason}]")
    page.click("#report-send")


def _tablet_on_the_job(live: LiveServer, new_page: PageFactory, locale: str) -> tuple[Page, str, int]:
    """A tablet signed in at the station of the running job: (page, the job's number, its reports so far)."""
    page = new_page("tablet", locale)
    enroll_and_sign_in(page, live)
    number = page.locator("#job").get_attribute("data-number")
    assert number
    return page, number, len(_reports(live, number))


def test_operator_signs_in_starts_and_reports(
    live: LiveServer, new_page: PageFactory, artifacts: Path
) -> None:
    make_order(live.plant, "WO-ST-1", 200, due_date="2030-01-31", priority=5)
    ok(live.http.post("/api/v1/work-orders/WO-ST-1/release", headers=live.plant.as_("planner")))
    page = new_page("tablet", "zh-CN")
    enroll_and_sign_in(page, live)
    expect(page.locator("#job")).to_have_attribute("data-number", "WO-ST-1")
    expect(page.locator("#queue")).to_contain_text("WO-ST-1")
    expect(page.locator("#btn-start")).to_contain_text("开工")
    page.click("#btn-start")
    expect(page.locator("#job")).to_have_attribute("data-status", "running")
    page.wait_for_function("() => window.taktStation !== undefined")  # the reloaded page's script is ready
    edge = live.edge()  # the machine's counts arrive by themselves (MQTT -> ingest -> SSE)
    edge.send("lathe-1", state=2, running=1, good_count=500, scrap_count=0)  # baseline
    edge.send(
        "lathe-1", state=2, running=1, good_count=512, scrap_count=1
    )  # plausible (counting quarantines jumps)
    expect(page.locator("#count-good")).to_have_text("12", timeout=10_000)
    expect(page.locator("#queue-current-good")).to_have_text("12")
    expect(page.locator("#machine-state")).to_have_attribute("data-state", "running")
    _report(page, 12, 3, "burr")
    expect(page.locator("#manual-good")).to_have_text("12")
    expect(page.locator("#manual-scrap")).to_have_text("3")
    expect(page.locator("#pending")).to_be_hidden()
    rows = _reports(live, "WO-ST-1")
    assert [(r.good, r.scrap, r.scrap_reason) for r in rows] == [(12, 3, "burr")]
    shot(page, artifacts, "station-tablet-zh")
    page.click("#btn-pause")  # pause from the station (no reason given), then resume
    page.click("#pause-confirm")
    expect(page.locator("#job")).to_have_attribute("data-status", "paused")
    page.wait_for_function("() => window.taktStation !== undefined")
    page.click("#btn-resume")
    expect(page.locator("#job")).to_have_attribute("data-status", "running")
    order = ok(live.http.get("/api/v1/work-orders/WO-ST-1", headers=live.plant.as_("planner")))
    assert order["status"] == "in_progress" and order["operations"][0]["status"] == "running"


def test_report_needs_a_scrap_reason(live: LiveServer, new_page: PageFactory, running_job: str) -> None:
    page = new_page("tablet", "en")
    enroll_and_sign_in(page, live)
    page.click("#btn-report")
    page.fill("#report-scrap", "2")
    page.click("#report-send")
    expect(page.locator("#report-error")).to_have_text("Choose a scrap reason.")
    expect(page.locator("#report-dialog")).to_be_visible()


def test_refused_report_keeps_its_reason_in_the_page_language(
    live: LiveServer, new_page: PageFactory, running_job: str
) -> None:
    """Over quantity (a Conflict, a gettext msgid with parameters) shows in Chinese on a zh tablet."""
    page, number, before = _tablet_on_the_job(live, new_page, "zh-CN")
    _report(page, 100_000, 0, None)
    item = page.locator("#pending-list li")
    expect(item).to_contain_text("超过上限", timeout=10_000)  # not retried forever as "in flight"
    expect(item).to_contain_text("100000")
    assert "over the limit" not in item.inner_text()
    assert len(_reports(live, number)) == before
    item.locator("button").click()  # the operator discards it
    expect(page.locator("#pending")).to_be_hidden()


def test_offline_report_is_sent_once_when_back_online(
    live: LiveServer, new_page: PageFactory, running_job: str
) -> None:
    page, number, before = _tablet_on_the_job(live, new_page, "en")
    page.context.set_offline(True)
    _report(page, 7, 0, None)
    expect(page.locator("#pending")).to_be_visible()
    expect(page.locator("#pending-count")).to_have_text("1")
    assert len(_reports(live, number)) == before
    page.click("#signout")  # refused while a report waits: its token must stay valid
    expect(page.locator("#action-error")).to_contain_text("still waiting")
    expect(page.locator("#job")).to_have_attribute("data-number", number)
    page.context.set_offline(False)
    expect(page.locator("#pending")).to_be_hidden(timeout=15_000)
    rows = _reports(live, number)
    assert len(rows) == before + 1 and rows[-1].good == 7


def test_lost_answer_is_retried_with_the_same_key_and_survives_reload(
    live: LiveServer, new_page: PageFactory, running_job: str
) -> None:
    """The server stores the report but the answer is lost; the page reloads; the retry is a no-op."""
    page, number, before = _tablet_on_the_job(live, new_page, "en")
    keys: list[str] = []

    def lose_answer(route: Route) -> None:
        keys.append(route.request.headers["idempotency-key"])
        route.fetch()  # reaches the server, which stores the report
        route.abort("connectionreset")  # ... but the tablet never hears back

    page.route("**/reports", lose_answer)
    _report(page, 4, 1, "burr")
    wait_until(lambda: len(_reports(live, number)) == before + 1, what="the first attempt stored")
    expect(page.locator("#pending-count")).to_have_text("1")
    page.unroute("**/reports")
    page.route("**/reports", lambda route: route.abort("internetdisconnected"))
    page.reload()
    page.wait_for_function("() => window.taktStation !== undefined")
    expect(page.locator("#pending-count")).to_have_text("1")  # the queue survived the reload
    page.unroute("**/reports")
    sent: list[str] = []
    page.on(
        "request",
        lambda req: sent.append(req.headers.get("idempotency-key", "")) if "/reports" in req.url else None,
    )
    expect(page.locator("#pending")).to_be_hidden(timeout=15_000)
    assert sent and set(sent) == {keys[0]}
    rows = _reports(live, number)
    assert len(rows) == before + 1 and (rows[-1].good, rows[-1].scrap) == (4, 1)


def test_pin_lockout_on_the_page(live: LiveServer, new_page: PageFactory) -> None:
    add_user(live.plant, "operator", "opx")
    tablet = ok(live.http.post("/api/v1/tablets", json={"station": "st-lathe-1", "name": "tab-lock"},
                               headers=live.plant.as_("admin")), 201)  # fmt: skip
    page = new_page("tablet", "en")
    page.goto(live.url("/station/" + tablet["enroll_url"].split("/station/", 1)[1]))
    for _ in range(live.settings.signin_max_failures):
        page.fill("#badge", "B-opx")
        page.fill("#pin", "0000")
        page.click("#signin")
        expect(page.locator("#signin-error")).to_have_text("Wrong badge or PIN.")
    page.fill("#badge", "B-opx")
    page.fill("#pin", "4321")  # the right PIN, but locked now
    page.click("#signin")
    expect(page.locator("#signin-error")).to_contain_text("locked")
    assert page.locator("#job").count() == 0


def test_unenrolled_browser_cannot_open_the_station(live: LiveServer, new_page: PageFactory) -> None:
    page = new_page("tablet", "zh-CN")
    response = page.goto(live.url("/station/st-lathe-1"))
    assert response is not None and response.status == 403
    expect(page.locator("#error-message")).to_contain_text("未注册")


def test_tablet_asks_why_the_machine_stopped_and_shows_instructions(
    live: LiveServer, new_page: PageFactory, artifacts: Path, running_job: str
) -> None:
    save_instruction(live.settings, "BRK-100", 10, "drawing.png", qr_png("drawing of step 10"))
    page = new_page("tablet", "en")
    enroll_and_sign_in(page, live)
    expect(page.locator("img[alt='drawing.png']")).to_be_visible()
    live.edge().send("lathe-1", state=2, running=1)
    expect(page.locator("#machine-state")).to_have_attribute("data-state", "running", timeout=10_000)
    live.edge().send("lathe-1", state=3, running=0)  # the lathe stops with a fault while the job runs
    expect(page.locator("#downtime-dialog")).to_be_visible(timeout=10_000)
    expect(page.locator("#machine-state")).to_have_attribute("data-state", "fault")
    shot(page, artifacts, "station-downtime-en")
    page.click("[data-downtime-reason=tool_change]")
    page.click("#downtime-save")
    expect(page.locator("#downtime-dialog")).to_be_hidden()  # closed once queued; the outbox sends it

    def latest_downtime() -> dict:  # type: ignore[type-arg]
        supervisor = live.plant.as_("supervisor")
        return ok(live.http.get("/api/v1/downtime?machine=lathe-1", headers=supervisor))["items"][0]  # type: ignore[no-any-return]

    event = wait_until(lambda: (e := latest_downtime())["reason_code"] and e, what="the reason applied")
    assert event["reason_code"] == "tool_change" and event["classified_by"] == "operator1"
    expect(page.locator("#pending")).to_be_hidden()
    live.edge().send("lathe-1", state=2, running=1)
    expect(page.locator("#machine-state")).to_have_attribute("data-state", "running", timeout=10_000)


def test_inspection_due_banner_and_check_on_the_tablet(
    live: LiveServer, new_page: PageFactory, running_job: str
) -> None:
    plan = {"product_id": _product_id(live, "BRK-100"), "step_no": 10, "name": "First article",
            "frequency": "first_article",
            "characteristics": [
                {"name": "diameter", "nominal": 10.0, "lsl": 9.95, "usl": 10.05, "unit": "mm"},
                {"name": "surface", "kind": "attribute"},
            ]}  # fmt: skip
    ok(live.http.post("/api/v1/inspection-plans", json=plan, headers=live.plant.as_("inspector")), 201)
    page = new_page("tablet", "zh-CN")
    enroll_and_sign_in(page, live)
    number = page.locator("#job").get_attribute("data-number")
    expect(page.locator("#inspection-due")).to_contain_text("First article")
    page.click("[data-open-inspection]")
    expect(page.locator("#inspection-fields")).to_contain_text("9.95 … 10.05 mm")
    page.fill("#inspection-fields input[data-char]", "10.01")
    page.select_option("#inspection-fields select", "1")
    page.click("#inspection-send")
    expect(page.locator("#inspection-due")).to_have_count(0)
    records = ok(live.http.get(f"/api/v1/inspections?work_order={number}", headers=live.plant.as_("planner")))
    assert len(records) == 1 and records[0]["passed"] is True and records[0]["inspector"] == "operator1"
    assert sorted(v["value"] for v in records[0]["values"] if v["value"] is not None) == [10.01]


def _product_id(live: LiveServer, code: str) -> int:
    return int(ok(live.http.get(f"/api/v1/products/{code}", headers=live.plant.as_("planner")))["id"])


def test_offline_downtime_check_and_report_survive_a_reload_and_apply_once(
    live: LiveServer, new_page: PageFactory, running_job: str
) -> None:
    """Wi-Fi drops: the operator classifies the stop, records a check and reports; the tablet reloads while
    offline. Back online, each entry is applied exactly once and the pending list empties."""
    length = {"name": "length", "lsl": 49.9, "usl": 50.1}
    plan = {"product_id": _product_id(live, "BRK-100"), "step_no": 10, "name": "Offline check",
            "frequency": "first_article", "characteristics": [length]}  # fmt: skip
    plan_id = ok(
        live.http.post("/api/v1/inspection-plans", json=plan, headers=live.plant.as_("inspector")), 201
    )["id"]
    page, number, before = _tablet_on_the_job(live, new_page, "en")
    offline_ready(page)
    live.edge().send("lathe-1", state=2, running=1)
    expect(page.locator("#machine-state")).to_have_attribute("data-state", "running", timeout=10_000)
    live.edge().send("lathe-1", state=3, running=0)
    expect(page.locator("#downtime-dialog")).to_be_visible(timeout=10_000)
    downtime = int(page.locator("#downtime-dialog").get_attribute("data-id") or 0)

    page.context.set_offline(True)
    page.click("[data-downtime-reason=tool_change]")
    page.click("#downtime-save")
    expect(page.locator("#downtime-dialog")).to_be_hidden()
    expect(page.locator("#pending-note")).to_contain_text("Offline: saved on this tablet")
    page.click(f"[data-open-inspection='{plan_id}']")
    page.fill("#inspection-fields input[data-char]", "50.02")
    page.click("#inspection-send")
    expect(page.locator("#inspection-dialog")).to_be_hidden()  # the values wait in the outbox
    expect(page.locator(f"[data-queued-check='{plan_id}']")).to_be_visible()
    expect(page.locator(f"[data-open-inspection='{plan_id}']")).to_be_hidden()
    _report(page, 2, 0, None)
    expect(page.locator("#pending-count")).to_have_text("3")
    items = page.locator("#pending-list li")
    expect(items.nth(0)).to_have_text("Downtime reason: tool change · waiting to send")
    expect(items.nth(1)).to_have_text(f"Inspection: Offline check · {number} · waiting to send")
    expect(items.nth(2)).to_have_text(f"Good / scrap report: {number} · +2 / 0 · waiting to send")
    page.click("#btn-pause")  # start/pause/resume/complete are not queued: the page says so
    page.click("#pause-confirm")
    expect(page.locator("#action-error")).to_have_text(
        "Offline: not done. Try again when the network is back."
    )
    assert _classified(live, downtime) is None and _checks(live, plan_id) == 0
    assert len(_reports(live, number)) == before
    for path in ("**/classify", "**/inspection", "**/reports"):  # the server stays out of reach for now
        page.route(path, lambda route: route.abort("internetdisconnected"))
    page.reload()  # the tablet reloads while offline: the service worker serves the page it kept
    page.wait_for_function("() => window.taktStation !== undefined")
    expect(page.locator("#pending-count")).to_have_text("3")

    page.context.set_offline(False)
    page.goto(live.url("/station/st-lathe-1"))
    page.wait_for_function("() => window.taktStation !== undefined")
    # the outbox survived the reload: every entry still waits or is applied, none is lost. (Chrome lets a
    # request of the page being replaced past its offline emulation now and then: that one may be applied,
    # its answer lost with the page, so it waits too; its retry must then change nothing.)
    waiting = [li.get_attribute("data-kind") for li in page.locator("#pending-list li").all()]
    applied = {"downtime": _classified(live, downtime) is not None, "inspection": _checks(live, plan_id) == 1,
               "report": len(_reports(live, number)) == before + 1}  # fmt: skip
    assert all(kind in waiting or done for kind, done in applied.items()), (waiting, applied)
    expect(page.locator("#downtime-dialog")).to_be_hidden()  # its reason is queued or sent: not asked again
    page.unroute_all()
    expect(page.locator("#pending")).to_be_hidden(timeout=15_000)
    assert _classified(live, downtime) == ("tool_change", 1)
    assert _checks(live, plan_id) == 1
    rows = _reports(live, number)
    assert len(rows) == before + 1 and rows[-1].good == 2
    expect(page.locator(f".banner[data-plan='{plan_id}']")).to_have_count(0)
    live.edge().send("lathe-1", state=2, running=1)


def test_report_queued_by_the_previous_script_is_still_sent(
    live: LiveServer, new_page: PageFactory, running_job: str
) -> None:
    """An outbox item from before items had a kind (the tablet updated while reports waited) is a report."""
    page, number, before = _tablet_on_the_job(live, new_page, "en")
    page.route("**/reports", lambda route: route.abort("internetdisconnected"))
    page.evaluate(
        """(n) => {
          const cfg = JSON.parse(document.getElementById("station-config").textContent);
          const body = {step_no: 10, good: 1, scrap: 0};
          const old = {key: "legacy-1", number: n, body: body, token: cfg.token, created: 0};
          localStorage.setItem("takt.outbox." + cfg.station, JSON.stringify([old]));
        }""",
        number,
    )
    page.reload()
    page.wait_for_function("() => window.taktStation !== undefined")
    expect(page.locator("#pending-list li")).to_have_text(
        f"Good / scrap report: {number} · +1 / 0 · waiting to send"
    )
    page.unroute("**/reports")
    expect(page.locator("#pending")).to_be_hidden(timeout=15_000)
    rows = _reports(live, number)
    assert len(rows) == before + 1 and rows[-1].idempotency_key == "legacy-1"


def _classified(live: LiveServer, downtime: int) -> tuple[str, int] | None:
    """The downtime's reason and how many times it was classified, or None while it has no reason."""
    with Session(live.engine) as session:
        event = session.get(DowntimeEvent, downtime)
        assert event is not None
        if event.reason_code is None:
            return None
        stmt = select(AuditLog).where(AuditLog.entity == "DowntimeEvent", AuditLog.entity_id == str(downtime))
        return event.reason_code, len(session.exec(stmt.where(AuditLog.action == "classify")).all())


def _checks(live: LiveServer, plan_id: int) -> int:
    with Session(live.engine) as session:
        return len(session.exec(select(InspectionRecord).where(InspectionRecord.plan_id == plan_id)).all())


def test_complete_moves_on_to_the_next_job(live: LiveServer, new_page: PageFactory, running_job: str) -> None:
    make_order(live.plant, "WO-ST-NEXT", 30, priority=0)
    ok(live.http.post("/api/v1/work-orders/WO-ST-NEXT/release", headers=live.plant.as_("planner")))
    page = new_page("tablet", "en")
    enroll_and_sign_in(page, live)
    current = page.locator("#job").get_attribute("data-number")
    assert current and current != "WO-ST-NEXT"
    expect(page.locator("#queue")).to_contain_text("WO-ST-NEXT")  # what is next
    page.click("#btn-complete")
    page.click("#short-confirm")  # fewer parts than planned: the tablet asks first
    expect(page.locator("#job")).not_to_have_attribute("data-number", current)
    order = ok(live.http.get(f"/api/v1/work-orders/{current}", headers=live.plant.as_("planner")))
    assert order["operations"][0]["status"] == "done"

"""The station as an operator wants it, in real Chromium (zh_CN and en): a "stored" confirmation distinct from
"queued offline", reason names (never codes), the downtime dialog (no default choice, the state the machine
stopped in and for how long, the likeliest reasons first, a tap only selects until Save), pause asks why,
a tap on the queue switches jobs under the API's rules, every action updates the page in place (a marker
set on `window` survives), and every tap target is at least 48 px at 390x844 and 1280x800."""

import time

import pytest
from playwright.sync_api import Page, expect
from sqlmodel import Session, col, select

from server.models.audit import AuditLog
from server.models.production import DowntimeEvent, Operation, OperationRun
from shared import topics
from shared.messages import DataBatch, Sample, encode
from tests.server.factory import make_order, ok
from tests.web.conftest import (
    ADMIN,
    EDGE,
    LiveServer,
    PageFactory,
    enroll_and_sign_in,
    login,
    start_order,
    wait_until,
)

pytestmark = pytest.mark.browser
JOB = "WO-OP-1"
MIN_TAP = 48
REASONS = [("downtime", "break", "休息", "Break"), ("downtime", "machine_fault", "设备故障", "Machine fault"),
           ("downtime", "no_material", "缺料", "No material")]  # fmt: skip
MARK = "() => window.__notReloaded === 1"


@pytest.fixture(scope="module")
def plant(live: LiveServer) -> LiveServer:
    """More downtime reasons, one running job, and lathe-1's history: a fault 35 minutes ago that operators
    called a tool change, running again, then a fault 7 minutes ago still waiting for its reason."""
    for kind, code, zh, en in REASONS:
        body = {"kind": kind, "code": code, "label_zh": zh, "label_en": en}
        ok(live.http.post("/api/v1/reason-codes", json=body, headers=ADMIN), 201)
    start_order(live, JOB, 500)
    now = int(time.time() * 1000)
    for minutes_ago, state in ((40, 2), (35, 3), (20, 2), (7, 3)):
        _send_at(live, now - minutes_ago * 60_000, state=state, running=int(state == 2))
    first = wait_until(lambda: _downtimes(live)[-2:] if len(_downtimes(live)) == 2 else None, what="2 stops")
    supervisor = live.plant.as_("supervisor")
    body = {"reason_code": "tool_change"}
    ok(live.http.post(f"/api/v1/downtime/{first[0].id}/classify", json=body, headers=supervisor))
    return live


def _send_at(live: LiveServer, ts_ms: int, **values: float) -> None:
    """A batch of lathe-1 samples stamped `ts_ms` at the source (sent now, like an edge's replayed outbox)."""
    edge = live.edge()
    edge.seq += 1
    samples = [Sample("lathe-1", tag, ts_ms, value) for tag, value in values.items()]
    batch = DataBatch(edge_id=EDGE, seq=edge.seq, sent_ms=int(time.time() * 1000), samples=samples)
    edge.client.publish(topics.data("demo", EDGE), encode(batch), qos=1).wait_for_publish(5)


def _downtimes(live: LiveServer) -> list[DowntimeEvent]:
    with Session(live.engine) as session:
        return list(session.exec(select(DowntimeEvent).order_by(col(DowntimeEvent.start_ms))).all())


def _tablet(live: LiveServer, new_page: PageFactory, locale: str, size: str = "tablet") -> Page:
    page = new_page(size, locale)
    enroll_and_sign_in(page, live)
    page.evaluate("window.__notReloaded = 1")  # gone if the page reloads itself
    return page


def _close_downtime_dialog(page: Page) -> None:
    """The stop waiting for a reason asks on every tablet: these tests answer it later."""
    expect(page.locator("#downtime-dialog")).to_be_visible(timeout=10_000)
    page.click("#downtime-later")


@pytest.mark.parametrize("locale", ["zh-CN", "en"])
def test_downtime_dialog_has_no_default_and_shows_fault_and_minutes(
    plant: LiveServer, new_page: PageFactory, locale: str
) -> None:
    live = plant
    page = _tablet(live, new_page, locale)
    dialog = page.locator("#downtime-dialog")
    expect(dialog).to_be_visible(timeout=10_000)
    zh = locale == "zh-CN"
    expect(page.locator("#downtime-what")).to_have_text(
        "故障 · 已停机 7 分钟" if zh else "fault · stopped 7 min ago"
    )
    buttons = page.locator("#downtime-reasons button")
    names = (
        ["换刀", "设备故障", "休息", "缺料"]
        if zh
        else ["tool change", "Machine fault", "Break", "No material"]
    )
    expect(buttons).to_have_text(names)  # this machine's history for a fault first, then what fits a fault
    assert page.evaluate("document.activeElement.id") == "downtime-title"  # no reason has the focus
    expect(page.locator("#downtime-reasons [aria-pressed=true]")).to_have_count(0)
    expect(page.locator("#downtime-save")).to_be_disabled()
    page.keyboard.press("Enter")  # a stray Enter records nothing
    page.click("[data-downtime-reason=break]")  # a stray tap on Break only selects it
    expect(dialog).to_be_visible()
    expect(page.locator("#pending")).to_be_hidden()
    assert _downtimes(live)[-1].reason_code is None
    if zh:
        page.click("#downtime-later")  # the other language records it
        return
    page.click("[data-downtime-reason=machine_fault]")  # the operator's real choice
    expect(page.locator("[data-downtime-reason=break]")).to_have_attribute("aria-pressed", "false")
    page.click("#downtime-save")
    expect(dialog).to_be_hidden()
    expect(page.locator("#stored")).to_have_text("✓ Stored on the server: Downtime reason · Machine fault")
    wait_until(lambda: _downtimes(live)[-1].reason_code == "machine_fault", what="the stop classified")
    page.wait_for_function(MARK)


@pytest.mark.parametrize("locale", ["zh-CN", "en"])
def test_report_is_confirmed_as_stored_and_shows_reason_names(
    plant: LiveServer, new_page: PageFactory, locale: str
) -> None:
    live, zh = plant, locale == "zh-CN"
    page = _tablet(live, new_page, locale)
    page.context.set_offline(True)
    page.click("#btn-report")
    page.fill("#report-good", "5")
    page.fill("#report-scrap", "2")
    page.click("[data-scrap-reason=burr]")
    page.click("#report-send")
    item = page.locator("#pending-list li")
    expect(item).to_contain_text("+5 / 2 (毛刺)" if zh else "+5 / 2 (burr)")  # the reason's name
    if zh:
        assert "burr" not in item.inner_text()
    expect(page.locator("#pending-note")).to_be_visible()  # queued offline ...
    expect(page.locator("#stored")).to_be_hidden()  # ... is not "stored"
    page.context.set_offline(False)
    stored = page.locator("#stored")
    expected = "✓ 已保存到服务器: 报工（良品/废品） · WO-OP-1 · +5 / 2 (毛刺)" if zh else (
        "✓ Stored on the server: Good / scrap report · WO-OP-1 · +5 / 2 (burr)")  # fmt: skip
    expect(stored).to_have_text(expected, timeout=15_000)
    expect(page.locator("#pending")).to_be_hidden()
    expect(page.locator("#manual-scrap")).not_to_have_text("0")  # counts patched in place
    page.wait_for_function(MARK)


def _last_run(live: LiveServer, number: str) -> OperationRun:
    with Session(live.engine) as session:
        stmt = (
            select(OperationRun)
            .join(Operation, col(Operation.id) == col(OperationRun.operation_id))
            .where(col(OperationRun.end_ms).is_not(None))
            .order_by(col(OperationRun.end_ms).desc())
        )
        run = session.exec(stmt).first()
        assert run is not None
        return run


@pytest.mark.parametrize("locale", ["zh-CN", "en"])
def test_pause_asks_why_and_tap_switches_jobs_in_place(
    plant: LiveServer, new_page: PageFactory, locale: str
) -> None:
    live, zh = plant, locale == "zh-CN"
    other = f"WO-OP-NEXT-{locale}"
    make_order(live.plant, other, 20)
    ok(live.http.post(f"/api/v1/work-orders/{other}/release", headers=live.plant.as_("planner")))
    page = _tablet(live, new_page, locale)
    if page.locator("#downtime-dialog").is_visible():
        page.click("#downtime-later")
    expect(page.locator("#job")).to_have_attribute("data-number", JOB)
    if page.locator("#job").get_attribute("data-status") == "paused":  # the other language paused it
        page.click("#btn-resume")
        expect(page.locator("#job")).to_have_attribute("data-status", "running")

    page.click(f"#queue [data-switch='{other}']")  # while JOB runs: shown, but it cannot start
    expect(page.locator("#job")).to_have_attribute("data-number", other)
    expect(page.locator("#blocked-by")).to_contain_text(JOB)
    expect(page.locator("#btn-start")).to_have_count(0)
    page.click(f"#blocked-by [data-switch='{JOB}']")
    expect(page.locator("#job")).to_have_attribute("data-number", JOB)

    page.click("#btn-pause")
    pause = page.locator("#pause-dialog")
    expect(pause).to_be_visible()
    expect(pause.locator("[aria-pressed=true]")).to_have_count(0)  # optional: nothing chosen for the operator
    page.click("[data-pause-reason=no_material]")
    page.click("#pause-confirm")
    expect(page.locator("#job")).to_have_attribute("data-status", "paused")
    expect(page.locator("#paused-why")).to_have_text("已暂停: 缺料" if zh else "Paused: No material")
    run = _last_run(live, JOB)
    assert run.pause_reason == "no_material"
    with Session(live.engine) as session:
        audit = session.exec(
            select(AuditLog).where(AuditLog.action == "pause").order_by(col(AuditLog.id).desc())
        )
        assert audit.first().diff == {"reason": "no_material"}  # type: ignore[union-attr]

    page.click(f"#queue [data-switch='{other}']")  # JOB paused: the machine is free for another job
    expect(page.locator("#job")).to_have_attribute("data-number", other)
    page.click("#btn-start")
    expect(page.locator("#job")).to_have_attribute("data-status", "running")
    order = ok(live.http.get(f"/api/v1/work-orders/{other}", headers=live.plant.as_("planner")))
    assert order["operations"][0]["status"] == "running"
    page.click("#btn-pause")
    page.click("#pause-confirm")  # no reason: allowed
    expect(page.locator("#job")).to_have_attribute("data-status", "paused")
    assert _last_run(live, other).pause_reason is None
    page.fill("#scan-input", live.url(f"/station/go/{JOB}"))  # a scanned job traveler switches too
    page.press("#scan-input", "Enter")
    expect(page.locator("#job")).to_have_attribute("data-number", JOB)
    page.click("#btn-resume")
    expect(page.locator("#job")).to_have_attribute("data-status", "running")
    page.wait_for_function(MARK)  # all of it without one reload


def _small_targets(page: Page, scope: str) -> list[str]:
    """Visible links and buttons under `scope` smaller than MIN_TAP in either direction."""
    return page.evaluate(
        """([scope, min]) => Array.from(document.querySelectorAll(scope + " a, " + scope + " button"))
             .filter(e => e.offsetParent !== null || e.closest("dialog[open]"))
             .map(e => [e.id || e.dataset.switch || e.textContent.trim().slice(0, 20),
                        e.getBoundingClientRect()])
             .filter(([_, r]) => r.width > 0 && (r.width < min || r.height < min))
             .map(([name, r]) => name + " " + Math.round(r.width) + "x" + Math.round(r.height))""",
        [scope, MIN_TAP],
    )


@pytest.mark.parametrize("size", ["phone", "tablet"])
def test_touch_targets_are_at_least_48_px(plant: LiveServer, new_page: PageFactory, size: str) -> None:
    live = plant
    page = _tablet(live, new_page, "zh-CN", size)
    if page.locator("#downtime-dialog").is_visible():
        assert _small_targets(page, "#downtime-dialog") == []
        page.click("#downtime-later")
    assert page.locator(".topbar .lang-link").count() == 1 and page.locator("#signout").count() == 1
    assert _small_targets(page, "body") == []
    page.click("#btn-report")
    assert _small_targets(page, "#report-dialog") == []
    boss = new_page(size, "en")
    login(boss, live, "supervisor1", "/boss")
    assert boss.locator(".topnav a").count() > 0
    assert _small_targets(boss, ".topbar") == []

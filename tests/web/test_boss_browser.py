"""The boss's phone: a machine fault and new counts arrive through the real ingest path (an MQTT batch to the
server's broker) and show on the open page without a reload (SSE); drill-down pages; a customer's share link
shows the new progress."""

import time
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect
from sqlmodel import Session, select

from server.models.plant import Site
from tests.server.factory import add_user, make_order, ok
from tests.web.conftest import EDGE, Edge, LiveServer, PageFactory, login, shot, start_order

pytestmark = pytest.mark.browser


@pytest.fixture
def edge(live: LiveServer) -> Edge:
    return live.edge()


def test_boss_page_updates_live(live: LiveServer, new_page: PageFactory, edge: Edge, artifacts: Path) -> None:
    start_order(live, "WO-LIVE-1", 500, due_date="2030-06-30")
    make_order(live.plant, "WO-LATE-1", 50, due_date=(date.today() - timedelta(days=2)).isoformat())
    ok(live.http.post("/api/v1/work-orders/WO-LATE-1/release", headers=live.plant.as_("planner")))
    edge.send("lathe-1", state=2, running=1, good_count=1000, scrap_count=10, temperature=41.5)  # baseline
    now = int(time.time() * 1000)
    lost = (now - 20 * 60_000, now - 5 * 60_000)  # the sample times the dropped samples span
    edge.status(dropped={"analog": 25}, span=lost)  # its outbox overflowed: data lost, an alarm for the boss
    with Session(live.engine) as session:
        tz = ZoneInfo(session.exec(select(Site.timezone).where(Site.code == "demo")).one() or "UTC")
    start, end = (datetime.fromtimestamp(ms / 1000, tz).strftime("%H:%M") for ms in lost)
    page = new_page("phone", "en")
    login(page, live, "supervisor1")
    tile = page.locator("[data-machine=lathe-1]")
    expect(tile).to_have_attribute("data-state", "running", timeout=15_000)
    page.evaluate("window.__noReload = 42")
    edge.send("lathe-1", state=3, running=0, good_count=1015, scrap_count=12, temperature=43.0)
    expect(page.locator("[data-machine=lathe-1]")).to_have_attribute("data-state", "fault", timeout=10_000)
    expect(page.locator("[data-machine=lathe-1] [data-count=good]")).to_have_text("15")
    expect(page.locator("[data-machine=lathe-1] [data-count=scrap]")).to_have_text("2")
    assert page.evaluate("window.__noReload") == 42  # same document: updated live, not reloaded
    expect(page.locator("[data-order=WO-LIVE-1]")).to_contain_text(
        "/ 500"
    )  # the order's count is its last step
    expect(page.locator("[data-alert=machine_down]")).to_contain_text("lathe-1", timeout=15_000)
    expect(page.locator("[data-alert=scrap_rate]")).to_contain_text("lathe-1")  # 2 of 17 today
    expect(page.locator("#scrap-lines [data-line='Line A'] [data-rate]")).to_have_text("11.8%")
    expect(page.locator("[data-alert=order_late]")).to_contain_text("WO-LATE-1")
    expect(page.locator("a[data-alert=machine_down]")).to_have_attribute("href", "/boss/machines/lathe-1")
    expect(page.locator("a[data-alert=order_late]")).to_have_attribute("href", "/boss/orders/WO-LATE-1")
    expect(page.locator("[data-order=WO-LIVE-1] [data-status]")).to_have_text("in progress")
    expect(page.locator("[data-order=WO-LATE-1] [data-status]")).to_have_text("released")
    live_box = page.locator("#live-status").bounding_box()
    assert live_box is not None and live_box["y"] < 150  # at the top of a 2,000 px page, not the bottom
    expect(page.locator("[data-alert=data_loss]")).to_contain_text(f"{EDGE} lost 25 samples from ")
    expect(page.locator("[data-alert=data_loss]")).to_contain_text(f"{start} to ")
    expect(page.locator("[data-alert=data_loss]")).to_contain_text(end)
    expect(page.locator("#orders [data-order]").first).to_have_attribute(
        "data-order", "WO-LATE-1"
    )  # late first
    shot(page, artifacts, "boss-phone-en")
    page.goto(live.url("/boss?lang=zh-CN"))
    expect(page.locator("#kpis")).to_contain_text("今日良品")
    expect(page.locator("[data-alert=data_loss]")).to_contain_text(f"至 {end} 的 25 个采样")
    shot(page, artifacts, "boss-phone-zh")

    page.click("[data-order=WO-LIVE-1]")
    expect(page.locator("#operations")).to_contain_text("turn")
    expect(page.locator("#operations tr", has_text="turn")).to_contain_text(
        "15 / 2"
    )  # step 10's machine count
    page.goto(live.url("/boss/machines/lathe-1"))
    expect(page.locator("#timeline span.st-fault")).to_have_count(1)
    expect(page.locator("#chart canvas")).to_have_count(
        1, timeout=10_000
    )  # uPlot drew the historian's series
    shot(page, artifacts, "boss-machine-zh")

    link = ok(
        live.http.post(
            "/api/v1/work-orders/WO-LIVE-1/share-links",
            json={"show_scrap": True},
            headers=live.plant.as_("planner"),
        ),
        201,
    )
    customer = new_page("phone", "zh-CN")
    customer.goto(live.url(f"/s/{link['token']}"))
    expect(customer.locator("[data-step='10']")).to_contain_text("15 / 500")  # step 10 made 15 good, 2 scrap
    expect(customer.locator("[data-step='10']")).to_contain_text("2")
    expect(customer.locator("#good")).to_have_text("0")  # the order counts what its last step (packing) made
    expect(customer.locator("body")).not_to_contain_text("WO-LIVE-1")
    expect(customer.locator("body")).to_contain_text("生产中")
    shot(customer, artifacts, "share-phone-zh")
    rereads: list[str] = []
    quiet = new_page("phone", "en")
    quiet.add_init_script("window.setInterval = function () { return 0; };")  # no timed re-reads: events only
    login(quiet, live, "supervisor1")
    expect(quiet.locator("[data-machine=lathe-1]")).to_have_attribute("data-state", "fault")
    quiet.on("request", lambda r: rereads.append(r.url) if "/boss/fragment" in r.url else None)
    good = int(quiet.locator("[data-machine=lathe-1] [data-count=good]").inner_text())
    edge.send("lathe-1", state=3, running=0, good_count=1020, scrap_count=12, temperature=43.0)  # counts only
    expect(quiet.locator("[data-machine=lathe-1] [data-count=good]")).to_have_text(str(good + 5))
    quiet.wait_for_timeout(2500)
    assert rereads == []  # a count moves its tile's numbers; the page is not fetched again for it
    edge.send(
        "lathe-1", state=2, running=1, good_count=1021, scrap_count=12, temperature=43.0
    )  # running again
    expect(quiet.locator("[data-machine=lathe-1]")).to_have_attribute("data-state", "running")
    quiet.wait_for_timeout(1000)
    assert len(rereads) == 1  # a change of state re-reads the figures it implies (alerts, OEE, orders)


def test_operator_session_cannot_open_boss_or_admin(live: LiveServer, new_page: PageFactory) -> None:
    add_user(live.plant, "operator", "op-web")
    page = new_page("phone", "en")
    login(page, live, "op-web")
    for path in ("/boss", "/admin", "/admin/users"):
        response = page.goto(live.url(path))
        assert response is not None and response.status == 403, path
        expect(page.locator("#error-message")).to_have_text("Your role may not open this page.")

"""Times in the site's zone with the server's clock fixed (server/core/clock.py): the boss page read in
Chromium at 02:45 in Asia/Shanghai (still the evening before in UTC), and the boss page, order page and share
link across the autumn DST change in Europe/Berlin. The ETA, the order page and the share page's dates are
local."""

from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest
from playwright.sync_api import expect

from server.core import clock
from tests.server.factory import make_order, ok
from tests.web.conftest import ADMIN, LiveServer, PageFactory, login

SHANGHAI_0200 = datetime(2026, 12, 4, 18, 0, tzinfo=UTC)  # 02:00 on 12-05 in Shanghai
SHANGHAI_0245 = datetime(2026, 12, 4, 18, 45, tzinfo=UTC)
BERLIN_0130 = datetime(2026, 10, 24, 23, 30, tzinfo=UTC)  # 01:30 CEST on the 25th
BERLIN_0215 = datetime(2026, 10, 25, 0, 15, tzinfo=UTC)  # 02:15 CEST; at 01:00 UTC clocks go back to 02:00


@pytest.fixture
def zone(live: LiveServer) -> Iterator[None]:
    yield
    ok(live.http.patch("/api/v1/sites/demo", json={"timezone": "UTC"}, headers=ADMIN))


def _running_order(live: LiveServer, number: str, tz: str, started: datetime, machine: str) -> str:
    """An order of 100 whose first step ran since `started` and made 30 (reported by hand); its share link's
    token. In 45 minutes that is 40 an hour: 100 to go (the last step's count) is 2 h 30 min."""
    ok(live.http.patch("/api/v1/sites/demo", json={"timezone": tz}, headers=ADMIN))
    with clock.fixed(started):
        make_order(live.plant, number, 100, due_date="2026-12-31", count_source="manual")
        ok(live.http.post(f"/api/v1/work-orders/{number}/release", headers=live.plant.as_("planner")))
        ok(live.http.post(f"/api/v1/work-orders/{number}/start", json={"step_no": 10, "machine": machine},
                          headers=live.plant.as_("supervisor")))  # fmt: skip  # plant-wide: any machine
        report = {"step_no": 10, "good": 30}
        ok(live.http.post(f"/api/v1/work-orders/{number}/reports", json=report,
                          headers=live.plant.as_("supervisor")), 201)  # fmt: skip
        link = ok(live.http.post(f"/api/v1/work-orders/{number}/share-links", json={"days": 10},
                                 headers=live.plant.as_("planner")), 201)  # fmt: skip
    live.reset_share_limiter()
    return str(link["token"])


@pytest.mark.browser
def test_boss_at_0245_in_shanghai_reads_local_times(
    live: LiveServer, new_page: PageFactory, zone: None
) -> None:
    token = _running_order(live, "WO-TZ-SH", "Asia/Shanghai", SHANGHAI_0200, "lathe-1")
    with clock.fixed(SHANGHAI_0245):  # ETA 21:15 UTC on 12-04: 05:15 on 12-05 in Shanghai
        page = new_page("phone", "zh-CN")
        login(page, live, "supervisor1", "/boss")
        eta = page.locator("[data-order=WO-TZ-SH] [data-key=eta]")
        expect(eta).to_have_text("12-05 05:15")
        page.click("[data-order=WO-TZ-SH]")
        expect(page.locator("#eta")).to_have_text("2026-12-05 05:15")
        page.goto(live.url(f"/s/{token}"))
        expect(page.locator("#eta")).to_have_text("2026-12-05")
        expect(page.locator("body")).to_contain_text("2026-12-15")  # valid until: made 12-05 02:00, +10 days
        view = ok(live.http.get(f"/s/{token}.json"))
    assert view["eta"] == "2026-12-05T05:15:00+08:00" and view["expires"] == "2026-12-15"
    with httpx.Client(base_url=live.base, headers={"Origin": live.base}) as planner:
        body = {"username": "planner1", "password": live.plant.passwords["planner1"]}
        assert planner.post("/login", data=body).status_code == 303
        assert "<td>2026-12-15</td>" in planner.get("/admin/orders/WO-TZ-SH").text  # the link's expiry, local


def test_berlin_across_the_dst_change(live: LiveServer, zone: None) -> None:
    token = _running_order(live, "WO-TZ-BER", "Europe/Berlin", BERLIN_0130, "lathe-2")
    with clock.fixed(BERLIN_0215), httpx.Client(base_url=live.base, headers={"Origin": live.base}) as boss:
        body = {"username": "supervisor1", "password": live.plant.passwords["supervisor1"]}
        assert boss.post("/login", data=body).status_code == 303
        # 02:15 CEST + 2 h 30 min is 03:45 CET (an hour is repeated), not 04:45
        fragment = boss.get("/boss/fragment").text
        assert '<span data-key="eta">10-25 03:45</span>' in fragment
        assert '<span id="eta">2026-10-25 03:45</span>' in boss.get("/boss/orders/WO-TZ-BER").text
        view = ok(live.http.get(f"/s/{token}.json"))
    assert view["eta"] == "2026-10-25T03:45:00+01:00"
    assert view["expires"] == "2026-11-04"  # 01:30 CEST + 10 days = 00:30 CET on 11-04 (23:30 UTC on 11-03)

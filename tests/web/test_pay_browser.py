"""The operator's own figure on the station tablet, in Chromium: after the badge sign-in the page shows the
operator's pieces and pay today and this period, and both update after a work report is sent."""

import pytest
from playwright.sync_api import expect

from tests.server.factory import ok
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

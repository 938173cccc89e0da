"""Every page in 简体中文 and English at phone (390x844) and tablet (1280x800) sizes: the right language,
nothing wider than the screen on a phone, a screenshot of each in test-artifacts/."""

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.server.factory import add_user, ok
from tests.web.conftest import LiveServer, PageFactory, enroll_and_sign_in, login, shot, start_order

pytestmark = pytest.mark.browser
# page -> (zh-CN text, en text) that must be on it
EXPECTED = {
    "boss": ("今日良品", "Good today"),
    "station": ("报工", "Report good / scrap"),
    "share": ("您的订单", "Your order"),
    "admin": ("新建工单", "New work order"),
    "login": ("用户名", "Username"),
}


@pytest.fixture(scope="module")
def share_token(live: LiveServer) -> str:
    start_order(live, "WO-PAGES-1", 120, due_date="2030-03-01")
    add_user(live.plant, "admin", "admin-web")
    body = {"days": 10}
    link = ok(live.http.post("/api/v1/work-orders/WO-PAGES-1/share-links", json=body,
                             headers=live.plant.as_("planner")), 201)  # fmt: skip
    return str(link["token"])


def _fits(page: Page) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"))


@pytest.mark.parametrize("size", ["phone", "tablet"])
@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_every_page_in_both_languages_and_sizes(
    live: LiveServer, new_page: PageFactory, artifacts: Path, share_token: str, lang: str, size: str
) -> None:
    index = 0 if lang == "zh-CN" else 1
    page = new_page(size, lang)
    visits = {
        "login": lambda: page.goto(live.url("/login")),
        "share": lambda: page.goto(live.url(f"/s/{share_token}")),
        "station": lambda: enroll_and_sign_in(page, live),
        "boss": lambda: login(page, live, "supervisor1", "/boss"),
        "admin": lambda: (page.context.clear_cookies(), login(page, live, "admin-web", "/admin")),
    }
    for name, visit in visits.items():
        visit()
        expect(page.locator("html")).to_have_attribute("lang", lang if lang == "en" else "zh-CN")
        expect(page.locator("body")).to_contain_text(EXPECTED[name][index])
        expect(page.locator("body")).not_to_contain_text(EXPECTED[name][1 - index])
        shot(page, artifacts, f"{name}-{size}-{lang}")
        if (
            size == "phone" and name != "admin"
        ):  # admin tables may scroll sideways; the floor's pages must not
            assert _fits(page), f"{name} is wider than a {size} screen"

"""The customer's page as the factory chose it (issue 13): a link made on the order's admin page with scrap
left hidden and the customer's PO as its reference shows the PO on top and no scrap anywhere, in its HTML
nor its JSON, in real Chromium on a phone (390x844) in zh and en; a link that shows scrap shows it."""

import httpx
import pytest

from tests.server.factory import make_order, ok
from tests.web.conftest import LiveServer, PageFactory

SCRAP = 7


def _made(live: LiveServer) -> None:
    if live.shared.get("share-options"):
        return
    make_order(live.plant, "WO-SCRAP", 200, count_source="manual")  # the operators' reports count
    planner, operator = live.plant.as_("planner"), live.plant.as_("operator")
    ok(live.http.post("/api/v1/work-orders/WO-SCRAP/release", headers=planner))
    start = {"step_no": 10, "machine": "lathe-1"}
    ok(live.http.post("/api/v1/work-orders/WO-SCRAP/start", json=start, headers=operator))
    report = {"good": 40, "scrap": SCRAP, "scrap_reason": "burr"}
    ok(live.http.post("/api/v1/work-orders/WO-SCRAP/reports", json=report, headers=operator), 201)
    live.shared["share-options"] = True


def _planner(live: LiveServer) -> httpx.Client:
    client = httpx.Client(base_url=live.base, headers={"Origin": live.base}, timeout=20)
    form = {"username": "planner1", "password": live.plant.passwords["planner1"]}
    assert client.post("/login", data=form).status_code == 303
    return client


def _link_from_the_page(live: LiveServer, **form: str) -> str:
    """A share link made with the order page's form; its /s/ URL."""
    planner = _planner(live)
    try:
        made = planner.post("/admin/orders/WO-SCRAP/share-links", data={"days": "30", **form})
    finally:
        planner.close()
    assert made.status_code == 201, made.text
    return "/s/" + made.text.split("/s/", 1)[1].split('"', 1)[0].split("<", 1)[0]


@pytest.mark.parametrize("locale", ["zh-CN", "en"])
def test_scrap_hidden_and_the_customers_po_on_top(
    live: LiveServer, new_page: PageFactory, locale: str
) -> None:
    _made(live)
    url = _link_from_the_page(live, customer_ref="PO-88231", show_progress="true", show_eta="true",
                              show_inspections="true")  # fmt: skip
    data = ok(live.http.get(url + ".json"))
    assert data["reference"] == "PO-88231" and data["steps"][0]["good"] == 40
    assert "scrap" not in data and all("scrap" not in step for step in data["steps"])
    page = new_page("phone", locale)
    page.goto(live.base + url)
    reference = page.locator("#reference")
    assert reference.inner_text() == "PO-88231"
    box = reference.bounding_box()
    assert box is not None and box["y"] < 300  # on top, in the first screen of a phone
    html = page.content()
    assert 'id="scrap"' not in html and "报废" not in html and "Scrap" not in html
    assert str(SCRAP) not in page.locator("#steps").inner_text()


def test_a_link_that_shows_scrap_shows_it(live: LiveServer, new_page: PageFactory) -> None:
    _made(live)
    url = _link_from_the_page(live, show_progress="true", show_scrap="true")
    data = ok(live.http.get(url + ".json"))
    assert "scrap" in data and data["steps"][0]["scrap"] == SCRAP and data["reference"] is None
    page = new_page("phone", "en")
    page.goto(live.base + url)
    assert page.locator("#scrap").count() == 1 and f"Scrap {SCRAP}" in page.locator("#steps").inner_text()

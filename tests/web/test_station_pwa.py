"""The station tablet as an installable app, in real Chromium: the web manifest and its icons, and the issue's
done-when: the station page reloads offline from the service worker and still sends its queued report once."""

from io import BytesIO

import pytest
from PIL import Image
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import expect
from sqlmodel import Session, select

from server.domain import workorders as wo
from server.models.production import WorkReport
from server.web.app_icons import ICON_DIR, ICONS, draw
from tests.server.factory import make_order, ok
from tests.web.conftest import (
    LiveServer,
    PageFactory,
    enroll_and_sign_in,
    offline_ready,
    start_order,
    wait_until,
)

pytestmark = pytest.mark.browser


def _reports(live: LiveServer, number: str) -> list[WorkReport]:
    with Session(live.engine) as session:
        order = wo.get(session, number)
        return list(session.exec(select(WorkReport).where(WorkReport.work_order_id == order.id)).all())


@pytest.fixture(scope="module")
def job(live: LiveServer) -> str:
    start_order(live, "WO-PWA-1", 500)
    return "WO-PWA-1"


@pytest.mark.parametrize("locale", ["zh-CN", "en"])
def test_station_reloads_offline_and_sends_its_queued_report_once(
    live: LiveServer, new_page: PageFactory, job: str, locale: str
) -> None:
    page = new_page("tablet", locale)
    enroll_and_sign_in(page, live)
    expect(page.locator("#job")).to_have_attribute("data-number", job)
    offline_ready(page)
    before = len(_reports(live, job))

    page.context.set_offline(True)
    later = f"WO-PWA-LATER-{locale}"  # released while the tablet is offline: its kept page cannot know it
    make_order(live.plant, later, 10)
    ok(live.http.post(f"/api/v1/work-orders/{later}/release", headers=live.plant.as_("planner")))
    response = page.reload()
    assert response is not None and response.from_service_worker and response.ok
    page.wait_for_function("() => window.taktStation !== undefined")
    expect(page.locator("#job")).to_have_attribute("data-number", job)
    expect(page.locator("#queue")).not_to_contain_text(later)
    assert page.evaluate("navigator.onLine") is False
    page.click("#btn-report")
    page.fill("#report-good", "3")
    page.click("#report-send")
    expect(page.locator("#pending-count")).to_have_text("1")
    expect(page.locator("#pending-note")).to_be_visible()  # queued offline, said so
    key = page.evaluate("window.taktStation.outbox()[0].key")
    assert len(_reports(live, job)) == before

    page.context.set_offline(False)
    expect(page.locator("#pending")).to_be_hidden(timeout=15_000)
    rows = _reports(live, job)
    assert len(rows) == before + 1
    assert [(r.good, r.idempotency_key) for r in rows if r.idempotency_key == key] == [(3, key)]


def test_manifest_and_icons(live: LiveServer, new_page: PageFactory) -> None:
    page = new_page("phone", "en")
    enroll_and_sign_in(page, live)
    href = page.locator("link[rel=manifest]").get_attribute("href")
    assert href == "/station/st-lathe-1/manifest.webmanifest"
    answer = page.request.get(live.url(href))
    assert answer.ok and answer.headers["content-type"].startswith("application/manifest+json")
    manifest = answer.json()
    assert manifest["start_url"] == "/station/st-lathe-1" and manifest["display"] == "standalone"
    assert manifest["scope"] == "/station/" and manifest["lang"] == "en"
    sizes = set()
    for icon in manifest["icons"]:
        png = page.request.get(live.url(icon["src"]))
        assert png.ok and png.headers["content-type"] == "image/png"
        image = Image.open(BytesIO(png.body()))
        assert f"{image.width}x{image.height}" == icon["sizes"]
        sizes.add((image.width, icon["purpose"]))
    assert {(192, "any"), (512, "any"), (512, "maskable")} <= sizes
    anonymous = new_page("phone", "en").request.get(live.url(href))
    assert anonymous.status == 403  # an unenrolled browser learns nothing about the station


def test_committed_icons_are_what_the_generator_draws() -> None:
    for name, (size, maskable) in ICONS.items():
        committed = Image.open(ICON_DIR / name).convert("RGBA")
        drawn = Image.open(BytesIO(draw(size, maskable))).convert("RGBA")
        assert committed.size == (size, size) and committed.tobytes() == drawn.tobytes(), name


def test_signing_out_drops_the_kept_page(live: LiveServer, new_page: PageFactory, job: str) -> None:
    """The kept page holds the operator's token: after sign-out it is gone, and offline the tablet no longer
    opens the signed-in page."""
    page = new_page("phone", "en")
    enroll_and_sign_in(page, live)
    offline_ready(page)
    page.click("#signout")
    page.wait_for_selector("#badge")  # the sign-in form, through the worker
    kept = "caches.match('/station/st-lathe-1').then(r => !!r)"
    wait_until(lambda: page.evaluate(kept) is False, what="the kept page dropped")
    page.context.set_offline(True)
    with pytest.raises(PlaywrightError):
        page.reload()
    assert page.locator("#job").count() == 0

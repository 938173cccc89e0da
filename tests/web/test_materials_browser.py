"""Issue by scan and backflush, in Chromium on the station tablet (the keyboard-wedge path: the scanner types
the code and Enter into the focused scan field; and the camera path, with Chromium's fake camera), machine
counts arriving over MQTT from the live fixture's edge publisher: two lots received, issued by scan (one while
offline, through the outbox), an unknown code refused at once, the order run with backflush; stock, the
order's consumption and the finished lot's backward genealogy are exact. The shortage shows in the station
queue and on the boss page before start; a lot label's URL opens its trace page."""

import io
from pathlib import Path

import pytest
import segno
from PIL import Image
from playwright.sync_api import Browser, Page, expect
from pypdf import PdfReader

from tests.server.factory import ok
from tests.web.conftest import (
    CHROMIUM_ARGS,
    LiveServer,
    PageFactory,
    enroll_and_sign_in,
    login,
    shot,
    wait_until,
)

pytestmark = pytest.mark.browser


def _setup(live: LiveServer) -> None:
    """SHAFT-1 (one step on a lathe) takes 0.25 kg of STEEL-6 per part, scrap included; lots S-A (5 kg,
    received first) and S-B (10 kg); WO-MAT-1 (40 parts: 10 kg) first in the queue; WO-MAT-BIG short."""
    planner, operator = live.plant.as_("planner"), live.plant.as_("operator")
    routing = [{"step_no": 10, "name": "turn", "machine_kind": "lathe", "ideal_cycle_s": 20}]
    ok(live.http.post("/api/v1/products", json={"code": "SHAFT-1", "name": "Shaft", "routing": routing},
                      headers=planner), 201)  # fmt: skip
    ok(live.http.post("/api/v1/materials", json={"code": "STEEL-6", "name": "Steel", "unit": "kg"},
                      headers=planner), 201)  # fmt: skip
    line = {"step_no": 10, "material": "STEEL-6", "quantity_per_part": 0.25, "unit": "kg"}
    ok(live.http.put("/api/v1/products/SHAFT-1/bom/1", json={"lines": [line]}, headers=planner))
    for lot, kg in (("S-A", 5), ("S-B", 10)):
        body = {"lot_code": lot, "material": "STEEL-6", "quantity": kg}
        ok(live.http.post("/api/v1/stock/receipts", json=body, headers=operator), 201)
    for number, quantity, priority in (("WO-MAT-1", 40, 900), ("WO-MAT-BIG", 1000, 800)):
        body = {"number": number, "product": "SHAFT-1", "quantity": quantity, "priority": priority}
        ok(live.http.post("/api/v1/work-orders", json=body, headers=planner), 201)
        ok(live.http.post(f"/api/v1/work-orders/{number}/release", headers=planner))


def _scan(page: Page, text: str) -> None:
    """What a keyboard-wedge scanner does: type into the focused field, then Enter."""
    expect(page.locator("#scan-input")).to_be_focused()
    page.keyboard.type(text)
    page.keyboard.press("Enter")


def _sent(page: Page) -> None:
    expect(page.locator("#pending")).to_be_hidden(timeout=10_000)  # the outbox is empty


def _steel(live: LiveServer) -> dict[tuple[str, str], float]:
    rows = ok(live.http.get("/api/v1/stock/on-hand/STEEL-6", headers=live.plant.as_("operator")))["lots"]
    return {(b["lot"], b["location"]): b["quantity"] for b in rows}


def test_issue_by_scan_then_backflush(live: LiveServer, new_page: PageFactory, artifacts: Path) -> None:
    _setup(live)
    page = new_page("tablet", "zh-CN")
    enroll_and_sign_in(page, live)
    expect(page.locator("#job")).to_have_attribute("data-number", "WO-MAT-1")
    expect(page.locator("#material-warning")).to_contain_text("尚未领料")
    expect(page.locator("[data-shortage=WO-MAT-BIG]")).to_contain_text("缺料")  # 250 kg needed, 15 in stock
    expect(page.locator("[data-shortage=WO-MAT-BIG]")).to_contain_text("STEEL-6 235")
    _scan(page, "BOGUS-7")
    expect(page.locator("#scan-message")).to_contain_text("未知编码 BOGUS-7")
    _scan(page, "S-A")
    expect(page.locator("#scan-message")).to_contain_text("批次 S-A：领料已保存")
    _sent(page)
    page.context.set_offline(True)  # Wi-Fi gone: the scan waits in the outbox
    _scan(page, live.url("/l/S-B"))  # a lot label's QR holds its URL
    expect(page.locator("#pending-list")).to_contain_text("S-B")
    page.context.set_offline(False)
    _sent(page)
    assert _steel(live) == {("S-A", "wo:WO-MAT-1"): 5.0, ("S-B", "wo:WO-MAT-1"): 10.0}
    page.reload()
    page.wait_for_function("window.taktStation !== undefined")
    expect(page.locator("#material-warning")).to_have_count(0)
    page.click("#btn-start")
    expect(page.locator("#job")).to_have_attribute("data-status", "running")
    edge = live.edge()
    edge.send("lathe-1", state=2, running=1, good_count=2000, scrap_count=100)  # baseline
    for good, scrap in ((2010, 100), (2020, 101), (2030, 102)):  # 30 good + 2 scrap = 32 parts x 0.25 = 8 kg
        edge.send("lathe-1", state=2, running=1, good_count=good, scrap_count=scrap)
    expect(page.locator("#count-good")).to_have_text("30", timeout=10_000)
    wait_until(lambda: _steel(live).get(("S-B", "wo:WO-MAT-1")) == 7.0, timeout=10)
    assert _steel(live) == {("S-B", "wo:WO-MAT-1"): 7.0}  # S-A (oldest) used up first: 5 kg, then 3 of S-B
    moves = ok(live.http.get("/api/v1/stock/moves", params={"work_order": "WO-MAT-1"},
                             headers=live.plant.as_("operator")))["items"]  # fmt: skip
    consumed: dict[str, float] = {}
    for m in moves:  # one consume move per lot per count batch that reached the server
        if m["kind"] == "consume":
            consumed[m["lot"]] = round(consumed.get(m["lot"], 0) - m["quantity"], 6)
    assert consumed == {"S-A": 5.0, "S-B": 3.0}
    assert next(m["lot"] for m in moves if m["kind"] == "consume") == "S-A"  # the oldest lot first
    back = ok(live.http.get("/api/v1/lots/FG-WO-MAT-1/trace", params={"direction": "backward"},
                            headers=live.plant.as_("operator")))  # fmt: skip
    assert sorted(n["lot"] for n in back["lots"]) == ["S-A", "S-B"]
    fg = ok(live.http.get("/api/v1/lots/FG-WO-MAT-1", headers=live.plant.as_("operator")))
    assert (fg["material"], fg["quantity"]) == ("SHAFT-1", 30)
    page.reload()
    expect(page.locator("#components [data-material=STEEL-6] [data-consumed]")).to_have_text("8.0")
    shot(page, artifacts, "station-materials")


def test_boss_page_shows_the_shortage_before_start(live: LiveServer, new_page: PageFactory) -> None:
    """WO-MAT-BIG (released, not started) needs 250 kg of steel; the stock cannot cover it."""
    ok(live.http.get("/api/v1/work-orders/WO-MAT-BIG", headers=live.plant.as_("planner")))  # set up above
    page = new_page("phone", "en")
    login(page, live, "supervisor1", "/boss")
    row = page.locator("#shortages [data-shortage=WO-MAT-BIG]")
    expect(row).to_contain_text("Material short: STEEL-6 250.0 kg")
    expect(page.locator("#shortages [data-shortage=WO-MAT-1]")).to_have_count(0)  # issued and running


def test_planner_sees_the_shortage_list(live: LiveServer, new_page: PageFactory) -> None:
    """The planner's material page: WO-MAT-BIG (undated: always listed) lacks 250 kg; the stock totals."""
    page = new_page("tablet", "zh-CN")
    login(page, live, "planner1", "/admin/materials?days=3")
    row = page.locator("#shortages [data-order=WO-MAT-BIG][data-material=STEEL-6]")
    expect(row.locator("[data-short]")).to_have_text("250.0")
    expect(page.locator("h2").first).to_have_text("缺料清单")
    expect(page.locator("#stock [data-material=STEEL-6] [data-on-hand]")).to_have_text("0.0 kg")  # all issued


def test_a_lot_label_scanned_on_a_tablet_opens_its_trace(live: LiveServer, new_page: PageFactory) -> None:
    """The label's QR URL (/l/S-A) on the enrolled station tablet: S-A went into FG-WO-MAT-1, made on lathe-1;
    the finished lot's page lists both steel lots back (zh), a signed-in boss reads it in English."""
    page = new_page("tablet", "zh-CN")
    enroll_and_sign_in(page, live)
    page.goto(live.url("/l/S-A"))
    expect(page.locator("#lot")).to_have_attribute("data-lot", "S-A")
    expect(page.locator("#forward [data-lot=FG-WO-MAT-1]")).to_contain_text("WO-MAT-1")
    expect(page.locator("h2").first).to_have_text("此批次用了什么（追溯来源）")
    page.click("#forward a")
    expect(page.locator("#lot")).to_have_attribute("data-lot", "FG-WO-MAT-1")
    expect(page.locator("#produced-by")).to_have_text("WO-MAT-1")
    assert page.locator("#backward [data-lot]").evaluate_all("rows => rows.map(r => r.dataset.lot)") == [
        "S-A",
        "S-B",
    ]
    expect(page.locator("[data-order=WO-MAT-1] [data-step='10'] [data-machines]")).to_have_text("lathe-1")
    pdf = page.request.get(live.url("/lots/FG-WO-MAT-1/label.pdf?format=thermal"))  # the tablet's cookies
    assert pdf.status == 200 and pdf.body().startswith(b"%PDF-")
    assert "FG-WO-MAT-1" in PdfReader(io.BytesIO(pdf.body())).pages[0].extract_text()
    assert (
        "成品 Finished goods" in PdfReader(io.BytesIO(pdf.body())).pages[0].extract_text()
    )  # its order's label
    boss = new_page("phone", "en")
    login(boss, live, "supervisor1", "/lots/FG-WO-MAT-1")
    expect(boss.locator("h2").first).to_have_text("What went into this lot")
    expect(boss.locator("[data-print]")).to_be_visible()
    anonymous = new_page("phone", "en")
    anonymous.goto(live.url("/lots/S-A"))
    expect(anonymous.locator("input[name=username]")).to_be_visible()  # not a tablet, not signed in: sign in


def _qr_video(path: Path, text: str) -> Path:
    """A Y4M file (what Chromium's fake camera plays) of a lot label's QR code on white, 640 x 480."""
    qr = segno.make(text, error="m")
    buffer = io.BytesIO()
    qr.save(buffer, kind="png", scale=8, border=4)
    frame = Image.new("L", (640, 480), 255)
    code = Image.open(buffer).convert("L")
    frame.paste(code, ((640 - code.width) // 2, (480 - code.height) // 2))
    y = frame.tobytes()
    chroma = bytes([128]) * (320 * 240)  # grey: no colour
    with path.open("wb") as out:
        out.write(b"YUV4MPEG2 W640 H480 F10:1 Ip A1:1 C420jpeg\n")
        for _ in range(10):
            out.write(b"FRAME\n" + y + chroma + chroma)
    return path


def test_camera_scan_issues_the_lot(live: LiveServer, browser: Browser, tmp_path: Path) -> None:
    """The camera path: Chromium's fake camera shows a label's QR; the page decodes it (Chromium on Linux has
    no BarcodeDetector: the vendored jsQR) and issues the lot to the running order (WO-MAT-1)."""
    body = {"lot_code": "S-CAM", "material": "STEEL-6", "quantity": 2}
    ok(live.http.post("/api/v1/stock/receipts", json=body, headers=live.plant.as_("operator")), 201)
    video = _qr_video(tmp_path / "label.y4m", live.url("/l/S-CAM"))
    args = [*CHROMIUM_ARGS, "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
            f"--use-file-for-fake-video-capture={video}"]  # fmt: skip
    camera = browser.browser_type.launch(executable_path="/usr/bin/chromium", args=args)
    try:
        context = camera.new_context(viewport={"width": 1280, "height": 800}, locale="en")
        context.grant_permissions(["camera"])
        page = context.new_page()
        enroll_and_sign_in(page, live)
        expect(page.locator("#job")).to_have_attribute("data-number", "WO-MAT-1")
        page.click("#scan-camera")
        expect(page.locator("#scan-message")).to_contain_text("Lot S-CAM: issue saved", timeout=15_000)
        _sent(page)
    finally:
        camera.close()
    assert _steel(live)[("S-CAM", "wo:WO-MAT-1")] == 2.0


def test_receiving_a_lot_on_the_page(live: LiveServer, new_page: PageFactory, tmp_path: Path) -> None:
    """The planner receives a lot with its certificate and lands on its page (labels there); a fake PDF
    certificate is refused before anything is booked."""
    page = new_page("tablet", "en")
    login(page, live, "planner1", "/admin/materials")
    fake = tmp_path / "mill.pdf"
    fake.write_bytes(b"<html><script>alert(1)</script></html>")
    page.click("text=Receive a lot")
    page.fill("#receive [name=lot_code]", "S-FORM-2")
    page.select_option("#receive [name=material]", "STEEL-6")
    page.fill("#receive [name=quantity]", "7.5")
    page.set_input_files("#receive [name=certificate]", str(fake))
    page.click("#receive button[type=submit]")
    expect(page.locator("body")).to_contain_text("not the image or PDF its name says")
    assert live.http.get("/api/v1/lots/S-FORM-2", headers=live.plant.as_("planner")).status_code == 404
    real = tmp_path / "cert.pdf"
    real.write_bytes(b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n")
    page.goto(live.url("/admin/materials"))
    page.click("text=Receive a lot")
    page.fill("#receive [name=lot_code]", "S-FORM-1")
    page.select_option("#receive [name=material]", "STEEL-6")
    page.fill("#receive [name=quantity]", "7.5")
    page.fill("#receive [name=supplier_lot]", "BS-9")
    page.set_input_files("#receive [name=certificate]", str(real))
    page.click("#receive button[type=submit]")
    expect(page.locator("#lot")).to_have_attribute("data-lot", "S-FORM-1")
    expect(page.locator(".flash")).to_have_text("Received")
    expect(page.locator("#lot-facts")).to_contain_text("BS-9")
    expect(page.locator("#lot-facts")).to_contain_text("on file")
    assert _steel(live)[("S-FORM-1", "WH")] == 7.5

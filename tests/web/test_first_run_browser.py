"""The first-run path in real Chromium: an empty server logs a one-time code; `/setup` without it is a 404;
a bad time zone comes back on the form with the values kept (phone, zh); the set-up signs the first admin
in to /admin; afterwards the page and the code are dead (tablet, en). Then issue 13's done-when, from an
empty server to a short completion confirmed and reopened."""

import logging
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect
from sqlmodel import Session, select

from server.core.db import init_db, make_engine
from server.core.services import services_of
from server.main import create_app
from server.models.plant import Site
from server.models.shifts import Shift
from tests.support.ports import free_port
from tests.web.conftest import PageFactory, ThreadServer, core_settings

PASSWORD = "first-admin-pw-1"


@pytest.fixture
def empty_server(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> Iterator[tuple[str, str, object]]:
    """A server on an empty database (MQTT off), and the setup address it logged."""
    db_url = f"sqlite:///{tmp_path / 'takt.db'}"
    settings = core_settings(db_url, 1, mqtt_enabled=False, site="works", data_dir=tmp_path / "data")
    engine = make_engine(db_url)
    init_db(engine)
    port = free_port()
    settings.public_url = f"http://127.0.0.1:{port}"
    app = create_app(settings, engine=engine)
    server = ThreadServer(app, port)
    with caplog.at_level(logging.WARNING, logger="server.web.first_run"):
        server.start()
    logged = re.search(r"(http://\S+/setup\?code=\S+)", caplog.text)
    assert logged is not None, caplog.text
    try:
        yield settings.public_url, logged.group(1), (app, engine)
    finally:
        server.stop()
        engine.dispose()


def test_first_run_sets_up_site_and_admin(
    empty_server: tuple[str, str, object], new_page: PageFactory
) -> None:
    base, setup_url, (app, engine) = empty_server  # type: ignore[misc]
    phone = new_page("phone", "zh-CN")
    assert phone.goto(f"{base}/setup").status == 404  # type: ignore[union-attr]
    assert phone.goto(f"{base}/setup?code=guessed").status == 404  # type: ignore[union-attr]
    assert phone.goto(setup_url).status == 200  # type: ignore[union-attr]
    expect(phone.locator("h1")).to_have_text("设置本厂")
    phone.fill("input[name=site_name]", "苏州精工")
    phone.fill("input[name=timezone]", "Asia/Atlantis")
    phone.fill("input[name=admin_username]", "wang")
    phone.fill("input[name=admin_password]", PASSWORD)
    phone.click("button[type=submit]")
    expect(phone.locator("#setup-error")).to_contain_text("Asia/Atlantis")
    expect(phone.locator("input[name=site_name]")).to_have_value("苏州精工")  # the form kept
    expect(phone.locator("input[name=admin_username]")).to_have_value("wang")
    phone.fill("input[name=timezone]", "Asia/Shanghai")
    phone.fill("input[name=admin_password]", PASSWORD)
    phone.fill("textarea[name=shifts]", "白班 08:00-17:00 1-6 休息 12:00-13:00\n夜班 20:00-04:00 1-5")
    phone.click("button[type=submit]")
    phone.wait_for_url(re.compile(r"/login"))
    phone.fill("input[name=username]", "wang")
    phone.fill("input[name=password]", PASSWORD)
    phone.click("button[type=submit]")
    phone.wait_for_url(re.compile(r"/admin$"))
    assert services_of(app).setup_code is None
    with Session(engine) as session:
        site = session.exec(select(Site).where(Site.code == "works")).one()
        assert (site.name, site.timezone) == ("苏州精工", "Asia/Shanghai")
        assert [s.name for s in session.exec(select(Shift).order_by(Shift.id))] == ["白班", "夜班"]  # type: ignore[arg-type]
    desk = new_page("tablet", "en")
    assert desk.goto(setup_url).status == 404  # type: ignore[union-attr]  # the code is dead
    expect(desk.locator("h1")).to_have_text("Not found")


def _gbk_orders_csv() -> bytes:
    """A work-order CSV as Chinese Excel saves it: GBK, a date as 2026/12/25 and one as 2027年1月5日."""
    text = ("number,product,quantity,due_date,count_source,notes\r\n"
            "WO-CN-1,BRK-9,800,2026/12/25,manual,加急\r\n"
            "WO-CN-2,BRK-9,50,2027年1月5日,manual,\r\n")  # fmt: skip
    return text.encode("gbk")


def test_new_factory_from_setup_to_a_reopened_order(
    empty_server: tuple[str, str, object], new_page: PageFactory
) -> None:
    """Done-when of issue 13: an empty server set up through /setup (phone, zh), the plant made by the
    admin on its pages (shifts, line, machine, station, product, users, tablet), a GBK CSV with Excel dates
    imported through the preview, the order run on the tablet,
    completed short after the confirmation, and reopened by a supervisor (1280x800, en)."""
    base, setup_url, _ = empty_server
    phone = new_page("phone", "zh-CN")
    phone.goto(setup_url)
    phone.fill("input[name=site_name]", "苏州精工")
    phone.fill("input[name=admin_username]", "wang")
    phone.fill("input[name=admin_password]", PASSWORD)
    phone.click("button[type=submit]")
    phone.wait_for_url(re.compile(r"/login"))
    phone.fill("input[name=username]", "wang")
    phone.fill("input[name=password]", PASSWORD)
    phone.click("button[type=submit]")
    phone.wait_for_url(re.compile(r"/admin$"))

    with httpx.Client(base_url=base, timeout=20) as api:
        token = api.post("/api/v1/auth/token", json={"username": "wang", "password": PASSWORD}).json()[
            "token"
        ]
        auth = {"Authorization": f"Bearer {token}"}
        phone.goto(f"{base}/admin/shifts")  # the first-run page's default shift, and one more
        expect(phone.locator("#shifts-table")).to_contain_text("12:00-13:00")
        phone.fill("textarea[name=lines]", "夜班 20:00-04:00 1-5")
        phone.click("form[action='/admin/shifts'] button[type=submit]")
        expect(phone.locator(".flash")).to_have_text("班次已添加")
        expect(phone.locator("#shifts-table tr")).to_have_count(3)
        expect(phone.locator("#shifts-table")).to_contain_text("夜班")
        phone.goto(f"{base}/admin/machines")  # the plant, built on the admin page
        for action, values in (("/admin/lines", {"code": "L1", "name": "一号线"}),
                               ("/admin/machines", {"code": "m1", "name": "车床", "ideal_cycle_s": "20"}),
                               ("/admin/stations", {"code": "st-1", "name": "车床工位"})):  # fmt: skip
            phone.click("#new-plant summary")  # closed again after each create's redirect
            for field, value in values.items():
                phone.fill(f"form[action='{action}'] [name={field}]", value)
            if action == "/admin/stations":
                phone.select_option(f"form[action='{action}'] [name=machine_id]", label="m1 · 车床")
            phone.click(f"form[action='{action}'] button[type=submit]")
            expect(phone.locator(".flash")).to_be_visible()
        machine = api.get("/api/v1/machines/m1", headers=auth).json()
        station = api.get("/api/v1/stations/st-1", headers=auth).json()
        assert (machine["ideal_cycle_s"], station["machine_id"]) == (20.0, machine["id"])

        phone.goto(f"{base}/admin/products")
        phone.click("details:has(form[action='/admin/products']) summary")
        phone.fill("form[action='/admin/products'] input[name=code]", "BRK-9")
        phone.fill("form[action='/admin/products'] input[name=name]", "刹车盘")
        phone.fill("textarea[name=routing]", "10 车削")
        phone.click("form[action='/admin/products'] button[type=submit]")
        for user in (
            ("li", "operator", "B-1", "4321", ""),
            ("zhao", "supervisor", "", "", "supervisor-pw-1"),
        ):
            phone.goto(f"{base}/admin/users")
            phone.click("details:has(form[action='/admin/users']) summary")
            phone.fill("input[name=username]", user[0])
            phone.fill("input[name=display_name]", user[0])
            phone.select_option("select[name=role]", user[1])
            phone.fill("input[name=badge]", user[2])
            phone.fill("input[name=pin]", user[3])
            phone.fill("input[name=password]", user[4])
            phone.click("form[action='/admin/users'] button[type=submit]")
        phone.goto(f"{base}/admin/tablets")
        phone.fill("input[name=name]", "平板一")
        phone.click("#enroll")
        enroll_url = phone.locator("#enroll-url").input_value()

        phone.goto(f"{base}/admin/orders")
        phone.click("details:has(form[action='/admin/orders/import']) summary")
        phone.locator("input[name=file]").set_input_files(
            {"name": "订单.csv", "mimeType": "text/csv", "buffer": _gbk_orders_csv()}
        )
        phone.click("form[action='/admin/orders/import'] button[type=submit]")
        expect(phone.locator("#import-preview")).to_contain_text("2")
        expect(phone.locator("#import-rows")).to_contain_text("加急")
        assert api.get("/api/v1/work-orders/WO-CN-1", headers=auth).status_code == 404  # not yet written
        phone.click("#import-confirm")
        expect(phone.locator("#import-ok")).to_be_visible()
        order = api.get("/api/v1/work-orders/WO-CN-1", headers=auth).json()
        assert (order["due_date"], order["notes"]) == ("2026-12-25", "加急")
        assert api.get("/api/v1/work-orders/WO-CN-2", headers=auth).json()["due_date"] == "2027-01-05"

        phone.goto(f"{base}/admin/orders/WO-CN-1")
        phone.click("form[action='/admin/orders/WO-CN-1/release'] button")
        start = {"step_no": 10, "machine": "m1"}
        assert api.post("/api/v1/work-orders/WO-CN-1/start", json=start, headers=auth).status_code == 200
        report = {"step_no": 10, "good": 29}
        assert api.post("/api/v1/work-orders/WO-CN-1/reports", json=report, headers=auth).status_code == 201

        tablet = new_page("tablet", "en")
        tablet.goto(enroll_url)
        tablet.fill("#badge", "B-1")
        tablet.fill("#pin", "4321")
        tablet.click("#signin")
        expect(tablet.locator("#job")).to_have_attribute("data-number", "WO-CN-1")
        tablet.click("#btn-complete")
        expect(tablet.locator("#short-text")).to_have_text("29 of 800 made: complete anyway?")
        tablet.click("#short-confirm")
        expect(tablet.locator("#job")).not_to_have_attribute("data-number", "WO-CN-1")

        boss = new_page("tablet", "en")
        boss.goto(f"{base}/login?next=/boss/orders/WO-CN-1")
        boss.fill("input[name=username]", "zhao")
        boss.fill("input[name=password]", "supervisor-pw-1")
        boss.click("button[type=submit]")
        boss.goto(f"{base}/boss/orders/WO-CN-1")
        boss.click("[data-reopen='10']")
        expect(boss.locator(".flash")).to_have_text("Operation reopened")
        step = api.get("/api/v1/work-orders/WO-CN-1", headers=auth).json()["operations"][0]
        assert step["status"] == "paused"

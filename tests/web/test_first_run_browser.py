"""The first-run path in real Chromium: an empty server logs a one-time code; `/setup` without it is a 404;
a bad time zone comes back on the form with the values kept (phone, zh); the set-up signs the first admin
in to /admin; afterwards the page and the code are dead (tablet, en)."""

import logging
import re
from collections.abc import Iterator
from pathlib import Path

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

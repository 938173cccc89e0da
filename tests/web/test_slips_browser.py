"""Slips forgiven, in real Chromium: the operator taps complete at 29 of 800, sees the numbers in a dialog
(zh_CN, then en), cancels (still running), then confirms (done); a supervisor reopens the step from the boss
order page and the tablet offers to resume it."""

import pytest
from playwright.sync_api import expect
from sqlmodel import Session, select

from server.models.audit import AuditLog
from tests.server.factory import ok
from tests.web.conftest import LiveServer, PageFactory, enroll_and_sign_in, login, start_order

pytestmark = pytest.mark.browser
NUMBER = "WO-SLIP-1"


def _step_10(live: LiveServer) -> str:
    order = ok(live.http.get(f"/api/v1/work-orders/{NUMBER}", headers=live.plant.as_("planner")))
    return str(next(op["status"] for op in order["operations"] if op["step_no"] == 10))


def test_short_complete_is_confirmed_and_a_supervisor_reopens_it(
    live: LiveServer, new_page: PageFactory
) -> None:
    start_order(live, NUMBER, 800, count_source="manual")
    report = {"step_no": 10, "good": 29}
    ok(
        live.http.post(
            f"/api/v1/work-orders/{NUMBER}/reports", json=report, headers=live.plant.as_("operator")
        ),
        201,
    )
    zh = new_page("tablet", "zh-CN")
    enroll_and_sign_in(zh, live)
    expect(zh.locator("#job")).to_have_attribute("data-number", NUMBER)
    expect(zh.locator("#count-good")).to_have_text("29")
    zh.click("#btn-complete")
    expect(zh.locator("#short-dialog")).to_be_visible()
    expect(zh.locator("#short-text")).to_have_text("已完成 29 / 计划 800：仍然完工吗？")
    zh.click("#short-cancel")
    expect(zh.locator("#short-dialog")).to_be_hidden()
    expect(zh.locator("#job")).to_have_attribute("data-status", "running")
    assert _step_10(live) == "running"

    en = new_page("tablet", "en")
    enroll_and_sign_in(en, live)
    en.click("#btn-complete")
    expect(en.locator("#short-text")).to_have_text("29 of 800 made: complete anyway?")
    en.click("#short-confirm")
    expect(en.locator("#job")).not_to_have_attribute("data-number", NUMBER)  # reloaded: the job is done
    assert _step_10(live) == "done"

    boss = new_page("phone", "en")
    login(boss, live, "supervisor1", f"/boss/orders/{NUMBER}")
    boss.goto(live.url(f"/boss/orders/{NUMBER}"))
    boss.click("[data-reopen='10']")
    expect(boss.locator(".flash")).to_have_text("Operation reopened")
    expect(boss.locator("[data-reopen='10']")).to_have_count(0)  # no longer done
    assert _step_10(live) == "paused"
    with Session(live.engine) as session:
        rows = session.exec(select(AuditLog).where(AuditLog.action == "reopen")).all()
    assert [(r.actor, r.entity) for r in rows] == [("supervisor1", "Operation")]

    en.reload()  # the operator resumes the reopened step; its 29 parts are still counted
    expect(en.locator("#job")).to_have_attribute("data-number", NUMBER)
    expect(en.locator("#job")).to_have_attribute("data-status", "paused")
    expect(en.locator("#btn-resume")).to_be_visible()
    expect(en.locator("#count-good")).to_have_text("29")

"""The alert pages over HTTP against the live server: an admin adds a WeCom channel and a rule through the
forms, the "Send test message" button reaches the robot (a loopback receiver standing in for WeCom, which
is on the internet), the page never shows the robot's key, a refusing robot shows as retrying with the
provider's answer, and a user picks their own mail and rules on /me/alerts (zh_CN and English)."""

from collections.abc import Iterator

import httpx
import pytest
from sqlmodel import Session

from server.models.alerts import AlertRule
from tests.server.factory import add_user
from tests.support.receivers import HttpReceiver
from tests.support.waiting import wait_until
from tests.web.conftest import LiveServer


@pytest.fixture(scope="module")
def admin(live: LiveServer) -> Iterator[httpx.Client]:
    add_user(live.plant, "admin", "admin-alerts")
    form = {"username": "admin-alerts", "password": live.plant.passwords["admin-alerts"]}
    with httpx.Client(base_url=live.base, headers={"Origin": live.base, "Accept-Language": "en"}) as client:
        assert client.post("/login", data=form).status_code == 303
        yield client


def test_channel_form_test_button_and_failing_robot(admin: httpx.Client) -> None:
    good = HttpReceiver().start()
    refusing = HttpReceiver(
        answer=lambda _r: (200, {"errcode": 93000, "errmsg": "invalid webhook url"})
    ).start()
    try:
        for name, receiver in (("floor robot", good), ("stale robot", refusing)):
            form = {
                "name": name,
                "kind": "wecom",
                "lang": "zh_CN",
                "url": receiver.url("/send?key=SECRET-KEY-42"),
            }
            assert admin.post("/admin/alerts/channels", data=form).status_code == 303
        page = admin.get("/admin/alerts").text
        assert "floor robot" in page and "SECRET-KEY-42" not in page and "127.0.0.1" in page
        ids = [int(part.split('"')[0]) for part in page.split('id="channel-')[1:]]
        for channel_id in ids:
            assert admin.post(f"/admin/alerts/channels/{channel_id}/test").status_code == 303
        [got] = wait_until(good.received, what="the test message at the good robot")
        assert got.json()["markdown"]["content"].startswith("**Takt 测试消息**")  # the channel's language
        wait_until(refusing.received, what="a try at the refusing robot")
        wait_until(
            lambda: "invalid webhook url" in admin.get("/admin/alerts").text, what="the robot's answer"
        )
        assert "retrying" in admin.get("/admin/alerts").text
        # the admin points the stale robot at a working one: its waiting message goes there, the error clears
        fixed = {"name": "stale robot", "kind": "wecom", "lang": "en", "url": good.url("/send?key=NEW-KEY-7")}
        assert admin.post(f"/admin/alerts/channels/{ids[1]}", data=fixed).status_code == 303
        wait_until(lambda: len(good.received()) == 2, what="the stale robot's message at its new address")
        assert good.received()[1].query == {"key": ["NEW-KEY-7"]}
        wait_until(
            lambda: "invalid webhook url" not in admin.get("/admin/alerts").text, what="the error cleared"
        )
        assert "NEW-KEY-7" not in admin.get("/admin/alerts").text
    finally:
        good.stop()
        refusing.stop()


def test_rule_form_and_my_alerts(live: LiveServer, admin: httpx.Client) -> None:
    mail = {"name": "office mail", "kind": "email", "smtp_host": "127.0.0.1", "smtp_port": "2525",
            "smtp_mode": "insecure", "email_from": "takt@f.example",
            "email_to": "office@f.example"}  # fmt: skip
    assert admin.post("/admin/alerts/channels", data=mail).status_code == 303
    page = admin.get("/admin/alerts").text
    mail_id = int(page.split('id="channel-')[-1].split('"')[0])
    rule = {"name": "press down", "kind": "machine_down", "threshold": "5", "channel_ids": [str(mail_id)],
            "roles": ["supervisor"], "quiet_from": "22:00", "quiet_to": "06:00"}  # fmt: skip
    assert admin.post("/admin/alerts/rules", data=rule).status_code == 303
    assert "press down" in admin.get("/admin/alerts").text
    bad = admin.post("/admin/alerts/rules", data={**rule, "quiet_from": "25:00"})
    assert bad.status_code == 422  # a clear error page, nothing saved
    page = admin.get("/admin/alerts?lang=zh_CN").text
    rule_id = int(page.split('<tr id="rule-')[-1].split('"')[0])
    editor = page[page.index(f'id="edit-rule-{rule_id}"') :]
    editor = editor[: editor.index("</details>")]
    assert "修改" in editor and 'value="press down"' in editor and 'value="22:00"' in editor
    assert (
        f'name="channel_ids" value="{mail_id}" checked' in editor and 'value="supervisor" checked' in editor
    )
    changed = {**rule, "threshold": "15", "roles": ["supervisor", "planner"], "escalate_after_min": "30",
               "escalate_channel_ids": [str(mail_id)], "quiet_from": "23:00"}  # fmt: skip
    assert admin.post(f"/admin/alerts/rules/{rule_id}", data=changed).status_code == 303

    def stored() -> AlertRule:
        with Session(live.engine) as session:
            found = session.get(AlertRule, rule_id)
            assert found is not None
            return found

    saved = stored()
    assert (saved.threshold, saved.roles, saved.escalate_after_min, saved.quiet_from, saved.enabled) == (
        15.0, ["supervisor", "planner"], 30.0, "23:00", False)  # fmt: skip  # the box unticked: off
    assert admin.post(f"/admin/alerts/rules/{rule_id}", data={**changed, "enabled": "on"}).status_code == 303
    assert stored().enabled is True
    refused = admin.post(f"/admin/alerts/rules/{rule_id}", data={**changed, "quiet_to": "6am"})
    assert refused.status_code == 422 and stored().quiet_to == "06:00"  # nothing of it saved
    add_user(live.plant, "supervisor", "boss-alerts")
    form = {"username": "boss-alerts", "password": live.plant.passwords["boss-alerts"]}
    with httpx.Client(base_url=live.base, headers={"Origin": live.base}) as boss:
        assert boss.post("/login", data=form).status_code == 303
        mine = boss.get("/me/alerts?lang=zh_CN").text
        assert "我的报警" in mine and "press down" in mine and "checked" in mine  # routed to supervisors
        saved = boss.post("/me/alerts", data={"email": "boss@f.example", "lang": "en"})  # every box unticked
        assert saved.status_code == 303
        mine = boss.get("/me/alerts?lang=en").text
        assert "My alerts" in mine and "boss@f.example" in mine and " checked" not in mine


def test_scorecard_on_the_boss_pages_in_both_languages(admin: httpx.Client) -> None:
    """The figures themselves are checked against hand-computed values in tests/server/test_scorecard.py."""
    boss = admin.get("/boss?lang=en").text
    assert 'id="scorecard"' in boss and "Good parts counted by machines" in boss and "/boss/scorecard" in boss
    page = admin.get("/boss/scorecard?lang=zh_CN").text
    assert "自动化记分卡" in page and "机台自动计数的良品占比" in page
    assert page.count('href="/reports/daily?day=') == 30  # every day links to its daily report
    assert "Automation scorecard" in admin.get("/boss/scorecard?lang=en").text

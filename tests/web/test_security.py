"""Page security over HTTP: roles (an operator cannot reach boss or admin actions), CSRF (same-origin check on
cookie-authenticated POSTs), session cookie flags, no open redirect, logout revokes, tablets bound to their
station, work-instruction uploads sanitised."""

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlmodel import Session, col, select

from server.core.db import writer
from server.domain import accounts
from server.domain.security import token_hash
from server.models.auth import Tablet
from server.models.types import utcnow
from tests.server.factory import add_user, ok
from tests.web.conftest import LiveServer, enroll_path
from tests.web.images import TINY_PNG


@pytest.fixture
def browser_like(live: LiveServer) -> Iterator[httpx.Client]:
    """A cookie-keeping client that sends the Origin header a browser sends on a same-site form post."""
    with httpx.Client(base_url=live.base, headers={"Origin": live.base}, timeout=20) as client:
        yield client


def _login(client: httpx.Client, live: LiveServer, username: str) -> httpx.Response:
    return client.post("/login", data={"username": username, "password": live.plant.passwords[username]})


@pytest.mark.faults
def test_operator_cannot_reach_boss_or_admin(live: LiveServer, browser_like: httpx.Client) -> None:
    add_user(live.plant, "operator", "op-sec")
    assert _login(browser_like, live, "op-sec").status_code == 303
    for path in ("/boss", "/boss/fragment", "/boss/orders/x", "/admin", "/admin/users", "/admin/tablets"):
        assert browser_like.get(path).status_code == 403, path
    evil_user = {"username": "evil", "display_name": "E", "role": "admin", "password": "x" * 12}
    attempts = [
        ("/admin/orders", {"number": "WO-HACK", "product": "BRK-100", "quantity": "1"}),
        ("/admin/users", evil_user),
        ("/admin/tablets", {"station": "st-lathe-1", "name": "rogue"}),
    ]
    for path, form in attempts:
        assert browser_like.post(path, data=form).status_code == 403, path
    assert live.http.get("/api/v1/work-orders/WO-HACK", headers=live.plant.as_("planner")).status_code == 404
    users = ok(live.http.get("/api/v1/users", headers=live.plant.as_("admin")))["items"]
    assert "evil" not in {u["username"] for u in users}


def test_station_operator_cookie_is_not_a_boss_session(live: LiveServer) -> None:
    badge = {"badge": "B-operator1", "pin": "4321"}
    with httpx.Client(base_url=live.base, headers={"Origin": live.base}) as tablet:
        tablet.get(enroll_path(live))
        assert tablet.post("/station/st-lathe-1/sign-in", data=badge).status_code == 303
        assert "takt_op" in tablet.cookies
        boss = tablet.get("/boss")
        assert boss.status_code == 303 and boss.headers["location"].startswith("/login")
        assert tablet.get("/admin").status_code == 303
        page = tablet.get("/station/st-lathe-1")
        assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    with httpx.Client(base_url=live.base) as stranger:
        assert stranger.get("/live/events").status_code == 403  # live events need a session or a tablet


def test_cross_site_posts_are_refused(live: LiveServer) -> None:
    add_user(live.plant, "planner", "planner-csrf")
    form = {"number": "WO-CSRF", "product": "BRK-100", "quantity": "5"}
    with httpx.Client(base_url=live.base, headers={"Origin": live.base}) as client:
        assert _login(client, live, "planner-csrf").status_code == 303
        evil = client.post("/admin/orders", data=form, headers={"Origin": "https://evil.example"})
        assert evil.status_code == 403
        del client.headers["Origin"]
        assert client.post("/admin/orders", data=form).status_code == 403  # no Origin, no Referer
        referer = client.post("/admin/orders", data=form, headers={"Referer": f"{live.base}/admin"})
        assert referer.status_code == 303
    assert (
        ok(live.http.get("/api/v1/work-orders/WO-CSRF", headers=live.plant.as_("planner")))["quantity"] == 5
    )


def test_session_cookie_flags_redirects_and_logout(live: LiveServer, browser_like: httpx.Client) -> None:
    form = {
        "username": "supervisor1",
        "next": "//evil.example/x",
        "password": live.plant.passwords["supervisor1"],
    }
    response = browser_like.post("/login", data=form)
    assert response.status_code == 303 and response.headers["location"] == "/boss"
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "takt_session=" in cookie
    assert browser_like.get("/boss").status_code == 200
    token = browser_like.cookies["takt_session"]
    assert browser_like.post("/logout").status_code == 303
    with httpx.Client(base_url=live.base, cookies={"takt_session": token}) as replay:
        assert replay.get("/boss").status_code == 303  # the old cookie's token was revoked
    wrong = browser_like.post("/login", data={"username": "supervisor1", "password": "nope-nope"})
    assert wrong.status_code == 401 and "takt_session" not in wrong.headers.get("set-cookie", "")


def test_tablet_is_bound_to_its_station(live: LiveServer) -> None:
    line = ok(live.http.get("/api/v1/lines", headers=live.plant.as_("admin")))["items"][0]
    ok(live.http.post("/api/v1/stations", json={"line_id": line["id"], "code": "st-pack", "name": "Pack"},
                      headers=live.plant.as_("admin")), 201)  # fmt: skip
    with httpx.Client(base_url=live.base) as tablet:
        tablet.get(enroll_path(live))
        assert tablet.get("/station/st-lathe-1").status_code == 200
        elsewhere = tablet.get("/station/st-pack")  # no language asked: the pages' default, zh_CN
        assert elsewhere.status_code == 403 and "此平板未在工位 st-pack 注册" in elsewhere.text
    with httpx.Client(base_url=live.base) as stranger:
        assert stranger.get("/station/st-lathe-1").status_code == 403
        assert stranger.get("/station/enroll?token=forged").status_code == 404


def test_an_enrollment_link_works_once_within_its_minutes_and_rotates_the_device_key(
    live: LiveServer,
) -> None:
    """Issue 13: the link's code is spent by its first use (a second, even concurrent, finds nothing), it
    never becomes the cookie, an expired one is refused, and re-enrolling a tablet signs out the browser
    enrolled before."""
    link = enroll_path(live)
    code = link.split("token=", 1)[1]
    with httpx.Client(base_url=live.base) as first, httpx.Client(base_url=live.base) as second:
        answers = [first.get(link), second.get(link)]
        assert sorted(a.status_code for a in answers) == [303, 404]
        winner = first if answers[0].status_code == 303 else second
        device = winner.cookies["takt_device"]
        assert device and device != code
        again = httpx.get(live.url(link))
        assert again.status_code == 404 and "管理员" in again.text  # the pages' default language, zh_CN
        assert winner.get("/station/st-lathe-1").status_code == 200
        tablet = ok(live.http.get("/api/v1/tablets", headers=live.plant.as_("admin")))[-1]
        with Session(writer(live.engine)) as session:
            row = session.get(Tablet, tablet["id"])
            assert row is not None and row.enroll_code_hash is None
            new_code = accounts.new_enrollment_link(session, "test", row, 15)
        with httpx.Client(base_url=live.base) as replacement:
            assert replacement.get(f"/station/enroll?token={new_code}").status_code == 303
            assert replacement.get("/station/st-lathe-1").status_code == 200
        assert winner.get("/station/st-lathe-1").status_code == 403  # its device key was rotated
    expired = enroll_path(live).split("token=", 1)[1]
    with Session(writer(live.engine)) as session:
        row = session.exec(select(Tablet).where(col(Tablet.enroll_code_hash) == token_hash(expired))).one()
        row.enroll_expires_at = utcnow() - timedelta(seconds=1)
        session.add(row)
        session.commit()
    assert httpx.get(live.url(f"/station/enroll?token={expired}")).status_code == 404


@pytest.mark.faults
def test_instruction_uploads_are_sanitised(live: LiveServer, browser_like: httpx.Client) -> None:
    add_user(live.plant, "planner", "planner-up")
    assert _login(browser_like, live, "planner-up").status_code == 303
    url = "/admin/products/BRK-100/instructions"
    sneaky = browser_like.post(url, data={"step_no": "10"}, files={"file": ("../../../evil.png", TINY_PNG)})
    assert sneaky.status_code == 303
    root: Path = live.settings.instructions_dir
    stored = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
    assert stored == ["BRK-100/10/evil.png"]
    assert not (live.settings.data_dir.parent / "evil.png").exists()
    for name in ("run.sh", ".png", "x.html"):
        assert browser_like.post(url, data={"step_no": "10"}, files={"file": (name, b"x")}).status_code == 422
    assert browser_like.get("/instructions/BRK-100/10/evil.png").content == TINY_PNG
    assert browser_like.get("/instructions/BRK-100/10/..%2F..%2F..%2Ftakt.db").status_code == 404
    with httpx.Client(base_url=live.base) as stranger:
        assert stranger.get("/instructions/BRK-100/10/evil.png").status_code == 403

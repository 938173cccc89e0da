"""Response headers (server/core/headers.py): a strict CSP with no inline script, nosniff, no framing,
no-store on signed-in pages and the API, gzip for text, a favicon and a logo; and in real Chromium, no page
breaks under the CSP (a violation would only show in the console)."""

import re
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Page, expect

from server.core.headers import CSP
from server.web.templates import TEMPLATE_DIR
from tests.server.factory import add_user, ok
from tests.web.conftest import LiveServer, PageFactory, enroll_and_sign_in, login, start_order

PAGES = (
    "/login",
    "/boss",
    "/admin",
    "/station/st-lathe-1",
    "/reports/daily",
    "/favicon.ico",
    "/api/v1/machines",
)


@pytest.fixture(scope="module")
def boss(live: LiveServer) -> Iterator[httpx.Client]:
    """A signed-in supervisor (boss pages) who is also let into the API with a bearer token."""
    with httpx.Client(base_url=live.base, headers={"Origin": live.base}, timeout=20) as client:
        body = {"username": "supervisor1", "password": live.plant.passwords["supervisor1"]}
        assert client.post("/login", data=body).status_code == 303
        yield client


@pytest.fixture(scope="module")
def share_token(live: LiveServer) -> str:
    start_order(live, "WO-HDR-1", 120, due_date="2030-03-01")
    link = ok(
        live.http.post("/api/v1/work-orders/WO-HDR-1/share-links", headers=live.plant.as_("planner")), 201
    )
    return str(link["token"])


def test_csp_is_strict_and_sent_everywhere(live: LiveServer, boss: httpx.Client, share_token: str) -> None:
    directives = dict(d.split(" ", 1) for d in CSP.split("; "))
    assert directives["script-src"] == "'self'"  # no 'unsafe-inline', no 'unsafe-eval', no other host
    assert directives["default-src"] == "'self'" and directives["object-src"] == "'none'"
    assert directives["frame-ancestors"] == "'none'"
    for path in (*PAGES, f"/s/{share_token}", "/static/app.css", "/no-such-page"):
        answer = boss.get(path, headers=live.plant.as_("supervisor") if path.startswith("/api") else {})
        assert answer.headers["content-security-policy"] == CSP, path


def test_no_inline_script_or_handler_in_any_template() -> None:
    """What the CSP would block, in every template: a <script> with code in it, an on*= attribute, a
    javascript: link (data blocks, <script type="application/json">, are not run and are allowed)."""
    templates = sorted(TEMPLATE_DIR.rglob("*.html"))
    assert len(templates) > 20
    for path in templates:
        html = path.read_text()
        assert not re.search(r"\son[a-z]+\s*=", html), path
        assert "javascript:" not in html, path
        for chunk in html.split("<script")[1:]:
            tag = chunk.partition(">")[0]
            assert "src=" in tag or 'type="application/json"' in tag, (path, tag)


def test_nosniff_everywhere(live: LiveServer, boss: httpx.Client) -> None:
    for path in (*PAGES, "/static/boss.js", "/logo.png", "/healthz"):
        assert boss.get(path).headers["x-content-type-options"] == "nosniff", path


def test_no_framing(live: LiveServer, boss: httpx.Client, share_token: str) -> None:
    for path in ("/login", "/boss", f"/s/{share_token}"):
        answer = boss.get(path)
        assert answer.headers["x-frame-options"] == "DENY", path
        assert "frame-ancestors 'none'" in answer.headers["content-security-policy"], path


def test_signed_in_pages_and_api_are_not_stored(live: LiveServer, boss: httpx.Client) -> None:
    for path in ("/boss", "/boss/orders/WO-HDR-1", "/boss/machines/lathe-1", "/reports/daily", "/admin"):
        answer = boss.get(path)
        assert answer.status_code in (200, 403) and answer.headers["cache-control"] == "no-store", path
    for path in ("/api/v1/users", "/api/v1/work-orders/WO-HDR-1"):
        answer = live.http.get(path, headers=live.plant.as_("admin"))
        assert answer.status_code == 200 and answer.headers["cache-control"] == "no-store", path
    # static files and the logo may be cached: they carry nobody's data
    assert "no-store" not in live.http.get("/static/app.css").headers.get("cache-control", "")
    assert live.http.get("/logo.png").headers["cache-control"].startswith("public")


def test_text_is_gzipped(live: LiveServer, boss: httpx.Client) -> None:
    for path in ("/boss", "/static/station.js", "/static/app.css"):
        answer = boss.get(path, headers={"Accept-Encoding": "gzip"})
        assert answer.headers["content-encoding"] == "gzip", path
        assert answer.num_bytes_downloaded < len(answer.content) / 2, path  # decoded: a real gzip stream
    api = live.http.get("/openapi.json", headers={"Accept-Encoding": "gzip"})  # JSON too
    assert len(api.content) > 500 and api.headers["content-encoding"] == "gzip"
    plain = boss.get("/boss", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers and 'id="kpis"' in plain.text


def test_favicon_and_logo_are_served(live: LiveServer) -> None:
    for path in ("/favicon.ico", "/logo.png", "/static/favicon.svg"):
        answer = live.http.get(path)
        assert answer.status_code == 200, path
        assert answer.headers["content-type"].startswith("image/"), path
    assert live.http.get("/favicon.ico").content.startswith(b"\x89PNG\r\n\x1a\n")
    assert b"<svg" in live.http.get("/static/favicon.svg").content
    assert '<link rel="icon" href="/static/favicon.svg"' in live.http.get("/login").text


def _watch(page: Page) -> list[str]:
    """Every CSP violation and console error the page reports, collected as it runs."""
    found: list[str] = []
    page.on("console", lambda m: found.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: found.append(str(e)))
    page.add_init_script(
        "document.addEventListener('securitypolicyviolation', function (e) {"
        " console.error('CSP violation: ' + e.violatedDirective + ' ' + e.blockedURI); });"
    )
    return found


@pytest.mark.browser
def test_pages_run_under_the_csp(live: LiveServer, new_page: PageFactory, share_token: str) -> None:
    """Boss, station, share and admin pages in Chromium: their scripts run (they bind buttons, apply live
    events, draw charts) and the console shows no CSP violation and no error."""
    add_user(live.plant, "admin", "admin-hdr")
    page = new_page("phone", "en")
    errors = _watch(page)
    login(page, live, "supervisor1", "/boss")
    expect(page.locator("[data-machine=lathe-1]")).to_be_visible()
    page.goto(live.url("/boss/machines/lathe-1"))
    page.wait_for_function("typeof uPlot !== 'undefined'")
    page.goto(live.url("/boss/orders/WO-HDR-1"))
    page.goto(live.url(f"/s/{share_token}"))
    expect(page.locator("#product")).to_be_visible()
    page.goto(live.url("/favicon.ico"))
    page.context.clear_cookies()
    login(page, live, "admin-hdr", "/admin")
    expect(page.locator("body")).to_contain_text("New work order")
    page.goto(live.url("/admin/orders/WO-HDR-1/traveler"))
    page.locator("[data-print]").wait_for()
    page.evaluate("window.print = function () { window.__printed = true; }")
    page.click("[data-print]")
    assert page.evaluate("window.__printed") is True  # the button's handler came from print.js
    tablet = new_page("tablet", "en")
    errors += _watch(tablet)
    enroll_and_sign_in(tablet, live)  # waits for station.js to have bound its buttons
    assert errors == []

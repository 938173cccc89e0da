"""Share links: one 404 for dead tokens, 429, headers, whitelisted fields only, token isolation."""

import re
from datetime import timedelta

import pytest
from sqlalchemy import update
from sqlmodel import Session, col

from server.domain.security import token_hash
from server.models.auth import ShareLink
from server.models.types import utcnow
from tests.server.factory import make_order, ok
from tests.web.conftest import LiveServer

SHARE_HEADERS = {"referrer-policy": "no-referrer", "x-robots-tag": "noindex", "cache-control": "no-store"}


def _link(live: LiveServer, number: str, **body: object) -> dict:  # type: ignore[type-arg]
    url = f"/api/v1/work-orders/{number}/share-links"
    return ok(live.http.post(url, json=body or None, headers=live.plant.as_("planner")), 201)


def _headers_ok(response: object) -> None:
    for name, value in SHARE_HEADERS.items():
        assert response.headers.get(name) == value, (name, response.headers)  # type: ignore[attr-defined]


@pytest.mark.faults
def test_dead_tokens_share_one_404(live: LiveServer) -> None:
    make_order(live.plant, "WO-DEAD", 10)
    expired, revoked = _link(live, "WO-DEAD"), _link(live, "WO-DEAD")
    with Session(live.engine) as session:  # a write first: SQLite takes the write lock and waits its turn
        stmt = update(ShareLink).where(col(ShareLink.token_hash) == token_hash(expired["token"]))
        session.exec(stmt.values(expires_at=utcnow() - timedelta(seconds=1)))  # type: ignore[call-overload]
        session.commit()
    ok(live.http.post(f"/api/v1/share-links/{revoked['id']}/revoke", headers=live.plant.as_("planner")))
    answers = [live.http.get(f"/s/{t}{suffix}") for t in ("x" * 43, expired["token"], revoked["token"])
               for suffix in ("", ".json", "/qr.svg")]  # fmt: skip
    assert {r.status_code for r in answers} == {404}
    assert len({r.content for r in answers}) == 1
    for r in answers:
        _headers_ok(r)


@pytest.mark.faults
def test_share_page_and_json_show_only_whitelisted_fields(live: LiveServer) -> None:
    make_order(live.plant, "WO-SECRET-1", 50, notes="cost 3.20 CNY, margin 12%")
    make_order(live.plant, "WO-OTHER-2", 70, customer="ningbo")
    mine, other = _link(live, "WO-SECRET-1"), _link(live, "WO-OTHER-2")
    page = live.http.get(f"/s/{mine['token']}", headers={"Accept-Language": "en"})
    assert page.status_code == 200
    _headers_ok(page)
    html = page.text
    assert "Bracket" in html and ">50 " in html.replace("\n", " ")
    for secret in (
        "WO-SECRET-1",
        "WO-OTHER-2",
        "cost 3.20",
        "Suzhou Co",
        "Ningbo",
        "operator1",
        "Operator1",
        "planner1",
        other["token"],
    ):
        assert secret not in html, secret
    data = ok(live.http.get(f"/s/{mine['token']}.json"))
    assert set(data) <= {
        "factory",
        "reference",  # the customer's own PO (None here)
        "product",
        "product_code",
        "unit",
        "quantity",
        "status",
        "due_date",
        "expires",
        "good",
        "scrap",
        "percent",
        "steps",
        "eta",
        "late",
        "inspections",
    }
    assert data["quantity"] == 50 and data["product"] == "Bracket" and data["factory"] == "Dongguan"
    text = page.text + str(data)
    assert not re.search(r"\b(id|operator|customer|cost|number|notes)\b\W*[:=]", str(data))
    assert "WO-" not in text
    other_data = ok(live.http.get(f"/s/{other['token']}.json"))
    assert other_data["quantity"] == 70


@pytest.mark.faults
def test_share_link_hides_what_the_factory_did_not_release(live: LiveServer) -> None:
    make_order(live.plant, "WO-HIDE", 30)
    link = _link(live, "WO-HIDE", show_inspections=False, show_eta=False)
    data = ok(live.http.get(f"/s/{link['token']}.json"))
    assert "inspections" not in data and "eta" not in data and data["good"] == 0


def test_qr_codes(live: LiveServer) -> None:
    make_order(live.plant, "WO-QR", 5)
    token = _link(live, "WO-QR")["token"]
    svg = live.http.get(f"/s/{token}/qr.svg")
    assert svg.status_code == 200 and svg.headers["content-type"].startswith("image/svg+xml")
    assert b"<svg" in svg.content
    png = live.http.get(f"/s/{token}/qr.png")
    assert png.status_code == 200 and png.content.startswith(b"\x89PNG")


@pytest.mark.faults
def test_share_rate_limit_per_client(live: LiveServer) -> None:
    live.reset_share_limiter()
    make_order(live.plant, "WO-RATE", 5)
    token = _link(live, "WO-RATE")["token"]
    codes = [live.http.get(f"/s/{token}.json").status_code for _ in range(live.settings.share_rate_burst + 5)]
    assert codes[0] == 200 and codes[-1] == 429
    limited = live.http.get("/s/" + "y" * 43)
    assert limited.status_code == 429
    _headers_ok(limited)
    live.reset_share_limiter()
    assert live.http.get(f"/s/{token}.json").status_code == 200

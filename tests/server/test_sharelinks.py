"""Share links: created with a one-time token, listed without it, revoked, expiring; resolve_share_token."""

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, select

from server.models.auth import ShareLink
from server.models.types import utcnow
from server.services.security import token_hash
from server.services.sharelinks import resolve_share_token
from tests.server.factory import build_plant, make_order, ok


def test_share_link_lifecycle(client: TestClient, engine: Engine) -> None:
    plant = build_plant(client)
    make_order(plant, "WO-S", 10)
    url = "/api/v1/work-orders/WO-S/share-links"
    created = ok(
        client.post(url, json={"days": 7, "show_inspections": False}, headers=plant.as_("supervisor")), 201
    )
    token = created["token"]
    assert (
        len(token) >= 32 and created["url"].endswith(f"/s/{token}") and created["show_inspections"] is False
    )
    second = ok(client.post(url, headers=plant.as_("planner")), 201)
    listed = ok(client.get(url, headers=plant.as_("planner")))
    assert [link["id"] for link in listed] == [created["id"], second["id"]]
    assert all("token" not in link for link in listed)
    with Session(engine) as session:
        stored = session.exec(select(ShareLink)).all()
        assert {row.token_hash for row in stored} == {token_hash(token), token_hash(second["token"])}
        order = resolve_share_token(session, token)
        assert order is not None and order.number == "WO-S"
        assert resolve_share_token(session, "not-a-token") is None
        assert resolve_share_token(session, "") is None
    ok(client.post(f"/api/v1/share-links/{created['id']}/revoke", headers=plant.as_("planner")))
    with Session(engine) as session:
        assert resolve_share_token(session, token) is None  # revoked
        assert resolve_share_token(session, second["token"]) is not None
        row = session.exec(select(ShareLink).where(ShareLink.id == second["id"])).one()
        row.expires_at = utcnow() - timedelta(seconds=1)
        session.add(row)
        session.commit()
        assert resolve_share_token(session, second["token"]) is None  # expired
    assert (
        client.post("/api/v1/work-orders/NOPE/share-links", headers=plant.as_("planner")).status_code == 404
    )

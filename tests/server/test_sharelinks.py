"""Share links: created with a one-time token, listed without it, revoked, expiring; resolve_share_token."""

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, select

from server.domain.security import token_hash
from server.domain.sharelinks import resolve_share_token
from server.models.auth import ShareLink
from server.models.types import utcnow
from tests.server.factory import build_plant, make_order, ok, running_order


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


def test_certificate_is_released_and_withdrawn_through_the_api(client: TestClient) -> None:
    plant = build_plant(client)
    running_order(plant, "WO-C", 10)
    chars = [{"name": "length", "kind": "numeric", "nominal": 50.0, "lsl": 49.9, "usl": 50.1, "unit": "mm"}]
    plan = {"product_id": 1, "step_no": 10, "name": "first article", "frequency": "first_article",
            "sample_size": 1, "characteristics": chars}  # fmt: skip
    inspector = plant.as_("inspector")
    created_plan = ok(client.post("/api/v1/inspection-plans", json=plan, headers=inspector), 201)
    values = [{"characteristic_id": created_plan["characteristics"][0]["id"], "sample_no": 1, "value": 50.02}]
    record = {"plan_id": created_plan["id"], "work_order": "WO-C", "step_no": 10, "values": values}
    ok(client.post("/api/v1/inspections", json=record, headers=inspector), 201)
    created = ok(client.post("/api/v1/work-orders/WO-C/share-links", headers=plant.as_("planner")), 201)
    assert created["show_certificate"] is False
    share = f"/s/{created['token']}.json"
    assert "certificate" not in ok(client.get(share))
    release = f"/api/v1/share-links/{created['id']}/certificate"
    assert client.post(release, json={"released": True}, headers=plant.as_("operator")).status_code == 403
    assert ok(client.post(release, json={"released": True}, headers=plant.as_("planner")))["show_certificate"]
    certificate = ok(client.get(share))["certificate"]  # at once: the cached view was dropped
    assert certificate["passed"] is True and len(certificate["records"]) == 1
    ok(client.post(release, json={"released": False}, headers=plant.as_("planner")))
    assert "certificate" not in ok(client.get(share))

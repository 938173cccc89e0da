"""API tokens expire (default 90 days, TAKT_API_TOKEN_DAYS) and an admin lists and revokes live tokens
(API and /admin/tokens) (docs/reliability.md, case H8)."""

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, select

from server.core.services import services_of
from server.domain.security import token_hash
from server.models.auth import ApiToken
from tests.server.conftest import ADMIN_TOKEN
from tests.server.factory import ADMIN, build_plant, ok

ORIGIN = {"Origin": "http://testserver"}


def _days_left(expires_at: str) -> float:
    return (datetime.fromisoformat(expires_at) - datetime.now(UTC)).total_seconds() / 86400


def test_tokens_expire_and_an_admin_lists_and_revokes_them(client: TestClient, engine: Engine) -> None:
    plant = build_plant(client)
    credentials = {"username": "planner1", "password": plant.passwords["planner1"]}
    signin = ok(client.post("/api/v1/auth/token", json=credentials))
    assert 89.9 < _days_left(signin["expires_at"]) <= 90
    issued = ok(client.post("/api/v1/users/planner1/tokens", params={"name": "erp"}, headers=ADMIN), 201)
    assert 89.9 < _days_left(issued["expires_at"]) <= 90
    bearer = {"Authorization": f"Bearer {issued['token']}"}
    ok(client.get("/api/v1/work-orders", headers=bearer))
    # an expired token is refused
    with Session(engine) as session:
        row = session.exec(select(ApiToken).where(ApiToken.token_hash == token_hash(issued["token"]))).one()
        row.expires_at = datetime.now(UTC) - timedelta(seconds=1)
        session.add(row)
        session.commit()
        expired_id = row.id
    assert client.get("/api/v1/work-orders", headers=bearer).status_code == 401
    # the list: live tokens only, admin only
    assert client.get("/api/v1/tokens", headers=plant.as_("planner")).status_code == 403
    live = ok(client.get("/api/v1/tokens", headers=ADMIN))
    assert expired_id not in {t["id"] for t in live["items"]}
    mine = next(t for t in live["items"] if t["username"] == "planner1")
    assert live["total"] >= 5 and mine["kind"] == "api" and mine["expires_at"]
    # revoke through the API: the token stops working and leaves the list
    signed = {"Authorization": f"Bearer {signin['token']}"}
    ok(client.get("/api/v1/work-orders", headers=signed))
    by_id = {t["id"]: t for t in live["items"]}
    target = next(i for i, t in by_id.items() if t["username"] == "planner1")
    assert ok(client.post(f"/api/v1/tokens/{target}/revoke", headers=ADMIN))["revoked"] is True
    assert client.get("/api/v1/work-orders", headers=signed).status_code == 401
    assert target not in {t["id"] for t in ok(client.get("/api/v1/tokens", headers=ADMIN))["items"]}
    # the admin page lists them and revokes one
    client.cookies.set("takt_session", ADMIN_TOKEN)
    page = client.get("/admin/tokens")
    assert page.status_code == 200 and "operator1" in page.text
    operator = next(t for t in ok(client.get("/api/v1/tokens", headers=ADMIN))["items"]
                    if t["username"] == "operator1")  # fmt: skip
    assert f'id="token-{operator["id"]}"' in page.text
    revoked = client.post(f"/admin/tokens/{operator['id']}/revoke", headers=ORIGIN, follow_redirects=False)
    assert revoked.status_code == 303
    assert client.get("/api/v1/work-orders", headers=plant.as_("operator")).status_code == 401
    assert f'id="token-{operator["id"]}"' not in client.get("/admin/tokens").text


def test_the_token_lifetime_is_a_setting(client: TestClient) -> None:
    build_plant(client)
    services_of(client.app).settings.api_token_days = 7  # type: ignore[arg-type]
    issued = ok(client.post("/api/v1/users/planner1/tokens", headers=ADMIN), 201)
    assert 6.9 < _days_left(issued["expires_at"]) <= 7

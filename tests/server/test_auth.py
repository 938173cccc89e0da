"""Authentication and roles: tokens, 401/403, tablet sign-in with PIN lockout, default-secret refusal."""

import logging
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, select

from server import cli
from server.core.errors import ConfigError
from server.core.settings import Settings
from server.domain import secretbox
from server.main import create_app
from server.models.auth import SigninThrottle
from server.models.types import utcnow
from tests.server.factory import ADMIN, add_user, build_plant, make_order, ok, running_order

SIGN_IN = "/api/v1/stations/st-lathe-1/sign-in"


@pytest.mark.faults
def test_no_token_401_and_operator_403(client: TestClient) -> None:
    plant = build_plant(client)
    running_order(plant, "WO-A", 50)
    assert client.get("/api/v1/work-orders").status_code == 401
    assert client.get("/api/v1/work-orders", headers={"Authorization": "Bearer nope"}).status_code == 401
    operator = plant.as_("operator")
    forbidden = [
        ("post", "/api/v1/work-orders", {"number": "X-1", "product": "BRK-100", "quantity": 1}),  # planner
        ("post", "/api/v1/work-orders/WO-A/cancel", None),  # planner
        ("post", "/api/v1/users", {"username": "x", "display_name": "x", "role": "admin"}),  # admin
        ("post", "/api/v1/machines", {"site_id": 1, "code": "m", "name": "m"}),  # admin
        (
            "post",
            "/api/v1/inspections",
            {"plan_id": 1, "work_order": "WO-A", "values": [{"characteristic_id": 1}]},
        ),
        ("post", "/api/v1/work-orders/WO-A/share-links", None),  # planner, supervisor
        ("get", "/api/v1/audit", None),  # supervisor
        ("get", "/api/v1/users", None),  # admin
    ]
    for method, url, body in forbidden:
        response = client.request(method, url, json=body, headers=operator)
        assert response.status_code == 403, (url, response.text)
    assert client.get("/api/v1/work-orders", headers=operator).status_code == 200
    assert (
        client.post("/api/v1/work-orders/WO-A/reports", json={"good": 1}, headers=operator).status_code == 201
    )
    inspector = plant.as_("inspector")
    assert (
        client.post("/api/v1/work-orders/WO-A/reports", json={"good": 1}, headers=inspector).status_code
        == 403
    )
    ok(client.patch("/api/v1/users/operator1", json={"active": False}, headers=ADMIN))
    assert client.get("/api/v1/work-orders", headers=operator).status_code == 401  # inactive user
    wrong = client.post("/api/v1/auth/token", json={"username": "planner1", "password": "wrong-password"})
    assert wrong.status_code == 401
    script = ok(client.post("/api/v1/users/planner1/tokens", params={"name": "erp"}, headers=ADMIN), 201)
    script_headers = {"Authorization": f"Bearer {script['token']}"}
    assert client.get("/api/v1/work-orders", headers=script_headers).status_code == 200
    assert client.post("/api/v1/auth/logout", headers=script_headers).status_code == 204
    assert client.get("/api/v1/work-orders", headers=script_headers).status_code == 401
    assert (
        client.get("/api/v1/work-orders", headers=plant.as_("planner")).status_code == 200
    )  # other tokens live


def _enroll(client: TestClient, station: str = "st-lathe-1") -> str:
    return ok(client.post("/api/v1/tablets", json={"station": station, "name": "tab"}, headers=ADMIN), 201)[
        "device_token"
    ]


@pytest.mark.faults
def test_tablet_sign_in_and_lockout(
    client: TestClient, engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    plant = build_plant(client)
    add_user(plant, "operator", "wang")
    make_order(plant, "WO-T", 10)
    body = {
        "username": "li",
        "display_name": "Li",
        "role": "operator",
        "password": "pw-li-123456",
        "badge": "B-li",
    }
    for pin in ("12ab", "12 34", "123"):  # digits only, at least four
        assert client.post("/api/v1/users", json=body | {"pin": pin}, headers=ADMIN).status_code == 422
    device = _enroll(client)
    tab = {"X-Device-Token": device}
    assert client.post(SIGN_IN, json={"badge": "B-wang", "pin": "4321"}).status_code == 401  # no tablet
    assert (
        client.post(
            SIGN_IN, json={"badge": "B-wang", "pin": "4321"}, headers={"X-Device-Token": "x"}
        ).status_code
        == 401
    )
    signed = ok(client.post(SIGN_IN, json={"badge": "B-wang", "pin": "4321"}, headers=tab))
    assert signed["user"]["username"] == "wang" and signed["station"] == "st-lathe-1" and signed["expires_at"]
    session_headers = {"Authorization": f"Bearer {signed['token']}"}
    assert client.get("/api/v1/work-orders/WO-T", headers=session_headers).status_code == 200
    assert client.post("/api/v1/work-orders/WO-T/release", headers=session_headers).status_code == 403
    for _ in range(5):
        assert client.post(SIGN_IN, json={"badge": "B-wang", "pin": "0000"}, headers=tab).status_code == 401
    locked = client.post(SIGN_IN, json={"badge": "B-wang", "pin": "4321"}, headers=tab)
    assert locked.status_code == 429 and "try again" in locked.json()["detail"]
    # the tablet is locked too, for every badge on it
    assert client.post(SIGN_IN, json={"badge": "B-operator1", "pin": "4321"}, headers=tab).status_code == 429
    # and the badge is locked on another tablet
    ok(client.post("/api/v1/stations", json={"line_id": 1, "code": "st-2", "name": "2"}, headers=ADMIN), 201)
    other = {"X-Device-Token": _enroll(client, "st-2")}
    url2 = "/api/v1/stations/st-2/sign-in"
    assert client.post(url2, json={"badge": "B-wang", "pin": "4321"}, headers=other).status_code == 429
    assert ok(client.post(url2, json={"badge": "B-operator1", "pin": "4321"}, headers=other))["user"][
        "username"
    ]
    assert (
        client.post(url2, json={"badge": "B-wang", "pin": "4321"}, headers=tab).status_code == 403
    )  # wrong station
    with Session(engine) as session:  # five minutes pass
        for row in session.exec(select(SigninThrottle)).all():
            if row.locked_until is not None:
                row.locked_until = utcnow() - timedelta(seconds=1)
                session.add(row)
        session.commit()
    assert (
        ok(client.post(SIGN_IN, json={"badge": "B-wang", "pin": "4321"}, headers=tab))["user"]["username"]
        == "wang"
    )
    tablets = ok(client.get("/api/v1/tablets", headers=ADMIN))
    ok(client.post(f"/api/v1/tablets/{tablets[0]['id']}/revoke", headers=ADMIN))
    assert client.post(SIGN_IN, json={"badge": "B-wang", "pin": "4321"}, headers=tab).status_code == 401
    for secret in (device, signed["token"], "4321", "test-admin-token"):
        assert secret not in caplog.text


@pytest.mark.parametrize("field", ["secret_key", "admin_token"])
@pytest.mark.parametrize("value", ["changeme", "admin", ""])
@pytest.mark.faults
def test_default_secrets_refused(field: str, value: str) -> None:
    good = {"secret_key": "k" * 32, "admin_token": "t" * 32}
    settings = Settings(**(good | {field: value}), mqtt_enabled=False, _env_file=None)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=field.upper()):
        create_app(settings)
    demo = Settings(**(good | {field: value}), demo_mode=True, mqtt_enabled=False, _env_file=None)  # type: ignore[arg-type]
    assert create_app(demo).title == "Takt"


@pytest.mark.faults
def test_cli_refuses_default_secret(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TAKT_SECRET_KEY", "changeme")
    monkeypatch.setenv("TAKT_DEMO_MODE", "0")
    monkeypatch.chdir("/tmp")
    assert cli.main(["--port", "1"]) == 2
    assert "TAKT_SECRET_KEY" in capsys.readouterr().err
    monkeypatch.delenv("TAKT_SECRET_KEY")
    assert cli.main(["--port", "1"]) == 2  # missing entirely


def test_the_demos_secret_key_is_made_once_and_kept(tmp_path: Path) -> None:
    """Without TAKT_SECRET_KEY the demo makes a key once and keeps it in its data dir (0600), so what it
    sealed (an alert channel's robot key) is still readable after a restart."""

    def started() -> Settings:
        settings = Settings(demo_mode=True, data_dir=tmp_path / "var", _env_file=None)  # type: ignore[call-arg]
        settings.check_secrets()
        return settings

    first, second = started(), started()
    assert first.secret_key is not None and second.secret_key is not None
    key = first.secret_key.get_secret_value()
    assert len(key) >= 32 and second.secret_key.get_secret_value() == key
    kept = tmp_path / "var" / "demo-secret-key"
    assert kept.read_text().strip() == key and kept.stat().st_mode & 0o777 == 0o600
    sealed = secretbox.seal(key, {"key": "wecom-robot-key"})
    assert secretbox.open_box(second.secret_key.get_secret_value(), sealed) == {"key": "wecom-robot-key"}

"""Sign-in that cannot be turned into a lockout or a lag (docs/reliability.md, case H6): failures lock a
username per source address (escalating), every address has a sign-in rate, and secrets are verified outside
any database transaction (another writer gets the database while a sign-in hashes)."""

from collections.abc import Callable
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlmodel import Session, col, select

from server.domain import signin
from server.models.auth import SigninThrottle
from server.models.types import utcnow
from tests.server.factory import ADMIN, add_user, build_plant, ok

TOKEN = "/api/v1/auth/token"


def _from(client: TestClient, address: str) -> TestClient:
    """Another client of the same running app, seen from `address`."""
    return TestClient(client.app, client=(address, 40000))


def test_wrong_passwords_from_one_address_do_not_lock_the_boss_out_elsewhere(
    client: TestClient, engine: Engine
) -> None:
    plant = build_plant(client)
    boss = {"username": "supervisor1", "password": plant.passwords["supervisor1"]}
    attacker, office = _from(client, "198.51.100.66"), _from(client, "192.0.2.10")
    codes = [attacker.post(TOKEN, json=boss | {"password": f"guess-{n}"}).status_code for n in range(8)]
    assert codes == [401] * 5 + [429] * 3, codes
    assert attacker.post(TOKEN, json=boss).status_code == 429  # even the right password, from there
    ok(office.post(TOKEN, json=boss))  # the boss, from the office
    # the lock escalates for that source: once it ends, one more failure locks it twice as long
    with Session(engine) as session:
        row = session.exec(
            select(SigninThrottle).where(SigninThrottle.key == "supervisor1@198.51.100.66")
        ).one()
        row.locked_until = utcnow() - timedelta(seconds=1)
        session.add(row)
        session.commit()
    assert attacker.post(TOKEN, json=boss | {"password": "again"}).status_code == 401
    with Session(engine) as session:
        row = session.exec(
            select(SigninThrottle).where(SigninThrottle.key == "supervisor1@198.51.100.66")
        ).one()
        assert row.locked_until is not None
        lock_s = (row.locked_until - utcnow()).total_seconds()
    assert 2 * 300 - 30 < lock_s <= 2 * 300, lock_s
    ok(office.post(TOKEN, json=boss))


def test_every_address_has_a_sign_in_rate(client: TestClient) -> None:
    build_plant(client)
    burst = client.app.state.services.settings.signin_rate_burst  # type: ignore[attr-defined]
    storm = _from(client, "203.0.113.9")
    codes = [storm.post(TOKEN, json={"username": f"nobody-{n}", "password": "x"}).status_code
             for n in range(burst + 3)]  # fmt: skip
    assert codes[:burst] == [401] * burst and codes[-1] == 429, codes
    limited = storm.post(TOKEN, json={"username": "nobody", "password": "x"})
    assert "too many sign-ins from this address" in limited.json()["detail"]
    tablet = {"X-Device-Token": "not-a-tablet"}
    assert storm.post("/api/v1/stations/st-lathe-1/sign-in", json={"badge": "B", "pin": "1234"},
                      headers=tablet).status_code == 429  # fmt: skip
    assert (
        _from(client, "192.0.2.11").post(TOKEN, json={"username": "nobody", "password": "x"}).status_code
        == 401
    )


def test_secrets_are_verified_outside_any_write_transaction(
    client: TestClient, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While a sign-in verifies a password or a PIN, another connection writes at once (busy timeout 0 on
    SQLite: it would fail with 'database is locked' if the sign-in held the write lock)."""
    plant = build_plant(client)
    device = ok(
        client.post("/api/v1/tablets", json={"station": "st-lathe-1", "name": "t"}, headers=ADMIN), 201
    )
    writes: list[str] = []
    real: Callable[[str | None, str], bool] = signin.verify_secret

    def verify_while_another_writes(stored: str | None, secret: str) -> bool:
        with engine.connect() as conn:
            if engine.dialect.name == "sqlite":
                conn.execute(text("PRAGMA busy_timeout = 0"))
            conn.execute(text("UPDATE site SET name = name"))
            conn.commit()
        writes.append(secret)
        return real(stored, secret)

    monkeypatch.setattr(signin, "verify_secret", verify_while_another_writes)
    ok(client.post(TOKEN, json={"username": "planner1", "password": plant.passwords["planner1"]}))
    assert client.post(TOKEN, json={"username": "planner1", "password": "wrong"}).status_code == 401
    badge = {"badge": "B-operator1", "pin": "4321"}
    ok(client.post("/api/v1/stations/st-lathe-1/sign-in", json=badge,
                   headers={"X-Device-Token": device["device_token"]}))  # fmt: skip
    assert writes == [plant.passwords["planner1"], "wrong", "4321"]


def test_wrong_pins_lock_a_badge_only_from_where_they_come_and_the_tablet_they_were_typed_on(
    client: TestClient, engine: Engine
) -> None:
    """A badge's lock is per (badge, source address) and escalates there; the tablet's own lock (whatever the
    badge) bounds PIN guessing through it, so the per-source badge lock opens no wider a guess."""
    plant = build_plant(client)
    add_user(plant, "operator", "wang")
    url = "/api/v1/stations/st-lathe-1/sign-in"
    kiosk, floor = _from(client, "198.51.100.70"), _from(client, "192.0.2.20")
    tab = {"X-Device-Token": _tablet(client, "st-lathe-1", "tab-1")}
    other_tab = {"X-Device-Token": _tablet(client, "st-lathe-1", "tab-2")}
    wang = {"badge": "B-wang", "pin": "4321"}
    codes = [kiosk.post(url, json=wang | {"pin": f"000{n}"}, headers=tab).status_code for n in range(6)]
    assert codes == [401] * 5 + [429], codes
    assert kiosk.post(url, json=wang, headers=other_tab).status_code == 429  # that badge, from there
    assert kiosk.post(url, json={"badge": "B-operator1", "pin": "4321"}, headers=tab).status_code == 429
    # from another address on another tablet the badge signs in: nobody locked wang out plant-wide
    assert ok(floor.post(url, json=wang, headers=other_tab))["user"]["username"] == "wang"
    key = "B-wang@198.51.100.70"
    with Session(engine) as session:  # the lock ends ...
        for row in session.exec(select(SigninThrottle).where(col(SigninThrottle.locked_until).is_not(None))):
            row.locked_until = utcnow() - timedelta(seconds=1)
            session.add(row)
        session.commit()
    assert kiosk.post(url, json=wang | {"pin": "9999"}, headers=other_tab).status_code == 401
    with Session(engine) as session:  # ... and one more failure from there locks it twice as long
        row = session.exec(select(SigninThrottle).where(SigninThrottle.key == key)).one()
        assert row.scope == "badge" and row.locked_until is not None
        lock_s = (row.locked_until - utcnow()).total_seconds()
    assert 2 * 300 - 30 < lock_s <= 2 * 300, lock_s


def _tablet(client: TestClient, station: str, name: str) -> str:
    body = {"station": station, "name": name}
    token: str = ok(client.post("/api/v1/tablets", json=body, headers=ADMIN), 201)["device_token"]
    return token

"""Station-bound operators (docs/reliability.md, H4): an operator signed in on one station's tablet acts only
on operations dispatched to that station; one signed in by password or API token only at the stations an
admin assigned to it (none: nowhere); supervisors and planners keep plant-wide rights.

The sweep enumerates the app's routes, so a new mutating route is covered the day it is added: it must answer
403 to an operator of another station, or be listed in OPEN_TO_ANY_STATION with the reason.
"""

import re

from fastapi.testclient import TestClient

from tests.server.factory import Plant, add_user, build_plant, ok, running_order
from tests.support.routes import app_routes

MUTATING = {"POST", "PUT", "PATCH", "DELETE"}
ORIGIN = {"Origin": "http://testserver"}
# routes any signed-in operator may call whatever its station, and why
OPEN_TO_ANY_STATION = {
    ("POST", "/api/v1/auth/token"): "password sign-in: no session yet",
    ("POST", "/api/v1/auth/logout"): "revokes the caller's own token",
    ("POST", "/api/v1/stations/{code}/sign-in"): "badge sign-in: no session yet",
    ("POST", "/api/v1/lots"): "a new material lot belongs to no station",
    ("PUT", "/api/v1/alerts/me"): "the caller's own alert choices",
    ("PUT", "/api/v1/alerts/me/choices/{rule_id}/{channel_id}"): "the caller's own alert choices",
    ("POST", "/me/alerts"): "the caller's own alert choices (page)",
    ("POST", "/api/v1/stock/receipts"): "goods received into a store belong to no station",
    ("POST", "/api/v1/stock/transfers"): "a move between stores belongs to no station",
    ("PUT", "/api/v1/lots/{code}/certificate"): "a lot's supplier certificate belongs to no station",
    ("POST", "/login"): "password sign-in: no session yet",
    ("POST", "/setup"): "first run: a one-time code, no session yet; 404 once an admin exists",
    ("POST", "/logout"): "revokes the caller's own web session",
    ("POST", "/station/{code}/sign-in"): "badge sign-in on the tablet's own station",
    ("POST", "/station/{code}/sign-out"): "revokes the caller's own operator session",
}


def _tablet(client: TestClient, plant: Plant, station: str) -> str:
    body = {"station": station, "name": f"tab-{station}"}
    token: str = ok(client.post("/api/v1/tablets", json=body, headers=plant.as_("admin")), 201)[
        "device_token"
    ]
    return token


def _station_session(client: TestClient, plant: Plant, station: str, user: str) -> tuple[str, str]:
    """(device token, operator session token) of `user` signed in by badge on `station`'s tablet."""
    device = _tablet(client, plant, station)
    badge = {"badge": f"B-{user}", "pin": "4321"}
    url = f"/api/v1/stations/{station}/sign-in"
    signed = ok(client.post(url, json=badge, headers={"X-Device-Token": device}))
    return device, signed["token"]


def _two_stations(client: TestClient) -> tuple[Plant, dict[str, str], dict[str, str]]:
    """The factory plus station st-lathe-2 (machine lathe-2); WO-A runs step 10 on lathe-1 (st-lathe-1).
    Returns the plant and the bearer headers of an operator on st-lathe-1 and one on st-lathe-2."""
    plant = build_plant(client)
    line = ok(client.get("/api/v1/lines", headers=plant.as_("admin")))["items"][0]
    lathe2 = ok(client.get("/api/v1/machines/lathe-2", headers=plant.as_("admin")))
    station = {"line_id": line["id"], "code": "st-lathe-2", "name": "Lathe 2", "machine_id": lathe2["id"]}
    ok(client.post("/api/v1/stations", json=station, headers=plant.as_("admin")), 201)
    add_user(plant, "operator", "op-a")
    add_user(plant, "operator", "op-b")
    running_order(plant, "WO-A", 100)
    _, token_a = _station_session(client, plant, "st-lathe-1", "op-a")
    _, token_b = _station_session(client, plant, "st-lathe-2", "op-b")
    return plant, {"Authorization": f"Bearer {token_a}"}, {"Authorization": f"Bearer {token_b}"}


def _order(client: TestClient, plant: Plant) -> tuple[str, int, int]:
    order = ok(client.get("/api/v1/work-orders/WO-A", headers=plant.as_("planner")))
    step = next(op for op in order["operations"] if op["step_no"] == 10)
    return order["status"], step["good"], len([op for op in order["operations"] if op["status"] == "done"])


def test_an_operator_of_another_station_cannot_report_pause_or_complete(client: TestClient) -> None:
    plant, at_a, at_b = _two_stations(client)
    before = _order(client, plant)
    base = "/api/v1/work-orders/WO-A"
    refused = [
        client.post(f"{base}/reports", json={"good": 5}, headers=at_b),
        client.post(f"{base}/reports", json={"good": 5, "step_no": 10}, headers=at_b),
        client.post(f"{base}/pause", headers=at_b),
        client.post(f"{base}/pause", json={"step_no": 10}, headers=at_b),
        client.post(f"{base}/complete", headers=at_b),  # the empty POST that completed a whole order
        client.post(f"{base}/start", json={"step_no": 10, "machine": "lathe-1"}, headers=at_b),
    ]
    assert [r.status_code for r in refused] == [403] * len(refused), [r.text for r in refused]
    assert "st-lathe-2" in refused[0].json()["detail"]
    assert _order(client, plant) == before == ("in_progress", 0, 0)
    # the operator of the order's own station may, and a supervisor acts plant-wide
    ok(client.post(f"{base}/reports", json={"good": 5}, headers=at_a), 201)
    ok(client.post(f"{base}/pause", headers=at_a))
    # on its own station's machine only: lathe-2 is station st-lathe-2's
    other_machine = client.post(f"{base}/resume", json={"step_no": 10, "machine": "lathe-2"}, headers=at_a)
    assert other_machine.status_code == 403
    ok(client.post(f"{base}/resume", headers=at_a))
    ok(client.post(f"{base}/pause", headers=plant.as_("supervisor")))
    assert _order(client, plant) == ("paused", 5, 0)
    # an empty complete by station A's operator completes step 10 only, never the packing step elsewhere
    done = ok(client.post(f"{base}/complete", json={"confirm_short": True}, headers=at_a))
    assert [(op["step_no"], op["status"]) for op in done["operations"]] == [(10, "done"), (20, "pending")]


def _concrete(path: str, values: dict[str, str]) -> str:
    """`path` with its parameters filled from `values`, else "1" (a route refused by role never looks)."""
    return re.sub(r"\{([^}:]+)(?::[^}]+)?\}", lambda m: values.get(m.group(1), "1"), path)


def _sweep(client: TestClient, plant: Plant, at_b: dict[str, str]) -> None:
    """Every mutating route of the app called as `at_b` (an operator of station st-lathe-2) on station
    st-lathe-1's order, machine and downtime: each must answer 403."""
    event = {"machine": "lathe-1", "start_ms": 1_700_000_000_000}
    downtime = ok(client.post("/api/v1/downtime", json=event, headers=plant.as_("supervisor")), 201)
    lot = {"code": "LOT-1", "material": "steel"}
    if client.get("/api/v1/lots/LOT-1", headers=plant.as_("admin")).status_code == 404:
        ok(client.post("/api/v1/lots", json=lot, headers=plant.as_("admin")), 201)
    values = {"number": "WO-A", "event_id": str(downtime["id"]), "code": "st-lathe-1"}
    before = _order(client, plant)
    inspection = {"plan_id": 1, "work_order": "WO-A", "values": [{"characteristic_id": 1, "value": 1.0}]}
    bodies = {
        "/api/v1/work-orders/{number}/reports": {"good": 1},
        "/api/v1/downtime/{event_id}/classify": {"reason_code": "tool_change"},
        "/api/v1/work-orders/{number}/consume": {"lot_code": "LOT-1", "quantity": 1},
        "/api/v1/work-orders/{number}/produce": {"lot_code": "LOT-2", "quantity": 1},
        "/api/v1/stock/issues": {"lot_code": "LOT-1", "work_order": "WO-A"},
        "/api/v1/stock/returns": {"lot_code": "LOT-1", "work_order": "WO-A"},
        "/station/{code}/inspection": inspection,
    }
    checked = []
    for path, route in app_routes(client.app):  # type: ignore[arg-type]
        for method in sorted(route.methods & MUTATING):
            if (method, path) in OPEN_TO_ANY_STATION:
                continue
            url = _concrete(path, values)
            answer = client.request(method, url, json=bodies.get(path), headers=at_b | ORIGIN,
                                    follow_redirects=False)  # fmt: skip
            assert answer.status_code == 403, (method, path, answer.status_code, answer.text[:300])
            checked.append((method, path))
    assert len(checked) > 60, checked
    assert ("POST", "/api/v1/work-orders/{number}/complete") in checked
    assert ("POST", "/api/v1/stock/issues") in checked
    assert _order(client, plant) == before


def test_every_mutating_route_refuses_an_operator_of_another_station(client: TestClient) -> None:
    plant, _, at_b = _two_stations(client)
    device_b, token_b = _station_session(client, plant, "st-lathe-2", "op-b")
    # station B's tablet and operator, and the operator's station session as a web session too
    client.cookies.update({"takt_device": device_b, "takt_op": token_b, "takt_session": token_b})
    _sweep(client, plant, at_b)
    assert _order(client, plant) == ("in_progress", 0, 0)
    # the tablet's own station, with another station's order: refused by the order's station, not the tablet
    inspection = {"plan_id": 1, "work_order": "WO-A", "values": [{"characteristic_id": 1, "value": 1.0}]}
    own = client.post("/station/st-lathe-2/inspection", json=inspection, headers=ORIGIN)
    assert own.status_code == 403 and "st-lathe-2" in own.json()["detail"], own.text


def _signed_in_by_password(client: TestClient, plant: Plant, user: str) -> dict[str, str]:
    body = {"username": user, "password": plant.passwords[user]}
    return {"Authorization": f"Bearer {ok(client.post('/api/v1/auth/token', json=body))['token']}"}


def test_an_operator_signed_in_by_password_or_api_token_acts_only_at_its_assigned_stations(
    client: TestClient,
) -> None:
    plant, _, _ = _two_stations(client)
    base = "/api/v1/work-orders/WO-A"
    add_user(plant, "operator", "op-none")
    nowhere = _signed_in_by_password(client, plant, "op-none")
    refused = client.post(f"{base}/reports", json={"good": 5}, headers=nowhere)
    assert refused.status_code == 403 and "op-none is assigned to no station" in refused.json()["detail"]
    zh = client.post(f"{base}/pause", headers=nowhere | {"Accept-Language": "zh-CN"})
    assert zh.status_code == 403 and "未分配任何工位" in zh.json()["message"], zh.text
    # an admin assigns stations: only operators, only stations that exist; the list replaces the former one
    url = "/api/v1/users/{}/stations"
    assign = {"stations": ["st-lathe-2"]}
    assert client.put(url.format("supervisor1"), json=assign, headers=plant.as_("admin")).status_code == 422
    unknown = client.put(url.format("op-b"), json={"stations": ["st-nope"]}, headers=plant.as_("admin"))
    assert unknown.status_code == 422 and "st-nope" in unknown.json()["detail"]
    assert client.put(url.format("op-b"), json=assign, headers=plant.as_("operator")).status_code == 403
    ok(
        client.put(
            url.format("op-a"), json={"stations": ["st-lathe-2", "st-lathe-1"]}, headers=plant.as_("admin")
        )
    )
    ok(client.put(url.format("op-a"), json={"stations": ["st-lathe-1"]}, headers=plant.as_("admin")))
    ok(client.put(url.format("op-b"), json=assign, headers=plant.as_("admin")))
    assert ok(client.get(url.format("op-a"), headers=plant.as_("admin"))) == {"stations": ["st-lathe-1"]}
    at_a = _signed_in_by_password(client, plant, "op-a")
    ok(client.post(f"{base}/reports", json={"good": 5}, headers=at_a), 201)
    ok(client.post(f"{base}/pause", headers=at_a))
    ok(client.post(f"{base}/resume", headers=at_a))
    assert _order(client, plant) == ("in_progress", 5, 0)
    # op-b (station st-lathe-2) by password, its web session, and by an API token: 403 on every route
    by_password = _signed_in_by_password(client, plant, "op-b")
    device_b = _tablet(client, plant, "st-lathe-2")
    client.cookies.update({"takt_device": device_b, "takt_session": by_password["Authorization"][7:]})
    issued = ok(client.post("/api/v1/users/op-b/tokens", headers=plant.as_("admin")), 201)
    for at_b in (by_password, {"Authorization": f"Bearer {issued['token']}"}):
        _sweep(client, plant, at_b)

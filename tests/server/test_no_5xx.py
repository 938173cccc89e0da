"""Every input that reaches a handler gets a 4xx, never a 5xx (docs/reliability.md, case H7): lone surrogates
in JSON (valid JSON, no UTF-8), integers past 64 bits, on every list's `offset`."""

from fastapi.testclient import TestClient

from tests.server.factory import ADMIN, build_plant, ok
from tests.support.routes import app_routes

SURROGATE = '"\\ud800"'  # the JSON text \ud800: decodes to a lone surrogate
HUGE = "99999999999999999999999"


def _json(client: TestClient, method: str, url: str, body: str, **headers: str) -> int:
    answer = client.request(method, url, content=body, headers={"Content-Type": "application/json"} | headers)
    return answer.status_code


def test_a_lone_surrogate_in_json_is_a_4xx(client: TestClient) -> None:
    plant = build_plant(client)
    tablet = {"station": "st-lathe-1", "name": "tab-s"}
    device = ok(client.post("/api/v1/tablets", json=tablet, headers=ADMIN), 201)["device_token"]
    codes = {
        "token": _json(client, "POST", "/api/v1/auth/token", f'{{"username": {SURROGATE}, "password": "x"}}'),
        "token-pw": _json(client, "POST", "/api/v1/auth/token",
                          f'{{"username": "planner1", "password": {SURROGATE}}}'),
        "station": _json(client, "POST", "/api/v1/stations/st-lathe-1/sign-in",
                         f'{{"badge": {SURROGATE}, "pin": "1234"}}', **{"X-Device-Token": device}),
        "station-pin": _json(client, "POST", "/api/v1/stations/st-lathe-1/sign-in",
                             f'{{"badge": "B-operator1", "pin": {SURROGATE}}}', **{"X-Device-Token": device}),
        "patch": _json(client, "PATCH", "/api/v1/customers/suzhou", f'{{"name": {SURROGATE}}}', **ADMIN),
        "create": _json(client, "POST", "/api/v1/customers", f'{{"code": "x", "name": {SURROGATE}}}',
                        **ADMIN),
        "order": _json(client, "POST", "/api/v1/work-orders",
                       f'{{"number": {SURROGATE}, "product": "PIN-7", "quantity": 1}}',
                       **plant.as_("planner")),
    }  # fmt: skip
    assert all(400 <= code < 500 for code in codes.values()), codes
    # nothing half-written: the customer kept its name, the planner can still sign in
    assert ok(client.get("/api/v1/customers/suzhou", headers=ADMIN))["name"] == "Suzhou Co"
    signin = {"username": "planner1", "password": plant.passwords["planner1"]}
    ok(client.post("/api/v1/auth/token", json=signin))


def test_a_huge_offset_on_every_list_is_a_4xx(client: TestClient) -> None:
    build_plant(client)
    lists = [
        path for path, route in app_routes(client.app)  # type: ignore[arg-type]
        if "GET" in route.methods and "{" not in path
        and any(q.alias == "offset" for q in route.dependant.query_params + _sub_queries(route.dependant))
    ]  # fmt: skip
    assert len(lists) >= 10, lists
    codes = {path: client.get(path, params={"offset": HUGE}, headers=ADMIN).status_code for path in lists}
    assert all(code == 422 for code in codes.values()), codes
    # a large but plausible offset is an empty page
    assert ok(client.get("/api/v1/customers", params={"offset": 2**31 - 1}, headers=ADMIN))["items"] == []


def _sub_queries(dependant: object) -> list:  # type: ignore[type-arg]
    found = []
    for dep in getattr(dependant, "dependencies", []):
        found.extend(dep.query_params)
        found.extend(_sub_queries(dep))
    return found

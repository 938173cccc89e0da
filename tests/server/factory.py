"""Build a small factory through the API: site, line, station, machines, product with routing, users."""

from dataclasses import dataclass, field

from fastapi.testclient import TestClient

from tests.server.conftest import ADMIN_TOKEN

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def ok(response: object, status: int = 200) -> dict:  # type: ignore[type-arg]
    code = response.status_code  # type: ignore[attr-defined]
    assert code == status, f"{code}: {response.text}"  # type: ignore[attr-defined]
    return response.json()  # type: ignore[attr-defined,no-any-return]


@dataclass
class Plant:
    client: TestClient
    headers: dict[str, dict[str, str]] = field(default_factory=dict)
    passwords: dict[str, str] = field(default_factory=dict)

    def as_(self, role: str) -> dict[str, str]:
        return self.headers[role]


def build_plant(client: TestClient) -> Plant:
    plant = Plant(client)
    site = ok(client.post("/api/v1/sites", json={"code": "demo", "name": "Dongguan"}, headers=ADMIN), 201)
    line = ok(client.post("/api/v1/lines", json={"site_id": site["id"], "code": "a", "name": "Line A"},
                          headers=ADMIN), 201)  # fmt: skip
    for code in ("lathe-1", "lathe-2", "pack-1"):
        kind = "lathe" if code.startswith("lathe") else "packer"
        body = {"site_id": site["id"], "line_id": line["id"], "code": code, "name": code, "kind": kind}
        ok(client.post("/api/v1/machines", json=body, headers=ADMIN), 201)
    for code, name in (("lathe-1", "Lathe 1"), ("pack-1", "Pack 1")):
        machine = ok(client.get(f"/api/v1/machines/{code}", headers=ADMIN))
        station = {"line_id": line["id"], "code": f"st-{code}", "name": name, "machine_id": machine["id"]}
        ok(client.post("/api/v1/stations", json=station, headers=ADMIN), 201)
    ok(client.post("/api/v1/customers", json={"code": "suzhou", "name": "Suzhou Co"}, headers=ADMIN), 201)
    ok(client.post("/api/v1/customers", json={"code": "ningbo", "name": "Ningbo Co"}, headers=ADMIN), 201)
    routing = [
        {"step_no": 10, "name": "turn", "machine_kind": "lathe", "ideal_cycle_s": 20},
        {"step_no": 20, "name": "pack", "machine_kind": "packer", "ideal_cycle_s": 2},
    ]
    product = {"code": "BRK-100", "name": "Bracket", "routing": routing}
    ok(client.post("/api/v1/products", json=product, headers=ADMIN), 201)
    ok(client.post("/api/v1/products", json={"code": "PIN-7", "name": "Pin"}, headers=ADMIN), 201)
    for kind, code, zh, en in [
        ("scrap", "burr", "毛刺", "burr"),
        ("downtime", "tool_change", "换刀", "tool change"),
    ]:
        body = {"kind": kind, "code": code, "label_zh": zh, "label_en": en}
        ok(client.post("/api/v1/reason-codes", json=body, headers=ADMIN), 201)
    for role in ("planner", "supervisor", "operator", "inspector"):
        add_user(plant, role)
    # an operator signed in by password acts at its assigned stations only
    stations = {"stations": ["st-lathe-1", "st-pack-1"]}
    ok(client.put("/api/v1/users/operator1/stations", json=stations, headers=ADMIN))
    plant.headers["admin"] = ADMIN
    return plant


def add_user(plant: Plant, role: str, username: str | None = None) -> dict:  # type: ignore[type-arg]
    username = username or f"{role}1"
    password = f"pw-{username}-123456"
    body = {"username": username, "display_name": username.title(), "role": role, "password": password}
    if role == "operator":
        body |= {"badge": f"B-{username}", "pin": "4321"}
    user = ok(plant.client.post("/api/v1/users", json=body, headers=ADMIN), 201)
    token = ok(plant.client.post("/api/v1/auth/token", json={"username": username, "password": password}))
    plant.headers[role if username == f"{role}1" else username] = {
        "Authorization": f"Bearer {token['token']}"
    }
    plant.passwords[username] = password
    return user


def make_order(plant: Plant, number: str, quantity: int = 100, **extra: object) -> dict:  # type: ignore[type-arg]
    body = {"number": number, "product": "BRK-100", "customer": "suzhou", "quantity": quantity} | extra
    return ok(plant.client.post("/api/v1/work-orders", json=body, headers=plant.as_("planner")), 201)


def running_order(plant: Plant, number: str, quantity: int = 100) -> dict:  # type: ignore[type-arg]
    make_order(plant, number, quantity)
    ok(plant.client.post(f"/api/v1/work-orders/{number}/release", headers=plant.as_("planner")))
    body = {"step_no": 10, "machine": "lathe-1"}
    return ok(
        plant.client.post(f"/api/v1/work-orders/{number}/start", json=body, headers=plant.as_("operator"))
    )

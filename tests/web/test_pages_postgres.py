"""The pages' queries on PostgreSQL (the browser tests run on SQLite): every page renders with real data."""

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from server.core.db import init_db, make_engine
from server.main import create_app
from tests.server.factory import build_plant, ok, running_order
from tests.web.conftest import ADMIN, core_settings

pytestmark = pytest.mark.postgres


@pytest.fixture
def client(pg_url_fresh: str) -> Iterator[TestClient]:
    engine = make_engine(pg_url_fresh)
    init_db(engine)
    with TestClient(create_app(core_settings(pg_url_fresh, 1, mqtt_enabled=False), engine=engine)) as c:
        yield c
    engine.dispose()


def test_pages_render_on_postgresql(client: TestClient) -> None:
    plant = build_plant(client)
    running_order(plant, "WO-PG-1", 100)
    report = {"good": 5, "scrap": 1, "scrap_reason": "burr"}
    ok(client.post("/api/v1/work-orders/WO-PG-1/reports", json=report, headers=plant.as_("operator")), 201)
    plan = {"product_id": ok(client.get("/api/v1/products/BRK-100", headers=ADMIN))["id"], "step_no": 10,
            "name": "FA", "characteristics": [{"name": "d", "lsl": 1, "usl": 2}]}  # fmt: skip
    ok(client.post("/api/v1/inspection-plans", json=plan, headers=plant.as_("inspector")), 201)
    tablet = ok(
        client.post("/api/v1/tablets", json={"station": "st-lathe-1", "name": "t"}, headers=ADMIN), 201
    )
    link = ok(client.post("/api/v1/work-orders/WO-PG-1/share-links", headers=plant.as_("planner")), 201)
    origin = {"Origin": "http://testserver", "Accept-Language": "en"}
    client.get("/station/" + tablet["enroll_url"].split("/station/", 1)[1])
    client.post("/station/st-lathe-1/sign-in", data={"badge": "B-operator1", "pin": "4321"}, headers=origin)
    station = client.get("/station/st-lathe-1", headers=origin)
    assert (
        station.status_code == 200
        and "Inspection due" in station.text
        and 'id="manual-good">5<' in station.text
    )
    state = ok(client.get("/station/st-lathe-1/state.json"))
    assert state["current"]["manual_good"] == 5 and state["due"][0]["name"] == "FA"
    form = {"username": "supervisor1", "password": plant.passwords["supervisor1"]}
    assert client.post("/login", data=form, headers=origin).status_code == 200  # followed to /boss
    boss = client.get("/boss", headers=origin)
    assert boss.status_code == 200 and 'data-order="WO-PG-1"' in boss.text
    assert "<strong data-oee>—</strong>" in boss.text  # no shift calendar: no planned time, no OEE
    site = ok(client.get("/api/v1/sites", headers=ADMIN))["items"][0]
    day = {"site_id": site["id"], "name": "all day", "start_local": "00:00", "end_local": "00:00",
           "days": "1,2,3,4,5,6,7"}  # fmt: skip
    ok(client.post("/api/v1/shifts", json=day, headers=ADMIN), 201)
    boss = client.get("/boss", headers=origin)
    tile = boss.text.split('data-machine="lathe-1"', 1)[1].split("</a>", 1)[0]
    assert "<strong data-oee>—</strong>" not in tile and "%</strong>" in tile  # the OEE so far today
    assert client.get("/boss/orders/WO-PG-1").status_code == 200
    assert client.get("/boss/machines/lathe-1").status_code == 200
    share = ok(client.get(f"/s/{link['token']}.json"))
    assert share["steps"][0]["planned"] == 100 and share["quantity"] == 100 and share["good"] == 0

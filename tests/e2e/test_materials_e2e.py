"""Backflush on the simulator (Modbus -> edge agent -> mosquitto -> server, SQLite): two lots of bar stock
received and issued to an order (the second by a scan posted twice with one Idempotency-Key: moved once),
the order run on lathe1 until the simulator has made some parts, and the consumption, the stock left and the
finished lot's backward genealogy follow exactly from the simulator's ground truth (good + scrap x 0.25 kg,
the oldest lot first). PostgreSQL runs the same backflush in tests/server/test_backflush.py."""

import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from server.domain.edge_import import import_edge
from server.main import create_app
from server.models.production import Operation, OperationRun, WorkOrder
from tests.e2e.test_sales_order_e2e import MACHINES, _edge, _plant
from tests.server.ingest.conftest import ingest_settings
from tests.support.mosquitto import Mosquitto
from tests.support.processes import edge_agent
from tests.support.simulator import Simulator
from tests.support.waiting import wait_until

ADMIN_TOKEN = "e2e-admin-token-0123456789abcdef"
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
wait = partial(wait_until, timeout=30.0)


@pytest.fixture
def server(engine: Engine, db_url: str, mosquitto: Mosquitto) -> Iterator[TestClient]:
    settings = ingest_settings(db_url, mosquitto.port, admin_token=ADMIN_TOKEN)
    with TestClient(create_app(settings, engine=engine)) as client:
        yield client


def api(
    client: TestClient, method: str, path: str, body: dict[str, Any] | None = None, **headers: str
) -> Any:
    response = client.request(method, f"/api/v1{path}", json=body, headers=ADMIN | headers)
    assert response.status_code in (200, 201), f"{method} {path}: {response.status_code} {response.text}"
    return response.json()


def _counted(engine: Engine) -> tuple[int, int]:
    with Session(engine) as session:
        stmt = select(Operation).join(WorkOrder).where(col(WorkOrder.number) == "WO-BF")
        op = session.exec(stmt).one()
        return op.machine_good, op.machine_scrap


def _setup(server: TestClient) -> None:
    routing = [{"step_no": 10, "name": "turn", "machine_kind": "cnc"}]
    api(server, "POST", "/products", {"code": "SHAFT", "name": "Shaft", "routing": routing})
    api(server, "POST", "/materials", {"code": "BAR-20", "name": "Bar 20 mm", "unit": "kg"})
    line = {"step_no": 10, "material": "BAR-20", "quantity_per_part": 0.25, "unit": "kg"}
    api(server, "PUT", "/products/SHAFT/bom/1", {"lines": [line]})
    api(server, "POST", "/stock/receipts", {"lot_code": "BAR-OLD", "material": "BAR-20", "quantity": 3})
    api(server, "POST", "/stock/receipts", {"lot_code": "BAR-NEW", "material": "BAR-20", "quantity": 50})
    api(server, "POST", "/work-orders", {"number": "WO-BF", "product": "SHAFT", "quantity": 100})
    api(server, "POST", "/work-orders/WO-BF/release")


@pytest.mark.faults
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_backflush_follows_the_simulators_parts(
    engine: Engine, server: TestClient, mosquitto: Mosquitto, start_simulator: Callable[..., Simulator],
    tmp_path: Path,
) -> None:  # fmt: skip
    sim = start_simulator(config=_plant(tmp_path / "plant.yaml"), accel=10.0, extra=["--scenario", "none"])
    for machine in MACHINES:
        sim.post("/faults", {"action": "set_state", "machine": machine, "state": "idle"})
    edge_config = _edge(tmp_path / "edge" / "edge.yaml", sim, mosquitto.port)
    import_edge(engine, edge_config)
    _setup(server)
    api(server, "POST", "/stock/issues", {"lot_code": "BAR-OLD", "work_order": "WO-BF"})
    scan = {"lot_code": "BAR-NEW", "work_order": "WO-BF"}
    first = api(server, "POST", "/stock/issues", scan, **{"Idempotency-Key": "tablet-7-scan-2"})
    assert api(server, "POST", "/stock/issues", scan, **{"Idempotency-Key": "tablet-7-scan-2"}) == first
    with edge_agent(edge_config, tmp_path / "edge.log") as edge:
        api(server, "POST", "/work-orders/WO-BF/start", {"step_no": 10, "machine": "lathe1"})
        time.sleep(0.3)
        sim.post("/faults", {"action": "set_state", "machine": "lathe1", "state": "running"})
        wait(lambda: sum(_counted(engine)) >= 20, what="20 parts counted")
        sim.post("/faults", {"action": "set_state", "machine": "lathe1", "state": "idle"})
        with Session(engine) as session:
            since = min(r.start_ms for r in session.exec(select(OperationRun)).all())
        truth = sim.get(f"/ground-truth/parts?machine=lathe1&since_ms={since}&until_ms={2**62}")
        wait(
            lambda: _counted(engine) == (truth["good"], truth["scrap"]), what=f"counts = ground truth {truth}"
        )
    assert "Traceback" not in edge.output()
    used = (truth["good"] + truth["scrap"]) * 0.25  # scrap parts consume bar too (with_scrap)
    moves = api(server, "GET", "/stock/moves?work_order=WO-BF&limit=500")["items"]
    consumed: dict[str, float] = {}
    for m in moves:
        if m["kind"] == "consume":
            consumed[m["lot"]] = round(consumed.get(m["lot"], 0) - m["quantity"], 6)
    assert consumed == {"BAR-OLD": 3.0, "BAR-NEW": round(used - 3, 6)}
    assert [m["kind"] for m in moves].count(
        "issue"
    ) == 4  # two issues, two rows each: the retry moved nothing
    stock = api(server, "GET", "/stock/on-hand/BAR-20")
    assert {(b["lot"], b["location"]): b["quantity"] for b in stock["lots"]} == {
        ("BAR-NEW", "wo:WO-BF"): round(50 - (used - 3), 6)
    }
    components = api(server, "GET", "/work-orders/WO-BF/components")
    assert [(c["consumed"], c["issued"]) for c in components] == [(round(used, 6), round(53 - used, 6))]
    fg = api(server, "GET", "/lots/FG-WO-BF")
    assert (fg["material"], fg["quantity"]) == ("SHAFT", truth["good"])
    back = api(server, "GET", "/lots/FG-WO-BF/trace?direction=backward")
    assert sorted(n["lot"] for n in back["lots"]) == ["BAR-NEW", "BAR-OLD"]

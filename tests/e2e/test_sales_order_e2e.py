"""A customer's PO from XLSX to their share page: a sales order with three lines is imported from an XLSX
file, two lines are split into work orders that run on the simulator's machines (Modbus -> edge -> mosquitto
-> server), and the sales order's share link shows the PO number and each line's progress (the machines'
counts, exactly) and nothing internal, in its HTML and its JSON."""

import io
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import msgspec
import pytest
from fastapi.testclient import TestClient
from openpyxl import Workbook
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from server.domain.edge_import import import_edge
from server.main import create_app
from server.models.ingest import SignalState
from server.models.production import Operation, OperationRun, WorkOrder
from tests.server.ingest.conftest import ingest_settings
from tests.support.mosquitto import Mosquitto
from tests.support.processes import edge_agent
from tests.support.simulator import Simulator
from tests.support.waiting import wait_until

ADMIN_TOKEN = "e2e-admin-token-0123456789abcdef"
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
ACCEL = 10.0  # cycle 2 s -> 0.2 s
MACHINES = ("lathe1", "lathe2")
wait = partial(wait_until, timeout=30.0)


def _plant(path: Path) -> Path:
    machines = [
        {
            "id": m,
            "kind": "cnc",
            "line": "A",
            "protocol": "modbus",
            "unit_id": n,
            "cycle_time_s": 2.0,
            "jitter": 0.1,
            "scrap_probability": 0.1,
            "counter_width": 32,
        }
        for n, m in enumerate(MACHINES, start=1)
    ]
    path.write_bytes(msgspec.yaml.encode({"site": "demo", "tick_ms": 20, "seed": 3, "machines": machines}))
    return path


def _edge(path: Path, sim: Simulator, broker_port: int) -> Path:
    tags = [
        {
            "name": "good_count",
            "table": "holding",
            "address": 0,
            "type": "uint32",
            "role": "counter",
            "width": 32,
        },
        {
            "name": "scrap_count",
            "table": "holding",
            "address": 2,
            "type": "uint32",
            "role": "scrap_counter",
            "width": 32,
        },
        {"name": "state", "table": "holding", "address": 4, "type": "uint16", "role": "state"},
    ]
    devices = [
        {
            "name": m,
            "protocol": "modbus_tcp",
            "machine": m,
            "host": "127.0.0.1",
            "port": sim.modbus_port,
            "unit_id": n,
            "timeout_s": 0.5,
            "poll_ms": 50,
            "backoff_max_s": 0.5,
            "tags": tags,
        }
        for n, m in enumerate(MACHINES, start=1)
    ]
    config = {
        "site": "demo",
        "edge_id": "line-a",
        "broker": {"host": "127.0.0.1", "port": broker_port, "keepalive": 5, "reconnect_max_s": 1},
        "buffer": {"path": str(path.parent / "outbox.db")},
        "batching": {"max_samples": 200, "max_delay_ms": 50},
        "publishing": {"max_inflight": 20, "replay_rate": 500, "ack_timeout_s": 3, "status_interval_s": 1},
        "devices": devices,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(msgspec.yaml.encode(config))
    return path


@pytest.fixture
def server(engine: Engine, db_url: str, mosquitto: Mosquitto) -> Iterator[TestClient]:
    settings = ingest_settings(db_url, mosquitto.port, admin_token=ADMIN_TOKEN)
    with TestClient(create_app(settings, engine=engine)) as client:
        yield client


def api(client: TestClient, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    response = client.request(method, f"/api/v1{path}", json=body, headers=ADMIN)
    assert response.status_code in (200, 201), f"{method} {path}: {response.status_code} {response.text}"
    return response.json()


def _po_xlsx() -> bytes:
    book = Workbook()
    book.active.append(["customer", "po_number", "po_date", "product", "quantity", "due_date", "unit_price"])
    book.active.append(["acme", "ACME-PO-7731", "2026-12-01", "SHAFT", 400, "2026-12-20", 3.75])
    book.active.append(["acme", "ACME-PO-7731", None, "SHAFT", 300, "2026-12-22", 3.75])
    book.active.append(["acme", "ACME-PO-7731", None, "SHAFT", 200, "2026-12-30", 3.5])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _counters_seen(engine: Engine) -> int:
    with Session(engine) as session:
        return len(session.exec(select(SignalState).where(SignalState.tag == "good_count")).all())


def _machine_good(engine: Engine, numbers: list[str]) -> int:
    with Session(engine) as session:
        stmt = select(Operation).join(WorkOrder).where(col(WorkOrder.number).in_(numbers))
        return sum(op.machine_good for op in session.exec(stmt).all())


@pytest.mark.faults
def test_sales_order_from_xlsx_to_share_page(
    engine: Engine,
    server: TestClient,
    mosquitto: Mosquitto,
    start_simulator: Callable[..., Simulator],
    tmp_path: Path,
) -> None:
    sim = start_simulator(config=_plant(tmp_path / "plant.yaml"), accel=ACCEL, extra=["--scenario", "none"])
    for machine in MACHINES:
        sim.post("/faults", {"action": "set_state", "machine": machine, "state": "idle"})
    edge_config = _edge(tmp_path / "edge" / "edge.yaml", sim, mosquitto.port)
    import_edge(engine, edge_config)
    api(server, "POST", "/customers", {"code": "acme", "name": "ACME Internal Name"})
    api(
        server,
        "POST",
        "/products",
        {
            "code": "SHAFT",
            "name": "Shaft",
            "routing": [{"step_no": 10, "name": "turn", "machine_kind": "cnc"}],
        },
    )
    upload = server.post(
        "/api/v1/sales-orders/import", files={"file": ("po.xlsx", _po_xlsx())}, headers=ADMIN
    )
    assert upload.status_code == 200 and upload.json()["imported"] == 3, upload.text
    [so] = api(server, "GET", "/sales-orders")["items"]
    line1 = api(
        server,
        "POST",
        f"/sales-orders/{so['id']}/lines/1/work-orders",
        {"orders": [{"number": "WO-SO-1A", "quantity": 250}, {"number": "WO-SO-1B", "quantity": 150}]},
    )
    line2 = api(
        server,
        "POST",
        f"/sales-orders/{so['id']}/lines/2/work-orders",
        {"orders": [{"number": "WO-SO-2", "quantity": 300}]},
    )
    assert [o["number"] for o in line1 + line2] == ["WO-SO-1A", "WO-SO-1B", "WO-SO-2"]
    link = api(server, "POST", f"/sales-orders/{so['id']}/share-links", {"show_inspections": False})
    token = link["url"].rsplit("/", 1)[1]

    with edge_agent(edge_config, tmp_path / "edge.log") as edge:
        # both counters' first readings (the baselines) are in before any part is made
        wait(lambda: _counters_seen(engine) == len(MACHINES), what="the server to read both good counters")
        for number, machine in (("WO-SO-1A", "lathe1"), ("WO-SO-2", "lathe2")):
            api(server, "POST", f"/work-orders/{number}/release")
            api(server, "POST", f"/work-orders/{number}/start", {"step_no": 10, "machine": machine})
        time.sleep(0.3)
        for machine in MACHINES:
            sim.post("/faults", {"action": "set_state", "machine": machine, "state": "running"})
        wait(lambda: _machine_good(engine, ["WO-SO-1A", "WO-SO-2"]) >= 20, what="20 good parts counted")
        for machine in MACHINES:
            sim.post("/faults", {"action": "set_state", "machine": machine, "state": "idle"})
        with Session(engine) as session:
            first = min(r.start_ms for r in session.exec(select(OperationRun)).all())
        until = int(time.time() * 1000) + 60_000
        truth = {
            m: sim.get(f"/ground-truth/parts?machine={m}&since_ms={first}&until_ms={until}")["good"]
            for m in MACHINES
        }
        wait(
            lambda: (
                (_machine_good(engine, ["WO-SO-1A"]), _machine_good(engine, ["WO-SO-2"]))
                == (truth["lathe1"], truth["lathe2"])
            ),
            what=f"the counts to reach the ground truth {truth}",
        )
    assert "Traceback" not in edge.output()

    time.sleep(2.1)  # past the share cache (share_cache_s)
    view = server.get(f"/s/{token}.json").json()
    assert view["po_number"] == "ACME-PO-7731" and view["status"] == "in_production"
    lines = {ln["line"]: ln for ln in view["lines"]}
    assert (lines[1]["good"], lines[1]["quantity"], lines[1]["status"]) == (
        truth["lathe1"],
        400,
        "in_production",
    )
    assert lines[1]["percent"] == round(100 * truth["lathe1"] / 400, 1)
    assert (lines[2]["good"], lines[2]["status"]) == (truth["lathe2"], "in_production")
    assert (lines[3]["good"], lines[3]["percent"], lines[3]["status"]) == (0, 0.0, "planned")
    assert "inspections" not in lines[1] and "eta" in lines[1]  # the link's choices
    html = server.get(f"/s/{token}", headers={"Accept-Language": "en"}).text
    assert "ACME-PO-7731" in html and f"{truth['lathe1']} / 400" in html and f"{lines[1]['percent']}%" in html
    raw = server.get(f"/s/{token}.json").text
    # no work-order numbers, customer code or name, prices, routing steps, machines, users or ids
    for internal in ("WO-SO-", "acme", "ACME Internal", "3.75", "turn", "lathe", "admin", '"id"', "_id"):
        assert internal not in html and internal not in raw, internal
    zh = server.get(f"/s/{token}", headers={"Accept-Language": "zh-CN"}).text
    assert "采购单号" in zh and "ACME-PO-7731" in zh
    old = api(server, "POST", "/work-orders/WO-SO-2/share-links", {})  # work-order links keep working
    one = server.get(f"/s/{old['url'].rsplit('/', 1)[1]}.json").json()
    assert (one["quantity"], one["good"]) == (300, truth["lathe2"])

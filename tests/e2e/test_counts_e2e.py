"""Simulator -> edge (Modbus) -> mosquitto -> server: a work order started on a machine ends a scripted run
with good and scrap equal to the simulator's ground truth for the run's window, exactly, through a 16-bit
counter wrap, an operator counter reset and a broker outage (kill -9 and restart)."""

import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import msgspec
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, select

from server.domain.edge_import import import_edge
from server.main import create_app
from server.models.ingest import CounterAnomaly, CountEvent, MachineStateSegment, SignalState
from server.models.production import Operation, OperationRun
from tests.server.ingest.conftest import ingest_settings
from tests.support.mosquitto import Mosquitto
from tests.support.processes import edge_agent
from tests.support.simulator import Simulator
from tests.support.waiting import wait_until

ADMIN_TOKEN = "e2e-admin-token-0123456789abcdef"
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
ACCEL = 10.0  # cycle 2 s -> 0.2 s: 5 parts per second


wait = partial(wait_until, timeout=30.0)


def write_plant(path: Path) -> Path:
    plant = {
        "site": "demo", "tick_ms": 20, "seed": 7,
        "machines": [{"id": "lathe1", "kind": "cnc", "line": "A", "protocol": "modbus", "unit_id": 1,
                      "cycle_time_s": 2.0, "jitter": 0.1, "scrap_probability": 0.15, "counter_width": 16,
                      "counter_start": 65_520}],  # wraps after 16 parts
    }  # fmt: skip
    path.write_bytes(msgspec.yaml.encode(plant))
    return path


def write_edge(path: Path, sim: Simulator, broker_port: int) -> Path:
    tags = [
        {"name": "good_count", "table": "holding", "address": 0, "type": "uint16", "role": "counter",
         "width": 16},
        {"name": "scrap_count", "table": "holding", "address": 2, "type": "uint16", "role": "scrap_counter",
         "width": 16},
        {"name": "state", "table": "holding", "address": 4, "type": "uint16", "role": "state"},
        {"name": "running", "table": "coil", "address": 0, "type": "bool", "role": "run"},
        {"name": "temperature", "table": "input", "address": 0, "type": "float32", "report": "always"},
    ]  # fmt: skip
    config = {
        "site": "demo", "edge_id": "line-a",
        "broker": {"host": "127.0.0.1", "port": broker_port, "keepalive": 5, "reconnect_max_s": 1},
        "buffer": {"path": str(path.parent / "outbox.db")},
        "batching": {"max_samples": 200, "max_delay_ms": 50},
        "publishing": {"max_inflight": 20, "replay_rate": 500, "ack_timeout_s": 3, "status_interval_s": 1},
        "devices": [{"name": "lathe1", "protocol": "modbus_tcp", "machine": "lathe1", "host": "127.0.0.1",
                     "port": sim.modbus_port, "unit_id": 1, "timeout_s": 0.5, "poll_ms": 50,
                     "backoff_max_s": 0.5, "max_gap": 0, "tags": tags}],
    }  # fmt: skip
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


@pytest.mark.faults
def test_work_order_counts_equal_ground_truth_through_wrap_reset_and_broker_outage(
    engine: Engine,
    server: TestClient,
    mosquitto: Mosquitto,
    start_simulator: Callable[..., Simulator],
    tmp_path: Path,
) -> None:
    sim = start_simulator(
        config=write_plant(tmp_path / "plant.yaml"), accel=ACCEL, extra=["--scenario", "none"]
    )
    sim.post("/faults", {"action": "set_state", "machine": "lathe1", "state": "idle"})
    edge_config = write_edge(tmp_path / "edge" / "edge.yaml", sim, mosquitto.port)
    import_edge(engine, edge_config)
    routing = [{"step_no": 10, "name": "turn", "machine_kind": "cnc"}]
    api(server, "POST", "/products", {"code": "SHAFT", "name": "Shaft", "routing": routing})
    api(server, "POST", "/work-orders", {"number": "WO-E2E", "product": "SHAFT", "quantity": 500})
    api(server, "POST", "/work-orders/WO-E2E/release")
    with edge_agent(edge_config, tmp_path / "edge.log") as edge:
        wait(lambda: _state(engine) == "idle", what="the server to see lathe1 idle (edge -> server works)")
        _run_script(server, engine, sim, mosquitto)
        with Session(engine) as session:
            run = session.exec(select(OperationRun)).one()
        assert run.end_ms is not None
        truth = sim.get(f"/ground-truth/parts?machine=lathe1&since_ms={run.start_ms}&until_ms={run.end_ms}")
        # the script made enough parts to mean something
        assert truth["good"] + truth["scrap"] >= 30 and truth["scrap"] > 0, truth
        wait(lambda: _counts(engine) == (truth["good"], truth["scrap"]), timeout=30,
             what=f"machine counts {_counts(engine)} to reach the ground truth {truth}")  # fmt: skip
        assert _counts(engine) == (truth["good"], truth["scrap"])
        assert sim.ground_truth()["machines"]["lathe1"]["counter_resets"], "the operator reset happened"
        with Session(engine) as session:
            kinds = set(session.exec(select(CountEvent.kind)).all())
            anomalies = session.exec(select(CounterAnomaly)).all()
        # the wrap counted as a wrap; the reset (to 0 while stopped: nothing to count) did not look like a
        # wrap of ~65 500 parts, which would have been quarantined and recorded here
        assert {"wrap", "increment"} <= kinds, kinds
        assert anomalies == []
        # live batches keep arriving, so one may be stored and not yet applied at any instant: nothing
        # must stay held, and no gap may ever open
        wait(lambda: api(server, "GET", "/edges")[0]["held_batches"] == 0, what="no batch held")
        assert api(server, "GET", "/edges")[0]["gaps"] == []
    assert "Traceback" not in edge.output()


def _run_script(server: TestClient, engine: Engine, sim: Simulator, mosquitto: Mosquitto) -> None:
    """Start the order, produce through a wrap, reset the counter, survive a broker kill, stop, pause."""
    api(server, "POST", "/work-orders/WO-E2E/start", {"step_no": 10, "machine": "lathe1"})
    time.sleep(0.3)
    sim.post("/faults", {"action": "set_state", "machine": "lathe1", "state": "running"})
    wait(lambda: _made(sim) >= 25, what="25 parts (the 16-bit counter wraps after 16)")
    # the operator stops the machine, waits for the counts to be in, and zeroes its counters
    sim.post("/faults", {"action": "set_state", "machine": "lathe1", "state": "idle"})
    truth = _truth(engine, sim)
    wait(lambda: _counts(engine) == truth, what=f"counts {_counts(engine)} = {truth} before the reset")
    sim.post("/faults", {"action": "reset_counter", "machine": "lathe1", "counter": "both"})
    wait(lambda: _signals(engine) == {"good_count": 0, "scrap_count": 0}, what="the server to see the reset")
    sim.post("/faults", {"action": "set_state", "machine": "lathe1", "state": "running"})
    time.sleep(1.0)
    mosquitto.kill()  # broker gone: the edge buffers, the server reconnects later
    time.sleep(30 / ACCEL)  # a 30 s outage in the plant's time: 30 s of production to buffer and replay
    mosquitto.start()
    time.sleep(1.5)
    sim.post("/faults", {"action": "set_state", "machine": "lathe1", "state": "idle"})
    time.sleep(0.5)
    api(server, "POST", "/work-orders/WO-E2E/pause", {"step_no": 10})


def _truth(engine: Engine, sim: Simulator) -> tuple[int, int]:
    """Parts made since the run started (the machine is stopped)."""
    with Session(engine) as session:
        run = session.exec(select(OperationRun)).one()
    until = int(time.time() * 1000) + 60_000
    truth = sim.get(f"/ground-truth/parts?machine=lathe1&since_ms={run.start_ms}&until_ms={until}")
    return int(truth["good"]), int(truth["scrap"])


def _signals(engine: Engine) -> dict[str, int]:
    with Session(engine) as session:
        return {s.tag: s.value for s in session.exec(select(SignalState)) if s.tag.endswith("_count")}


def _made(sim: Simulator) -> int:
    machine = sim.ground_truth()["machines"]["lathe1"]
    return int(machine["good"]) + int(machine["scrap"])


def _state(engine: Engine) -> str | None:
    with Session(engine) as session:
        seg = session.exec(select(MachineStateSegment).where(MachineStateSegment.end_ms == None)).first()  # noqa: E711
        return seg.state if seg else None


def _counts(engine: Engine) -> tuple[int, int]:
    with Session(engine) as session:
        op = session.exec(select(Operation)).one()
        return op.machine_good, op.machine_scrap

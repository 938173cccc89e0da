"""OEE from the real chain equals OEE from the simulator's ground truth.

simulator (scenario, --accel) -> edge (Modbus TCP) -> mosquitto -> server ingestion -> state timeline and
count ledger -> `oee.oee_rows`; compared with `/ground-truth` state intervals and parts.
"""

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from server.domain import oee
from server.domain.edge_import import import_edge
from server.main import create_app
from server.models.ingest import MachineStateSegment
from server.models.plant import Machine, Site
from tests.server.ingest.conftest import ingest_settings
from tests.server.reports import support as f
from tests.support.mosquitto import Mosquitto
from tests.support.processes import edge_agent
from tests.support.simulator import Simulator
from tests.support.waiting import wait_until

ACCEL = 20.0
CYCLE_S = 2.0  # plant seconds; 0.133 s real
POLL_MS = 20
# plant seconds: idle while the edge connects, run, fault, run, changeover, run, idle for good
SCENARIO = {
    "name": "oee-check",
    "events": [
        {"at": 0, "machine": "lathe1", "action": "set_state", "state": "idle"},
        {"at": 75, "machine": "lathe1", "action": "set_state", "state": "running"},
        {"at": 135, "machine": "lathe1", "action": "fault", "fault_code": 7, "duration_s": 20},
        {"at": 185, "machine": "lathe1", "action": "set_state", "state": "setup", "duration_s": 30},
        {"at": 245, "machine": "lathe1", "action": "set_state", "state": "idle"},
    ],
}
END_S = 245


def _write(path: Path, data: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(msgspec.yaml.encode(data))
    return path


def _plant() -> dict[str, Any]:
    return {
        "site": "demo",
        "tick_ms": 10,
        "seed": 11,
        "machines": [
            {
                "id": "lathe1",
                "kind": "cnc",
                "line": "A",
                "protocol": "modbus",
                "unit_id": 1,
                "cycle_time_s": CYCLE_S,
                "jitter": 0.05,
                "scrap_probability": 0.1,
                "counter_width": 32,
                "counter_start": 0,
            }
        ],
    }


def _edge(tmp: Path, sim: Simulator, broker_port: int) -> dict[str, Any]:
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
    return {
        "site": "demo",
        "edge_id": "line-a",
        "broker": {"host": "127.0.0.1", "port": broker_port, "keepalive": 5, "reconnect_max_s": 1},
        "buffer": {"path": str(tmp / "outbox.db")},
        "batching": {"max_samples": 200, "max_delay_ms": 50},
        "publishing": {"max_inflight": 20, "replay_rate": 500, "ack_timeout_s": 3, "status_interval_s": 1},
        "devices": [
            {
                "name": "lathe1",
                "protocol": "modbus_tcp",
                "machine": "lathe1",
                "host": "127.0.0.1",
                "port": sim.modbus_port,
                "unit_id": 1,
                "timeout_s": 0.5,
                "poll_ms": POLL_MS,
                "backoff_max_s": 0.3,
                "max_gap": 0,
                "tags": tags,
            }
        ],
    }


@pytest.fixture
def server(engine: Engine, mosquitto: Mosquitto) -> Iterator[TestClient]:
    settings = ingest_settings(
        str(engine.url), mosquitto.port, admin_token="reports-admin-token-0123456789abcdef"
    )
    with TestClient(create_app(settings, engine=engine)) as client:
        yield client


def _server_state(engine: Engine) -> str | None:
    with Session(engine) as s:
        seg = s.exec(select(MachineStateSegment).where(col(MachineStateSegment.end_ms).is_(None))).first()
        return seg.state if seg else None


def _truth_time(states: list[dict[str, Any]], now: int) -> dict[str, int]:
    out: dict[str, int] = {}
    for st in states:
        out[st["state"]] = out.get(st["state"], 0) + (st["end_ms"] or now) - st["start_ms"]
    return out


def test_oee_from_the_chain_matches_the_simulator_ground_truth(
    engine: Engine,
    server: TestClient,
    mosquitto: Mosquitto,
    start_simulator: Callable[..., Simulator],
    tmp_path: Path,
) -> None:
    scenario = _write(tmp_path / "scenario.yaml", SCENARIO)
    sim = start_simulator(
        config=_write(tmp_path / "plant.yaml", _plant()), accel=ACCEL, extra=["--scenario", str(scenario)]
    )
    edge_config = _write(tmp_path / "edge" / "edge.yaml", _edge(tmp_path / "edge", sim, mosquitto.port))
    import_edge(engine, edge_config)
    with Session(engine) as s:
        site = s.exec(select(Site)).one()
        f.shift(s, site, "all-day", "00:00", "00:00")  # planned = the whole (UTC) day
        lathe = s.exec(select(Machine)).one()
        lathe.ideal_cycle_s = CYCLE_S / ACCEL
        s.add(lathe)
        s.commit()
    with edge_agent(edge_config, tmp_path / "edge.log"):
        wait_until(lambda: _server_state(engine) == "idle", 20, "the server to see lathe1 idle")
        truth = sim.ground_truth()
        assert truth["machines"]["lathe1"]["good"] == 0, "production started before the edge was connected"
        started = truth["started_ms"]
        wait_until(
            lambda: sim.ground_truth()["now_ms"] > started + (END_S + 3) * 1000 / ACCEL, 40, "scenario end"
        )
        truth = sim.ground_truth()["machines"]["lathe1"]
        made = truth["good"] + truth["scrap"]
        wait_until(
            lambda: oee.total(_rows(engine, started)).total == made, 20, f"the server to count {made} parts"
        )
    now = sim.ground_truth()["now_ms"]
    rows = _rows(engine, started, now)
    fig = oee.total(rows)
    gt = _truth_time(truth["states"], now)
    gt_planned = fig.planned_ms  # the same shift calendar on both sides
    gt_run, gt_total = gt.get("running", 0), truth["good"] + truth["scrap"]
    transitions = 6  # into and out of running three times: each seen up to one poll late at both ends
    assert gt_run > 5_000 and truth["scrap"] > 0 and gt.get("fault", 0) > 0 and gt.get("setup", 0) > 0
    assert abs(fig.run_ms - gt_run) <= transitions * POLL_MS * 2, (fig.run_ms, gt_run)
    assert (
        abs(fig.fault_ms - gt["fault"]) <= 2 * POLL_MS * 2
        and abs(fig.setup_ms - gt["setup"]) <= 2 * POLL_MS * 2
    )
    assert (fig.good, fig.scrap) == (truth["good"], truth["scrap"])
    assert fig.availability == pytest.approx(gt_run / gt_planned, abs=1e-4)
    assert fig.performance == pytest.approx(CYCLE_S / ACCEL * 1000 * gt_total / gt_run, rel=0.02)
    assert fig.quality == pytest.approx(truth["good"] / gt_total, abs=1e-9)


def _rows(engine: Engine, started_ms: int, now: int | None = None) -> list[oee.OeeRow]:
    first = datetime.fromtimestamp(started_ms / 1000, UTC).date()
    last = datetime.now(UTC).date()
    with Session(engine) as s:
        return oee.oee_rows(s, oee.site_of(s, None), first, last, now=now)

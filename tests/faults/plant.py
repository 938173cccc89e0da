"""A whole small plant for the fault suite (issue 8, cases 1-5): five machines on both protocols in one
simulator, one `takt edge` reaching a private mosquitto through a FaultProxy, and a real `takt server`
process on SQLite (or on `db_url`'s database, e.g. a fresh PostgreSQL one from tests/support/postgres.py).
Tests break one part, then compare the server's counts with the simulator's ground truth.

    with plant.production() as window:   # machines run from window.start_ms; idle again on exit
        plant.broker.kill(); ...
    plant.assert_counts_exact(window)     # server's count ledger in the window == parts made in it

The simulator runs at ACCEL x: a 4 s cycle takes 67 ms, and a wall second is a simulated minute.
"""

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import msgspec
from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

from edge.buffer import Outbox
from server.core.db import init_db, make_engine
from server.domain.edge_import import import_edge
from server.models.ingest import CounterAnomaly, CountEvent, EdgeCursor, GapEvent, InboxBatch, SignalState
from server.models.plant import Machine
from tests.edge.support import counter_tags, modbus_device, wait_until
from tests.support.faultproxy import FaultProxy
from tests.support.mosquitto import Mosquitto
from tests.support.ports import free_port
from tests.support.processes import TaktProcess
from tests.support.simulator import Simulator

ACCEL = 60.0
SITE, EDGE = "faults", "plant-edge"
ADMIN_TOKEN = "faults-admin-token-0123456789abcdef"
SERVER_CLIENT_ID = "takt-server-faults"  # stable: the broker keeps its session across server kills
QUOTA_BYTES = 60_000  # the edge outbox's max_bytes: a long outage fills it (case 5)
REPLAY_RATE = 40.0  # backlog batches per second (case 4)
# counters start close to their wrap: each wraps in the first seconds of production (case 7 end to end)
MODBUS = [("press16", 1, 16, 65_450), ("cnc32", 2, 32, 4_294_967_220), ("saw16", 3, 16, 100)]
OPCUA = [("mold32", 32, 4_294_967_230), ("pack16", 16, 65_480)]
WRAPPING = {"press16", "cnc32", "mold32", "pack16"}
MACHINES = [m[0] for m in MODBUS] + [m[0] for m in OPCUA]


@dataclass
class Window:
    start_ms: int
    end_ms: int = 0


def write_plant(path: Path) -> Path:
    machines: list[dict[str, Any]] = [
        {"id": name, "kind": "cnc", "line": "A", "protocol": "modbus", "unit_id": unit, "cycle_time_s": 4.0,
         "jitter": 0.1, "scrap_probability": 0.1, "counter_width": width, "counter_start": start}
        for name, unit, width, start in MODBUS
    ]  # fmt: skip
    machines += [
        {"id": name, "kind": "injection_molding", "line": "B", "protocol": "opcua", "cycle_time_s": 5.0,
         "jitter": 0.1, "scrap_probability": 0.1, "counter_width": width, "counter_start": start}
        for name, width, start in OPCUA
    ]  # fmt: skip
    path.write_bytes(msgspec.yaml.encode({"site": SITE, "tick_ms": 20, "seed": 8, "machines": machines}))
    return path


def _opcua_device(name: str, width: int, endpoint: str) -> dict[str, Any]:
    node = f"nsu=urn:takt:simulator;s={name}."
    tags = [
        {"name": "good_count", "address": node + "good_count", "role": "counter", "width": width},
        {"name": "scrap_count", "address": node + "scrap_count", "role": "scrap_counter", "width": width},
        {"name": "state", "address": node + "state", "role": "state"},
        {"name": "temperature", "address": node + "temperature", "report": "always"},
    ]
    return {"name": name, "protocol": "opcua", "machine": name, "endpoint": endpoint, "sampling_ms": 50,
            "publishing_ms": 50, "watchdog_s": 0.5, "backoff_max_s": 0.5, "tags": tags}  # fmt: skip


def write_edge(path: Path, sim: Simulator, broker_port: int) -> Path:
    devices = [
        modbus_device(name, sim.modbus_port, unit, counter_tags(width, analog_always=True), poll_ms=100)
        for name, unit, width, _ in MODBUS
    ]
    devices += [_opcua_device(name, width, sim.opcua_endpoint) for name, width, _ in OPCUA]
    config = {
        "site": SITE, "edge_id": EDGE,
        "broker": {"host": "127.0.0.1", "port": broker_port, "keepalive": 5, "reconnect_max_s": 1},
        "buffer": {"path": str(path.parent / "outbox.db"), "max_bytes": QUOTA_BYTES},
        "batching": {"max_samples": 200, "max_delay_ms": 100},
        "publishing": {"max_inflight": 20, "replay_rate": REPLAY_RATE, "ack_timeout_s": 3,
                       "historical_after_ms": 1000, "status_interval_s": 1},
        "devices": devices,
    }  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(msgspec.yaml.encode(config))
    return path


class Plant:
    """Owns every process of the plant; `ensure_running()` brings back whatever a test left dead."""

    def __init__(self, workdir: Path, db_url: str | None = None) -> None:
        self.workdir = workdir
        self.sim = Simulator(workdir / "sim", config=write_plant(workdir / "plant.yaml"), accel=ACCEL,
                             extra=["--scenario", "none"])  # fmt: skip
        self.broker = Mosquitto(workdir / "mosquitto")
        self.proxy = FaultProxy("127.0.0.1", self.broker.port)  # edge -> proxy -> broker
        self.db_url = db_url or f"sqlite:///{workdir / 'takt.db'}"
        self.engine: Engine = make_engine(self.db_url)
        self.http_port = free_port()
        self.base = f"http://127.0.0.1:{self.http_port}"
        self.edge_config = workdir / "edge" / "edge.yaml"
        self.outbox_path = workdir / "edge" / "outbox.db"
        self.server = TaktProcess(["server", "--port", str(self.http_port)], workdir / "server.log", env={
            "TAKT_DATABASE_URL": self.db_url, "TAKT_MQTT_PORT": str(self.broker.port),
            "TAKT_MQTT_CLIENT_ID": SERVER_CLIENT_ID, "TAKT_ADMIN_TOKEN": ADMIN_TOKEN,
            "TAKT_SECRET_KEY": f"faults-{uuid.uuid4().hex}", "TAKT_SITE": SITE, "TAKT_DEMO_MODE": "0",
        })  # fmt: skip
        self.edge = TaktProcess(["edge", "--config", str(self.edge_config)], workdir / "edge.log")
        self.last_end_ms = 0

    # --- life cycle ---
    def start(self) -> None:
        self.sim.workdir.mkdir(parents=True, exist_ok=True)
        self.sim.start()
        self.set_state("idle")
        self.broker.start()
        self.proxy.start()
        write_edge(self.edge_config, self.sim, self.proxy.port)
        init_db(self.engine)
        import_edge(self.engine, self.edge_config)
        self.start_server()
        self.edge.start()
        wait_until(lambda: self.baselines() == set(MACHINES), 60, "a counter baseline of every machine")

    def stop(self) -> None:
        for process in (self.edge, self.server):
            process.stop()
        self.proxy.stop()
        self.broker.stop()
        self.sim.stop()
        self.engine.dispose()

    def start_server(self) -> None:
        self.server.start()
        wait_until(self._healthy, 60, "takt server /healthz")

    def ensure_running(self) -> None:
        if not self.broker.running:
            self.broker.start()
        self.proxy.restore()
        if not self.server.alive():
            self.start_server()
        if not self.edge.alive():
            self.edge.start()

    def _healthy(self) -> bool:
        assert self.server.alive(), f"takt server exited:\n{self.server.output()[-3000:]}"
        try:
            return httpx.get(f"{self.base}/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    # --- the simulator ---
    def set_state(self, state: str) -> None:
        for machine in MACHINES:
            self.sim.post("/faults", {"action": "set_state", "machine": machine, "state": state})

    @contextmanager
    def production(self) -> Iterator[Window]:
        """Run every machine; on exit stop them and wait until the server has every part they made."""
        self.ensure_running()
        time.sleep(max(0.0, self.last_end_ms / 1000 - time.time()))  # windows never overlap
        window = Window(int(time.time() * 1000))
        self.set_state("running")
        try:
            yield window
        finally:
            self.set_state("idle")
        self.ensure_running()
        # the machines are stopped: the last increments are stamped by the next poll, well within 2 s
        window.end_ms = self.last_end_ms = int(time.time() * 1000) + 2000
        wait_until(lambda: self.counts(window) == self.truth(window), 90,
                   f"server counts to reach the ground truth {self.truth(window)}")  # fmt: skip

    def truth(self, window: Window) -> dict[str, tuple[int, int]]:
        found = {}
        for machine in MACHINES:
            parts = self.sim.get(
                f"/ground-truth/parts?machine={machine}&since_ms={window.start_ms}&until_ms={window.end_ms}"
            )
            found[machine] = (int(parts["good"]), int(parts["scrap"]))
        return found

    # --- the server's database (read only) ---
    def counts(self, window: Window) -> dict[str, tuple[int, int]]:
        """Parts in the server's count ledger whose sample time is in the window, per machine."""
        with Session(self.engine) as session:
            rows = session.exec(
                select(Machine.code, func.sum(CountEvent.good), func.sum(CountEvent.scrap))
                .join(Machine, col(Machine.id) == col(CountEvent.machine_id))
                .where(CountEvent.ts_ms >= window.start_ms, CountEvent.ts_ms < window.end_ms)
                .group_by(Machine.code)
            ).all()
        found = {code: (int(good or 0), int(scrap or 0)) for code, good, scrap in rows}
        return {machine: found.get(machine, (0, 0)) for machine in MACHINES}

    def baselines(self) -> set[str]:
        """Machines whose good counter has a reading at the server (the first one is a baseline)."""
        return self._machines_with(SignalState, SignalState.tag == "good_count")

    def wrapped(self) -> set[str]:
        """Machines whose counter wrap the server has counted as a wrap."""
        return self._machines_with(CountEvent, CountEvent.kind == "wrap")

    def _machines_with(self, table: Any, condition: Any) -> set[str]:
        with Session(self.engine) as session:
            rows = session.exec(
                select(Machine.code)
                .join(table, col(table.machine_id) == col(Machine.id))
                .where(condition)
                .distinct()
            ).all()
        return set(rows)

    def cursor(self) -> int:
        with Session(self.engine) as session:
            row = session.get(EdgeCursor, EDGE)
            return row.last_applied_seq if row else 0

    def stored_not_applied(self) -> int:
        with Session(self.engine) as session:
            return int(session.exec(select(func.count()).select_from(InboxBatch)).one())

    def wait_ingesting(self, what: str) -> None:
        """Wait until the server has applied ten more batches."""
        seen = self.cursor()
        wait_until(lambda: self.cursor() > seen + 10, 30, what)

    def wait_unapplied(self, timeout: float) -> int:
        """Poll without pause until the inbox holds batches not yet applied; their number (0: none seen)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if found := self.stored_not_applied():
                return found
            time.sleep(0.001)
        return 0

    def outbox(self) -> tuple[int, int, int]:
        """(depth, next_seq, acked_seq) of the edge's outbox, read while the edge runs."""
        outbox = Outbox(self.outbox_path)
        try:
            return outbox.depth, outbox.next_seq, outbox.acked_seq
        finally:
            outbox.close()

    def api(self, path: str) -> Any:
        response = httpx.get(f"{self.base}/api/v1{path}", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
        assert response.status_code == 200, f"{path}: {response.status_code} {response.text}"
        return response.json()

    def assert_counts_exact(self, window: Window) -> None:
        """Counts equal the ground truth; every seq applied once; no gap, nothing quarantined."""
        truth = self.truth(window)
        assert self.counts(window) == truth
        assert sum(good + scrap for good, scrap in truth.values()) > 20 * len(MACHINES), truth
        wait_until(lambda: self.api(f"/edges/{EDGE}")["held_batches"] == 0, 30, "no batch held")
        with Session(self.engine) as session:
            assert session.exec(select(CounterAnomaly)).all() == []
            assert session.exec(select(GapEvent)).all() == []
        assert "Traceback" not in self.edge.output(), self.edge.output()[-3000:]

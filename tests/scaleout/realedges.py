"""Real `takt edge` processes reading real simulated machines over Modbus TCP, beside the simulated fleet.

The machines are idle until every counter has its baseline at the server, then run at ACCEL x through a
16-bit wrap; the simulator's ground truth of the parts made from then on is what the server must count.
"""

import sqlite3
import time
from pathlib import Path

import msgspec
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from server.domain.edge_import import import_edge
from server.models.ingest import SignalState
from server.models.plant import Machine
from tests.edge.support import counter_tags, edge_process, modbus_device, write_config
from tests.support.processes import TaktProcess
from tests.support.simulator import Simulator

ACCEL = 10.0  # a 2 s cycle takes 0.2 s
MACHINES = {"line-a": ("press-a", 1), "line-b": ("press-b", 2)}  # edge id -> (machine, Modbus unit)


def write_plant(path: Path) -> Path:
    machines = [
        {"id": code, "kind": "stamping_press", "line": "A", "protocol": "modbus", "unit_id": unit,
         "cycle_time_s": 2.0, "jitter": 0.1, "scrap_probability": 0.1, "counter_width": 16,
         "counter_start": 65_520}  # wraps after 16 parts
        for code, unit in MACHINES.values()
    ]  # fmt: skip
    path.write_bytes(msgspec.yaml.encode({"site": "demo", "tick_ms": 20, "seed": 5, "machines": machines}))
    return path


class RealEdges:
    """One edge agent per machine; configs are imported into the server database before anything runs."""

    def __init__(self, sim: Simulator, broker_port: int, workdir: Path) -> None:
        self.sim = sim
        self.configs: dict[str, Path] = {}
        for edge_id, (code, unit) in MACHINES.items():
            folder = workdir / edge_id
            folder.mkdir(parents=True, exist_ok=True)
            device = modbus_device(code, sim.modbus_port, unit, counter_tags(16))
            self.configs[edge_id] = write_config(
                folder / "edge.yaml", broker_port, [device], site="demo", edge_id=edge_id,
                publishing={"ack_timeout_s": 1}, logging={"level": "WARNING"},
            )  # fmt: skip
        self.processes: list[TaktProcess] = []
        self.since_ms = 0
        self.set_state("idle")

    def import_into(self, engine: Engine) -> None:
        for config in self.configs.values():
            import_edge(engine, config)

    def start(self) -> None:
        for edge_id, config in self.configs.items():
            self.processes.append(edge_process(config, config.parent / f"{edge_id}.log"))

    def stop(self) -> None:
        for process in self.processes:
            process.stop()

    def outbox(self, edge_id: str) -> tuple[int, int, int]:
        """(last seq stored, acked seq, batches waiting) read from the agent's outbox, read-only."""
        path = self.configs[edge_id].parent / "outbox.db"
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
            meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
            waiting = db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0]
        db.close()
        return int(meta.get("next_seq", 1)) - 1, int(meta.get("acked_seq", 0)), int(waiting)

    def baselines(self, engine: Engine) -> bool:
        """Every counter of every machine has its first (baseline) reading at the server."""
        codes = [code for code, _ in MACHINES.values()]
        with Session(engine) as session:
            rows = session.exec(
                select(SignalState.tag)
                .join(Machine, col(Machine.id) == SignalState.machine_id)
                .where(col(Machine.code).in_(codes), col(SignalState.tag).in_(["good_count", "scrap_count"]))
            ).all()
        return len(rows) == 2 * len(codes)

    def run(self) -> None:
        self.since_ms = int(time.time() * 1000)
        self.set_state("running")

    def set_state(self, state: str) -> None:
        for code, _ in MACHINES.values():
            self.sim.post("/faults", {"action": "set_state", "machine": code, "state": state})

    def truth(self) -> dict[str, tuple[int, int]]:
        """Parts made since run() (the machines must be idle again)."""
        until = int(time.time() * 1000) + 60_000
        made: dict[str, tuple[int, int]] = {}
        for code, _ in MACHINES.values():
            parts = self.sim.get(
                f"/ground-truth/parts?machine={code}&since_ms={self.since_ms}&until_ms={until}"
            )
            made[code] = (int(parts["good"]), int(parts["scrap"]))
        return made

"""PLC profiles end to end: the simulator's floor plant (a Siemens-style OPC UA mold counting shots of 4
cavities with quoted string ids in a shifted namespace and 16-bit counters near the top, a Modbus press
counting total parts with swapped words near the top of 32 bits, an Omron-style OPC UA packer counting
good parts with its state as text) read by one edge built from the
ready configs in deploy/edge/examples (docs/edge.md, "PLC families"); the server's counts equal the
simulator's ground truth exactly and its machine states follow the PLCs' own state values."""

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
import yaml
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from edge.config import substitute_env
from server.domain.edge_import import import_edge
from server.models.ingest import CounterAnomaly, CountEvent, MachineStateSegment
from server.models.plant import Machine
from tests.e2e.test_counts_e2e import server, wait
from tests.support.mosquitto import Mosquitto
from tests.support.processes import ROOT, edge_agent
from tests.support.simulator import Simulator

__all__ = ["server"]  # fixture
EXAMPLES = ROOT / "deploy" / "edge" / "examples"
FLOOR = ROOT / "simulators" / "plants" / "floor.yaml"
MACHINES = ("s7-mold", "fx-press", "omron-pack")
ACCEL = 40.0


def edge_config(path: Path, sim: Simulator, broker_port: int) -> Path:
    """The three example configs, their variables pointed at the simulator, as one edge."""
    env = {
        "TAKT_SITE": "demo", "TAKT_EDGE_ID": "floor", "TAKT_MQTT_HOST": "127.0.0.1",
        "TAKT_MQTT_PORT": str(broker_port), "TAKT_OUTBOX": str(path.parent / "outbox.db"),
        "S7_HOST": "127.0.0.1", "S7_PORT": str(sim.opcua_port), "S7_NAMESPACE": "urn:takt:simulator",
        "S7_DB": "s7-mold", "PLC_HOST": "127.0.0.1", "PLC_PORT": str(sim.modbus_port),
        "OMRON_HOST": "127.0.0.1", "OMRON_PORT": str(sim.opcua_port), "OMRON_NAMESPACE": "urn:takt:simulator",
        "OMRON_PREFIX": "omron-pack",
    }  # fmt: skip
    devices: list[dict[str, Any]] = []
    for name in ("siemens-s7.yaml", "modbus-swapped-words.yaml", "omron-nx.yaml"):
        file = EXAMPLES / name
        devices += yaml.safe_load(substitute_env(file.read_text(), str(file), env))["devices"]
    for device in devices:
        device |= (
            {"backoff_max_s": 0.5, "poll_ms": 50}
            if device["protocol"] == "modbus_tcp"
            else {"sampling_ms": 50, "publishing_ms": 50, "watchdog_s": 1.0, "backoff_max_s": 0.5}
        )
    config = {
        "site": "demo", "edge_id": "floor",
        "broker": {"host": "127.0.0.1", "port": broker_port, "keepalive": 5, "reconnect_max_s": 1},
        "buffer": {"path": env["TAKT_OUTBOX"]},
        "batching": {"max_samples": 200, "max_delay_ms": 50},
        "publishing": {"status_interval_s": 1},
        "devices": devices,
    }  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(msgspec.yaml.encode(config))
    return path


@pytest.fixture
def floor(start_simulator: Any) -> Iterator[Simulator]:
    yield start_simulator(config=FLOOR, accel=ACCEL, extra=["--scenario", "none"])


def set_state(sim: Simulator, state: str) -> None:
    for machine in MACHINES:
        sim.post("/faults", {"action": "set_state", "machine": machine, "state": state})


def truth(sim: Simulator) -> dict[str, tuple[int, int]]:
    machines = sim.ground_truth()["machines"]
    return {m: (machines[m]["good"], machines[m]["scrap"]) for m in MACHINES}


def counted(engine: Engine) -> dict[str, tuple[int, int]]:
    with Session(engine) as session:
        codes = {m.id: m.code for m in session.exec(select(Machine))}
        totals = {code: [0, 0] for code in codes.values()}
        for event in session.exec(select(CountEvent)):
            totals[codes[event.machine_id]][0] += event.good
            totals[codes[event.machine_id]][1] += event.scrap
    return {code: (good, scrap) for code, (good, scrap) in totals.items()}


def states(engine: Engine) -> dict[str, str]:
    with Session(engine) as session:
        codes = {m.id: m.code for m in session.exec(select(Machine))}
        open_ = session.exec(select(MachineStateSegment).where(col(MachineStateSegment.end_ms).is_(None)))
        return {codes[s.machine_id]: s.state for s in open_}


@pytest.mark.faults
def test_floor_plant_counts_exactly_through_the_example_configs(
    engine: Engine, server: TestClient, mosquitto: Mosquitto, floor: Simulator, tmp_path: Path
) -> None:
    set_state(floor, "idle")
    config = edge_config(tmp_path / "edge" / "edge.yaml", floor, mosquitto.port)
    import_edge(engine, config)
    with edge_agent(config, tmp_path / "edge.log") as edge:
        wait(
            lambda: states(engine) == dict.fromkeys(MACHINES, "idle"), what="every machine idle on the server"
        )
        before = truth(floor)
        set_state(floor, "running")
        wait(lambda: states(engine) == dict.fromkeys(MACHINES, "running"), what="every machine running")
        time.sleep(9.0)  # ~45 shots and ~120 presses at 40x: the 16-bit and the 32-bit counters wrap
        set_state(floor, "fault")  # each PLC says fault its own way: 2, "ALARM"
        wait(lambda: states(engine) == dict.fromkeys(MACHINES, "fault"), what="every machine in fault")
        after = truth(floor)
        made = {m: (after[m][0] - before[m][0], after[m][1] - before[m][1]) for m in MACHINES}
        assert all(good + scrap >= 60 for good, scrap in made.values()), made
        assert sum(made["s7-mold"]) // 4 > 65_535 - 65_500  # its 16-bit shot counter wrapped
        wait(lambda: counted(engine) == made, timeout=30,
             what=f"server counts {counted(engine)} to equal the ground truth {made}")  # fmt: skip
        with Session(engine) as session:
            kinds = set(session.exec(select(CountEvent.kind)).all())
            anomalies = session.exec(select(CounterAnomaly)).all()
        assert "wrap" in kinds and anomalies == []
    assert "Traceback" not in edge.output()
    assert "maps to no state" not in edge.output()


def _w16_plant(path: Path) -> Path:
    machine = {"id": "w16", "kind": "stamping_press", "line": "P", "protocol": "modbus", "unit_id": 1,
               "cycle_time_s": 4.0, "jitter": 0.05, "scrap_probability": 0.1, "counter_width": 16,
               "counter_start": 65_470}  # fmt: skip
    plant = {"site": "demo", "tick_ms": 20, "seed": 5, "machines": [machine]}
    path.write_bytes(msgspec.yaml.encode(plant))
    return path


def _w16_edge(path: Path, sim: Simulator, broker_port: int) -> Path:
    tags = [
        {"name": "good_count", "table": "holding", "address": 0, "type": "uint16", "role": "counter"},
        {"name": "scrap_count", "table": "holding", "address": 2, "type": "uint16", "role": "scrap_counter"},
        {"name": "state", "table": "holding", "address": 4, "role": "state"},
    ]
    device = {"name": "w16", "protocol": "modbus_tcp", "machine": "w16", "host": "127.0.0.1",
              "port": sim.modbus_port, "poll_ms": 50, "backoff_max_s": 0.5, "max_gap": 0,
              "tags": tags}  # fmt: skip
    config = {"site": "demo", "edge_id": "w16", "broker": {"host": "127.0.0.1", "port": broker_port},
              "buffer": {"path": str(path.parent / "outbox.db")}, "batching": {"max_delay_ms": 50},
              "publishing": {"status_interval_s": 1}, "devices": [device]}  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(msgspec.yaml.encode(config))
    return path


@pytest.mark.faults
def test_a_reset_near_the_top_of_16_bits_and_a_jump_held_as_an_anomaly(
    engine: Engine, server: TestClient, mosquitto: Mosquitto, start_simulator: Any, tmp_path: Path
) -> None:
    sim = start_simulator(
        config=_w16_plant(tmp_path / "plant.yaml"), accel=ACCEL, extra=["--scenario", "none"]
    )
    sim.post("/faults", {"action": "set_state", "machine": "w16", "state": "idle"})
    config = _w16_edge(tmp_path / "edge" / "edge.yaml", sim, mosquitto.port)
    import_edge(engine, config)

    def made() -> tuple[int, int]:
        machine = sim.ground_truth()["machines"]["w16"]
        return machine["good"], machine["scrap"]

    def produce(parts: int) -> None:
        start = sum(made())
        sim.post("/faults", {"action": "set_state", "machine": "w16", "state": "running"})
        wait(lambda: sum(made()) >= start + parts, what=f"{parts} parts")
        sim.post("/faults", {"action": "set_state", "machine": "w16", "state": "idle"})

    def counts_equal(base: tuple[int, int]) -> bool:
        now = made()
        return counted(engine).get("w16") == (now[0] - base[0], now[1] - base[1])

    with edge_agent(config, tmp_path / "edge.log") as edge:
        wait(lambda: states(engine).get("w16") == "idle", what="w16 idle on the server")
        base = made()
        produce(20)  # the good counter climbs to ~65490, short of the wrap at 65536
        wait(lambda: counts_equal(base), timeout=30, what="the counts before the reset")
        sim.post("/faults", {"action": "reset_counter", "machine": "w16", "counter": "both"})  # while idle
        produce(20)
        wait(
            lambda: counts_equal(base),
            timeout=30,
            what=f"counts {counted(engine)} = ground truth after the reset",
        )
        with Session(engine) as session:
            assert "wrap" not in set(session.exec(select(CountEvent.kind)).all())  # ~45 parts not invented
            assert session.exec(select(CounterAnomaly)).all() == []
        # a jump no machine makes (a preset while idle): held for a person, nothing counted
        good_now = made()[0] - base[0] - 0
        sim.post(
            "/faults",
            {"action": "set_counter", "machine": "w16", "counter": "good", "value": 5_000 + good_now},
        )
        wait(lambda: _anomalies(engine), what="the jump held as a count anomaly")
        assert counts_equal(base)
        anomaly = _anomalies(engine)[0]
        assert anomaly.status == "open" and anomaly.tag == "good_count"
    assert "Traceback" not in edge.output()


def _anomalies(engine: Engine) -> list[CounterAnomaly]:
    with Session(engine) as session:
        return list(session.exec(select(CounterAnomaly)).all())

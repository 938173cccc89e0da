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
from server.models.ingest import CounterAnomaly, CountEvent, MachineStateSegment, SignalState
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


TOP = {16: 65_535, 32: 4_294_967_295}
PRESSES = ("r", "a")


def _near_top_plant(path: Path, width: int) -> Path:
    """Two presses whose counters start 65 parts short of the top of `width` bits (the issue's uint32 sat at
    4294967265): `r` is reset to 0 by its operator, `a` preset to 7, both while idle."""
    machines = [
        {"id": name, "kind": "stamping_press", "line": "P", "protocol": "modbus", "unit_id": unit,
         "cycle_time_s": 4.0, "jitter": 0.05, "scrap_probability": 0.1, "counter_width": width,
         "counter_start": TOP[width] - 65}
        for unit, name in enumerate(PRESSES, start=1)
    ]  # fmt: skip
    plant = {"site": "demo", "tick_ms": 20, "seed": 5, "machines": machines}
    path.write_bytes(msgspec.yaml.encode(plant))
    return path


def _near_top_edge(path: Path, sim: Simulator, broker_port: int, width: int) -> Path:
    kind = f"uint{width}"
    tags = [
        {"name": "good_count", "table": "holding", "address": 0, "type": kind, "role": "counter"},
        {"name": "scrap_count", "table": "holding", "address": 2, "type": kind, "role": "scrap_counter"},
        {"name": "state", "table": "holding", "address": 4, "role": "state"},
    ]
    devices = [
        {"name": name, "protocol": "modbus_tcp", "machine": name, "host": "127.0.0.1", "unit_id": unit,
         "port": sim.modbus_port, "poll_ms": 50, "backoff_max_s": 0.5, "max_gap": 0, "tags": tags}
        for unit, name in enumerate(PRESSES, start=1)
    ]  # fmt: skip
    config = {"site": "demo", "edge_id": f"w{width}", "broker": {"host": "127.0.0.1", "port": broker_port},
              "buffer": {"path": str(path.parent / "outbox.db")}, "batching": {"max_delay_ms": 50},
              "publishing": {"status_interval_s": 1}, "devices": devices}  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(msgspec.yaml.encode(config))
    return path


@pytest.mark.faults
@pytest.mark.parametrize("width", [16, 32])
def test_near_the_top_a_reset_counts_exactly_an_ambiguous_drop_and_a_jump_are_held(
    width: int, engine: Engine, server: TestClient, mosquitto: Mosquitto, start_simulator: Any, tmp_path: Path
) -> None:
    sim = start_simulator(
        config=_near_top_plant(tmp_path / "plant.yaml", width), accel=ACCEL, extra=["--scenario", "none"]
    )
    for press in PRESSES:
        sim.post("/faults", {"action": "set_state", "machine": press, "state": "idle"})
    config = _near_top_edge(tmp_path / "edge" / "edge.yaml", sim, mosquitto.port, width)
    import_edge(engine, config)

    def made(press: str) -> tuple[int, int]:
        machine = sim.ground_truth()["machines"][press]
        return machine["good"], machine["scrap"]

    def produce(parts: int) -> None:
        start = {press: sum(made(press)) for press in PRESSES}
        for press in PRESSES:
            sim.post("/faults", {"action": "set_state", "machine": press, "state": "running"})
        wait(lambda: all(sum(made(p)) >= start[p] + parts for p in PRESSES), what=f"{parts} parts each")
        for press in PRESSES:
            sim.post("/faults", {"action": "set_state", "machine": press, "state": "idle"})

    def counted_since(base: dict[str, tuple[int, int]], press: str, extra_good: int = 0) -> bool:
        now = made(press)
        expected = (now[0] - base[press][0] + extra_good, now[1] - base[press][1])
        return counted(engine).get(press) == expected

    with edge_agent(config, tmp_path / "edge.log") as edge:
        wait(lambda: all(states(engine).get(p) == "idle" for p in PRESSES), what="both presses idle")
        base = {press: made(press) for press in PRESSES}
        produce(20)  # ~45 parts short of the top
        wait(lambda: all(counted_since(base, p) for p in PRESSES), timeout=30, what="counts before the drops")
        time.sleep(3)  # idle long enough that ~50 parts to the wrap fit the presses' learned rate
        sim.post("/faults", {"action": "reset_counter", "machine": "r", "counter": "both"})  # lands on 0
        sim.post("/faults", {"action": "set_counter", "machine": "a", "counter": "good", "value": 7})
        # the drops seen while idle: a reading taken with the next start could only be called a wrap
        wait(lambda: _good_readings(engine) == {"r": 0, "a": 7}, what="both drops read while idle")
        produce(20)
        # r: a reset, not a wrap (~45 parts not invented); a: a wrap or a reset to 7? 7 counted, the rest held
        wait(
            lambda: counted_since(base, "r"), timeout=30, what=f"r's counts {counted(engine)} after its reset"
        )
        wait(lambda: counted_since(base, "a", extra_good=7), timeout=30,
             what=f"a's counts {counted(engine)} after its ambiguous drop")  # fmt: skip
        (held,) = _anomalies(engine)
        assert (held.kind, held.status, held.tag, held.new_value) == ("ambiguous", "open", "good_count", 7)
        assert held.old_value is not None and held.held == TOP[width] - held.old_value + 1  # the wrap's extra
        with Session(engine) as session:
            assert "wrap" not in set(session.exec(select(CountEvent.kind)).all())
        # a jump no machine makes (a preset while idle): held for a person, nothing counted
        jump_to = 5_000 + made("r")[0] - base["r"][0]
        sim.post("/faults", {"action": "set_counter", "machine": "r", "counter": "good", "value": jump_to})
        wait(lambda: len(_anomalies(engine)) == 2, what="the jump held as a count anomaly")
        assert counted_since(base, "r")
        jump = _anomalies(engine)[1]
        assert (jump.kind, jump.status, jump.tag) == ("quarantine", "open", "good_count")
    assert "Traceback" not in edge.output()


def _good_readings(engine: Engine) -> dict[str, int]:
    """Each machine's last good-counter reading on the server."""
    with Session(engine) as session:
        codes = {m.id: m.code for m in session.exec(select(Machine))}
        rows = session.exec(select(SignalState).where(SignalState.tag == "good_count"))
        return {codes[row.machine_id]: row.value for row in rows}


def _anomalies(engine: Engine) -> list[CounterAnomaly]:
    with Session(engine) as session:
        return list(session.exec(select(CounterAnomaly)).all())

"""A scenario plays on schedule: what clients read over Modbus and OPC UA matches the script and the
ground truth (state intervals, counter reset, Modbus silence, OPC UA restart)."""

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

import yaml
from asyncua import Client
from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ModbusException

from simulators.config import load_plant
from simulators.machines import Machine
from tests.simulators.conftest import TEST_PLANT, write_plant
from tests.support.simulator import Simulator

ACCEL = 20.0  # plant seconds / 20 = wall seconds
PLANT = {
    "tick_ms": 20,
    "machines": [
        {"id": "mb", "kind": "cnc", "line": "A", "protocol": "modbus", "unit_id": 1, "cycle_time_s": 1.0},
        {"id": "ua", "kind": "injection_molding", "line": "B", "protocol": "opcua", "cycle_time_s": 1.0,
         "program": "OLD-MOULD"},
    ],
}  # fmt: skip
SCENARIO = {
    "name": "test-shift",
    "start_idle_s": 10,  # 0.5 s wall
    "events": [
        {"at": 30, "machine": "mb", "action": "fault", "fault_code": 9, "duration_s": 30},  # 1.5 s .. 3.0 s
        {"at": 30, "machine": "ua", "action": "changeover", "duration_s": 20, "program": "NEW-MOULD"},
        {"at": "50s", "machine": "ua", "action": "reset_counter"},  # 2.5 s
        {"at": "70s", "action": "silence", "protocol": "modbus", "duration_s": 20},  # 3.5 s .. 4.5 s
        {"at": "1m10s", "action": "restart", "protocol": "opcua"},
    ],
}


def distinct(values: list[object]) -> list[object]:
    return [v for i, v in enumerate(values) if i == 0 or v != values[i - 1]]


async def watch_modbus(sim: Simulator, until: float) -> list[int | None]:
    seen: list[int | None] = []
    while time.monotonic() < until:
        c = AsyncModbusTcpClient("127.0.0.1", port=sim.modbus_port, timeout=0.2, retries=0)
        try:
            await c.connect()
            while time.monotonic() < until:
                rr = await c.read_holding_registers(4, count=1, device_id=1)
                seen.append(rr.registers[0])
                await asyncio.sleep(0.02)
        except ModbusException:
            seen.append(None)  # no answer: the silence
        finally:
            c.close()
    return seen


async def watch_opcua(sim: Simulator, until: float) -> list[tuple[int, str]]:
    seen: list[tuple[int, str]] = []
    async with Client(sim.opcua_endpoint, timeout=2) as c:
        idx = await c.get_namespace_index("urn:takt:simulator")
        state, program = c.get_node(f"ns={idx};s=ua.state"), c.get_node(f"ns={idx};s=ua.program")
        while time.monotonic() < until and len(seen) < 10_000:
            try:
                values = await c.read_values([state, program])  # one Read request: one consistent tick
                seen.append((values[0], values[1]))
            except Exception:  # the scripted restart cuts this session; the test below checks it
                break
            await asyncio.sleep(0.02)
    return seen


async def test_scenario_plays_on_schedule(tmp_path: Path, start_simulator: Callable[..., Simulator]) -> None:
    plant = write_plant(tmp_path / "plant.yaml", PLANT)  # type: ignore[arg-type]
    scenario = tmp_path / "shift.yaml"
    scenario.write_text(yaml.safe_dump(SCENARIO))
    sim = start_simulator(
        config=plant, accel=ACCEL, extra=["--scenario", str(scenario), "--state-dir", str(tmp_path / "state")]
    )
    started = sim.get("/healthz")["started_ms"]
    until = time.monotonic() + 5.2 - (time.time() * 1000 - started) / 1000
    mb_seen, ua_seen = await asyncio.gather(watch_modbus(sim, until), watch_opcua(sim, until))

    assert distinct([s for s in mb_seen if s is not None]) == [0, 2, 3, 2]  # idle, running, fault, running
    assert None in mb_seen[mb_seen.index(3) :]  # the silence came after the fault
    assert mb_seen[-1] == 2  # and ended
    assert distinct(ua_seen)[:3] == [(0, "OLD-MOULD"), (2, "OLD-MOULD"), (1, "NEW-MOULD")]

    truth = sim.ground_truth()["machines"]
    mb_states = truth["mb"]["states"]
    assert [s["state"] for s in mb_states] == ["idle", "running", "fault", "running"]
    fault = mb_states[2]
    assert fault["fault_code"] == 9
    # scheduled at plant 30 s = wall 1.5 s after start and 1.5 s long: applied at the first tick after
    # (never earlier; later only by how late the tick that applied it ran, generous for busy CI boxes)
    assert 1500 <= fault["start_ms"] - started < 3000
    assert 1500 - 1000 <= fault["end_ms"] - fault["start_ms"] <= 1500 + 1000  # each end: a tick, late or not
    assert [s["state"] for s in truth["ua"]["states"]] == ["idle", "running", "setup", "running"]
    applied = [(f["action"], f.get("machine")) for f in sim.ground_truth()["faults"]]
    assert applied[:3] == [("fault", "mb"), ("changeover", "ua"), ("reset_counter", "ua")]
    (reset,) = truth["ua"]["counter_resets"]
    assert reset["kind"] == "reset" and reset["to"] == 0 and reset["from"] > 0
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and sim.get("/healthz")["opcua_starts"] < 2:
        await asyncio.sleep(0.1)
    assert sim.get("/healthz")["opcua_starts"] == 2  # started, then restarted by the script


async def test_seeded_run_makes_exactly_what_the_model_makes(
    tmp_path: Path, start_simulator: Callable[..., Simulator]
) -> None:
    """Same plant, seed and scenario: the running simulator's parts equal the pure model's, to the part."""
    plant_path = write_plant(tmp_path / "plant.yaml", TEST_PLANT)
    events = [
        {"at": 40, "machine": m["id"], "action": "set_state", "state": "idle"} for m in TEST_PLANT["machines"]
    ]  # type: ignore[index,union-attr]
    scenario = tmp_path / "stop.yaml"
    events.append({"at": 5, "machine": "w16", "action": "reset_counter"})  # again at 50, 95, ...
    scenario.write_text(yaml.safe_dump({"events": events, "repeat_every_s": 45}))
    sim = start_simulator(config=plant_path, accel=ACCEL, extra=["--scenario", str(scenario), "--seed", "11"])
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and any(s != "idle" for s in sim.get("/healthz")["machines"].values()):
        await asyncio.sleep(0.1)
    truth = sim.ground_truth()["machines"]
    plant = load_plant(plant_path)
    while time.monotonic() < deadline and len(sim.ground_truth()["machines"]["w16"]["counter_resets"]) < 2:
        await asyncio.sleep(0.1)
    first, second = sim.ground_truth()["machines"]["w16"]["counter_resets"][:2]  # repeat_every_s
    made_before_first = first["from"] - 65500  # counter_start 65500, 1 part/s, 5 parts by then
    assert made_before_first == 5 and second["from"] == truth["w16"]["good"] - made_before_first
    for cfg in plant.machines:
        model = Machine(cfg, seed=11)
        model.set_state("idle", 40.0)
        assert (truth[cfg.id]["good"], truth[cfg.id]["scrap"]) == (model.good_total, model.scrap_total), (
            cfg.id
        )
    other = Machine(plant.machines[5], seed=12)  # "fast": another seed, other parts
    other.set_state("idle", 40.0)
    assert (other.good_total, other.scrap_total) != (truth["fast"]["good"], truth["fast"]["scrap"])

"""PLC profiles: total and shot counters (cavities), a PLC's own state numbering and texts, Siemens-style
quoted string ids, namespaces before the simulator's own, swapped words; read with independent clients."""

import asyncio
import struct
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from asyncua import Client
from pymodbus.client import AsyncModbusTcpClient

from simulators.config import load_plant
from simulators.machines import Machine
from tests.simulators.conftest import make_machine
from tests.support.processes import ROOT
from tests.support.simulator import Simulator

FLOOR = ROOT / "simulators" / "plants" / "floor.yaml"
NS = "urn:takt:simulator"


def make(**overrides: object) -> Machine:
    return make_machine(**({"kind": "injection_molding", "scrap_probability": 0.2} | overrides))


def test_cavities_make_parts_per_shot_and_counters_wrap() -> None:
    m = make(cavities=4, counter_width=16, counter_start=65_530)
    m.advance(1_000.0)
    shots = m.total_cycles
    made = m.good_total + m.scrap_total
    assert shots > 80 and made == 4 * shots and 0 < m.scrap_total < made
    assert m.shot_counter == (65_530 + shots) % 65_536
    assert m.part_counter == (65_530 + made) % 65_536
    assert m.good_counter == (65_530 + m.good_total) % 65_536


def test_one_cavity_keeps_the_same_parts_as_before() -> None:
    """The parts RNG is drawn as before for one cavity: a seed's ground truth does not move."""
    a, b = make(), make(cavities=1)
    a.advance(5_000.0)
    b.advance(5_000.0)
    assert (a.good_total, a.scrap_total) == (b.good_total, b.scrap_total)
    assert a.part_counter == a.good_total + a.scrap_total == a.shot_counter


def test_plc_state_and_mode_follow_the_state() -> None:
    m = make()
    seen = {}
    for state in ("idle", "running", "fault", "setup"):
        m.set_state(state, m.sim_t + 1)
        tags = m.tags()
        seen[state] = (tags["plc_state"], tags["plc_mode"])
    assert seen == {"idle": (0, "STOP"), "running": (1, "RUN"), "fault": (2, "ALARM"), "setup": (3, "SETUP")}


def test_set_counter_total_and_shots() -> None:
    m = make(counter_width=32)
    assert m.set_counter("total", 4_294_967_265) == ("total", 0, 4_294_967_265)
    assert m.set_counter("shots", 7) == ("shots", 0, 7)
    assert [c for c, _, _ in m.reset_counter("all")] == ["good", "scrap", "total", "shots"]
    assert (m.part_counter, m.shot_counter) == (0, 0)
    with pytest.raises(ValueError, match="does not fit"):
        m.set_counter("total", 2**32)


def test_floor_plant_loads() -> None:
    plant = load_plant(FLOOR)
    kinds = {m.id: (m.protocol, m.opcua_ids, m.cavities, m.word_order) for m in plant.machines}
    assert kinds == {"s7-mold": ("opcua", "siemens", 4, "big"), "fx-press": ("modbus", "takt", 1, "little"),
                     "omron-pack": ("opcua", "takt", 1, "big")}  # fmt: skip


@pytest.fixture
def floor(start_simulator: Callable[..., Simulator]) -> Iterator[Simulator]:
    sim = start_simulator(config=FLOOR, accel=40.0, extra=["--scenario", "none"])
    yield sim


async def test_siemens_ids_under_a_shifted_namespace_count_shots_times_cavities(floor: Simulator) -> None:
    await asyncio.sleep(1.0)  # a few shots at 40x
    floor.post("/faults", {"action": "set_state", "machine": "s7-mold", "state": "idle"})
    async with Client(floor.opcua_endpoint, timeout=5) as client:
        idx = await client.get_namespace_index(NS)
        assert idx == 4
        names = ("shot_count", "part_count", "good_count", "scrap_count", "plc_state", "plc_mode")
        nodes = [client.get_node(f'ns={idx};s="s7-mold"."{name}"') for name in names]
        shots, parts, good, scrap, state, mode = await client.read_values(nodes)
    truth = floor.ground_truth()["machines"]["s7-mold"]
    made = truth["good"] + truth["scrap"]
    assert made > 0 and made % 4 == 0
    assert (shots - 65_500) % 65_536 == made // 4
    assert (parts - 65_500) % 65_536 == made
    assert ((good - 65_500) % 65_536, scrap) == (truth["good"], truth["scrap"])
    assert (state, mode) == (0, "STOP")


async def test_modbus_total_shots_and_plc_state_low_word_first(floor: Simulator) -> None:
    floor.post("/faults", {"action": "set_state", "machine": "fx-press", "state": "fault"})
    floor.post("/faults", {"action": "set_counter", "machine": "fx-press", "counter": "total",
                           "value": 4_294_967_265})  # fmt: skip
    await asyncio.sleep(0.2)
    client = AsyncModbusTcpClient("127.0.0.1", port=floor.modbus_port, timeout=1, retries=0)
    assert await client.connect()
    try:
        rr = await client.read_holding_registers(60, count=5, device_id=1)
        assert not rr.isError(), rr
        regs = list(rr.registers)
        bad = await client.read_holding_registers(55, count=1, device_id=1)
        assert bad.isError()  # 51..59 stay unmapped
    finally:
        client.close()

    def cdab(words: list[int]) -> int:
        return int(struct.unpack(">I", struct.pack(">2H", words[1], words[0]))[0])

    assert cdab(regs[0:2]) == 4_294_967_265
    assert cdab(regs[2:4]) >= 4_294_967_200  # the shots, from counter_start on (wrapping soon)
    assert regs[4] == 2  # the PLC's own "fault"
    resets = floor.ground_truth()["machines"]["fx-press"]["counter_resets"]
    assert resets[-1]["counter"] == "total" and resets[-1]["to"] == 4_294_967_265


def test_plant_validation_refuses_zero_cavities(tmp_path: Path) -> None:
    from simulators.errors import ConfigError

    text = FLOOR.read_text().replace("cavities: 4 ", "cavities: 0 ")
    path = tmp_path / "plant.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match="cavities"):
        load_plant(path)

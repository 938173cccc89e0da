"""A test plant covering every counter width and word/byte order, started once per test module."""

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from simulators.config import MachineConfig
from simulators.machines import Machine
from tests.support.simulator import Simulator


def make_machine(**overrides: object) -> Machine:
    """A machine on its own (seed 3): cnc m1, cycle 10 s with 10 % jitter, 5 % scrap, unless overridden."""
    fields: dict[str, object] = {"id": "m1", "kind": "cnc", "line": "A", "protocol": "opcua",
                                 "cycle_time_s": 10.0, "jitter": 0.1, "scrap_probability": 0.05}  # fmt: skip
    fields.update(overrides)
    return Machine(MachineConfig(**fields), seed=3)  # type: ignore[arg-type]


STATIC = 1_000_000.0  # a cycle time so long that the machine never makes a part during a test

TEST_PLANT = {
    "site": "test",
    "tick_ms": 20,
    "seed": 7,
    "machines": [
        # Modbus, one per word/byte order; "static" ones never count, so values can be checked exactly
        {"id": "w16", "kind": "stamping_press", "line": "A", "protocol": "modbus", "unit_id": 1,
         "cycle_time_s": 1.0, "jitter": 0.0, "scrap_probability": 0.0, "counter_width": 16,
         "counter_start": 65500, "ambient_c": -12.3},
        {"id": "abcd", "kind": "cnc", "line": "A", "protocol": "modbus", "unit_id": 2, "cycle_time_s": STATIC,
         "counter_width": 32, "counter_start": 0x12345678, "word_order": "big", "byte_order": "big",
         "program": "ABCD-PROG-01", "total_cycles_start": 0x0102030405060708},
        {"id": "cdab", "kind": "cnc", "line": "A", "protocol": "modbus", "unit_id": 3, "cycle_time_s": STATIC,
         "counter_width": 32, "counter_start": 0x12345678, "word_order": "little", "byte_order": "big",
         "program": "CDAB-PROG-02", "total_cycles_start": 0x0102030405060708},
        {"id": "badc", "kind": "packaging", "line": "A", "protocol": "modbus", "unit_id": 4,
         "cycle_time_s": STATIC, "counter_width": 32, "counter_start": 0x12345678, "word_order": "big",
         "byte_order": "little", "program": "BADC-PROG-03", "total_cycles_start": 0x0102030405060708},
        {"id": "dcba", "kind": "assembly", "line": "A", "protocol": "modbus", "unit_id": 5,
         "cycle_time_s": STATIC, "counter_width": 32, "counter_start": 0x12345678, "word_order": "little",
         "byte_order": "little", "program": "DCBA-PROG-04", "total_cycles_start": 0x0102030405060708},
        {"id": "fast", "kind": "stamping_press", "line": "A", "protocol": "modbus", "unit_id": 6,
         "cycle_time_s": 1.0, "jitter": 0.1, "scrap_probability": 0.1, "counter_width": 32,
         "modbus_scratch_registers": 125},
        # OPC UA
        {"id": "ua16", "kind": "injection_molding", "line": "B", "protocol": "opcua", "cycle_time_s": 1.0,
         "jitter": 0.0, "scrap_probability": 0.0, "counter_width": 16, "counter_start": 65500,
         "program": "MOULD-16"},
        {"id": "ua32", "kind": "injection_molding", "line": "B", "protocol": "opcua", "cycle_time_s": 1.0,
         "jitter": 0.1, "scrap_probability": 0.1, "counter_width": 32, "counter_start": 100,
         "program": "MOULD-32"},
    ],
}  # fmt: skip
ACCEL = 20.0


def write_plant(path: Path, plant: dict[str, object] | None = None) -> Path:
    path.write_text(yaml.safe_dump(plant or TEST_PLANT), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Simulator]:
    """The test plant at --accel 20 (a 1 s cycle makes 20 parts/s), shared by one module's tests."""
    workdir = tmp_path_factory.mktemp("sim")
    plant = write_plant(workdir / "plant.yaml")
    extra = ["--state-dir", str(workdir / "state"), "--rtu", str(workdir / "ttySIM")]  # RTU: workdir/ttySIM
    simulator = Simulator(workdir, config=plant, accel=ACCEL, extra=extra)
    simulator.start()
    yield simulator
    simulator.stop()

"""Bad plant and scenario files: clear errors (file, field, problem) and exit code 2, nothing started."""

import copy
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from simulators.config import load_plant
from simulators.errors import ConfigError
from simulators.scenario import load_scenario
from tests.simulators.conftest import TEST_PLANT, write_plant
from tests.support.processes import ROOT

DEMO = ROOT / "simulators" / "plants" / "demo.yaml"


def broken(**changes: object) -> dict[str, object]:
    plant = copy.deepcopy(TEST_PLANT)
    machine = plant["machines"][2]  # type: ignore[index]
    for key, value in changes.items():
        if value is None:
            machine.pop(key)
        else:
            machine[key] = value
    return plant


@pytest.mark.parametrize(
    ("changes", "field", "problem"),
    [
        ({"counter_width": 24}, "machines[2].counter_width", "expected one of 16, 32"),
        ({"kind": "laser"}, "machines[2].kind", "expected one of cnc, injection_molding"),
        ({"cycle_time_s": None}, "machines[2].cycle_time_s", "required field is missing"),
        ({"cycle_time_s": 0}, "machines[2].cycle_time_s", "greater than 0"),
        ({"colour": "red"}, "machines[2].colour", "unknown field"),
        ({"counter_start": 70000, "counter_width": 16}, "machines[2].counter_start", "16-bit"),
        ({"unit_id": 2}, "machines[2].unit_id", "also 'abcd'"),
        ({"id": "abcd"}, "machines[2].id", "duplicate"),
        ({"id": "Bad Id"}, "machines[2].id", "must match"),
        ({"word_order": "middle"}, "machines[2].word_order", "expected one of big, little"),
        ({"protocol": "opcua"}, "machines[2].unit_id", "only for protocol modbus"),
    ],
)
@pytest.mark.faults
def test_bad_plant_names_file_field_and_problem(
    tmp_path: Path, changes: dict[str, object], field: str, problem: str
) -> None:
    path = write_plant(tmp_path / "plant.yaml", broken(**changes))
    with pytest.raises(ConfigError) as info:
        load_plant(path)
    assert info.value.file == str(path)
    assert info.value.field == field
    assert problem in info.value.problem


def test_unreadable_and_non_yaml_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_plant(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("machines: [\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_plant(bad)


def test_bad_scenario_event(tmp_path: Path) -> None:
    path = tmp_path / "shift.yaml"
    path.write_text(yaml.safe_dump({"events": [{"at": "1h", "machine": "m9", "action": "fault"}]}))
    with pytest.raises(ConfigError) as info:
        load_scenario(path, {"m1": "modbus"}, {1: "m1"})
    assert info.value.field == "events[0]" and "unknown machine 'm9'" in info.value.problem
    path.write_text(yaml.safe_dump({"events": [{"at": "soon", "machine": "m1", "action": "fault"}]}))
    with pytest.raises(ConfigError, match="not a duration"):
        load_scenario(path, {"m1": "modbus"}, {1: "m1"})


def test_repeat_must_outlast_the_script(tmp_path: Path) -> None:
    path = tmp_path / "shift.yaml"
    events = [{"at": "1h", "machine": "m1", "action": "fault"}]
    path.write_text(yaml.safe_dump({"events": events, "repeat_every_s": "30m"}))
    with pytest.raises(ConfigError) as info:
        load_scenario(path, {"m1": "modbus"}, {1: "m1"})
    assert info.value.field == "repeat_every_s" and "longer than the last event" in info.value.problem
    path.write_text(yaml.safe_dump({"events": events, "repeat_every_s": "8h"}))
    assert load_scenario(path, {"m1": "modbus"}, {1: "m1"}).repeat_every_s == 8 * 3600


def test_demo_plant_and_shift_are_valid() -> None:
    plant = load_plant(DEMO)
    assert {m.id for m in plant.machines} == {"cnc1", "cnc2", "press1", "pack1", "mold1", "mold2"}
    shift = load_scenario(DEMO.parent / "demo_shift.yaml", {m.id: m.protocol for m in plant.machines}, {})
    assert len(shift.events) >= 8


@pytest.mark.faults
def test_cli_exits_2_with_the_message_and_starts_nothing(tmp_path: Path) -> None:
    path = write_plant(tmp_path / "plant.yaml", broken(scrap_probability=1.5))
    result = subprocess.run(
        [sys.executable, "-m", "takt.cli", "sim", "--config", str(path), "--state-dir", str(tmp_path / "s")],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 2
    assert f"{path}: machines[2].scrap_probability: must be in [0, 1]" in result.stderr
    assert not (tmp_path / "s").exists()

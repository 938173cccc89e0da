"""The plant file: machines, protocols, ports. Validated completely before anything starts.

Errors name the file, the field (e.g. `machines[2].counter_width`) and the problem (ConfigError).
"""

import re
import typing
from pathlib import Path
from typing import Any, Literal, TypeVar

import msgspec
import yaml

from simulators.errors import ConfigError

T = TypeVar("T")

Kind = Literal["cnc", "injection_molding", "stamping_press", "packaging", "assembly"]
ID_RE = re.compile(r"^[a-z0-9_-]{1,64}$")


class MachineConfig(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    id: str
    kind: Kind
    line: str
    cycle_time_s: float
    protocol: Literal["opcua", "modbus"]
    jitter: float = 0.05  # cycle times vary uniformly within ±jitter x cycle_time_s
    scrap_probability: float = 0.02
    counter_width: Literal[16, 32] = 32
    counter_start: int = 0
    word_order: Literal["big", "little"] = "big"
    byte_order: Literal["big", "little"] = "big"
    unit_id: int | None = None
    program: str = ""
    ambient_c: float = 22.0
    total_cycles_start: int = 0
    modbus_scratch_registers: int = 0  # holding 100.. mapped (zeros) for throughput tests; 0 = off
    mtbf_s: float = 0.0  # random faults: mean running time between them (plant seconds); 0 = none
    mttr_s: float = 300.0  # mean length of a random fault
    fault_codes: list[int] = msgspec.field(default_factory=lambda: [1])  # drawn from for random faults
    # PLC conventions (docs/simulator.md, "PLC profiles"): parts per cycle (an injection mold's cavities;
    # `shot_count` counts cycles, the other counters parts) and how OPC UA node ids are spelled
    cavities: int = 1
    opcua_ids: Literal["takt", "siemens"] = "takt"  # siemens: ns=N;s="{id}"."{tag}" (quoted DB names)


class PlantConfig(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    machines: list[MachineConfig]
    site: str = "demo"
    opcua_port: int = 4840
    modbus_port: int = 5020
    http_port: int = 8081
    tick_ms: int = 50
    seed: int = 1
    scenario: str | None = None  # path relative to the plant file; --scenario overrides it
    # OPC UA namespaces registered before the simulator's own, so its index is not 2 (as on a real PLC,
    # whose index may change at a restart: clients should name it by URI, nsu=urn:takt:simulator)
    opcua_namespaces_before: list[str] = msgspec.field(default_factory=list)


def field_of(err: msgspec.ValidationError) -> tuple[str, str]:
    """Split msgspec's "problem - at `$.machines[0].kind`" into (field, problem)."""
    text = str(err)
    match = re.match(r"^(.*?)(?: - at `\$(.*)`)?$", text, re.S)
    assert match is not None
    problem, path = match.group(1), (match.group(2) or "").lstrip(".")
    extra = re.match(r"Object contains unknown field `(.+)`", problem)
    if extra:
        path = f"{path}.{extra.group(1)}".lstrip(".")
        problem = "unknown field"
    missing = re.match(r"Object missing required field `(.+)`", problem)
    if missing:
        path = f"{path}.{missing.group(1)}".lstrip(".")
        problem = "required field is missing"
    if problem.startswith("Invalid enum value"):
        allowed = _ALLOWED.get(path.rsplit(".", 1)[-1])
        if allowed:
            problem += f"; expected one of {', '.join(map(str, allowed))}"
    return path or "(top level)", problem


_ALLOWED = {name: typing.get_args(hint) for name, hint in typing.get_type_hints(MachineConfig).items()
            if typing.get_origin(hint) is Literal}  # fmt: skip


def read_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise ConfigError(str(path), "(file)", f"cannot read: {err.strerror or err}") from err
    except yaml.YAMLError as err:
        raise ConfigError(str(path), "(file)", f"not valid YAML: {err}") from err


def convert_file(path: Path, raw: object, kind: type[T], expected: str) -> T:
    """A file's parsed YAML as `kind`; ConfigError naming the file, the field and the problem otherwise
    (`expected` when the top level is not a mapping)."""
    if not isinstance(raw, dict):
        raise ConfigError(str(path), "(top level)", expected)
    try:
        return msgspec.convert(raw, kind)
    except msgspec.ValidationError as err:
        field, problem = field_of(err)
        raise ConfigError(str(path), field, problem) from err


def load_plant(path: Path) -> PlantConfig:
    plant = convert_file(path, read_yaml(path), PlantConfig, "expected a mapping with a `machines` list")
    validate_plant(plant, str(path))
    return plant


def _check(ok: bool, file: str, field: str, problem: str) -> None:
    if not ok:
        raise ConfigError(file, field, problem)


def validate_plant(plant: PlantConfig, file: str) -> None:
    _check(bool(plant.machines), file, "machines", "at least one machine is needed")
    _check(1 <= plant.tick_ms <= 1000, file, "tick_ms", "must be between 1 and 1000")
    for name in ("opcua_port", "modbus_port", "http_port"):
        _check(0 <= getattr(plant, name) <= 65535, file, name, "not a TCP port")
    seen_ids: set[str] = set()
    seen_units: dict[int, str] = {}
    for i, m in enumerate(plant.machines):
        validate_machine(m, file, f"machines[{i}]")
        _check(m.id not in seen_ids, file, f"machines[{i}].id", f"duplicate machine id {m.id!r}")
        seen_ids.add(m.id)
        if m.unit_id is not None:
            other = seen_units.get(m.unit_id)
            _check(other is None, file, f"machines[{i}].unit_id", f"unit id {m.unit_id} is also {other!r}")
            seen_units[m.unit_id] = m.id


def validate_machine(m: MachineConfig, file: str, at: str) -> None:
    _check(bool(ID_RE.match(m.id)), file, f"{at}.id", f"{m.id!r} must match [a-z0-9_-]{{1,64}}")
    _check(m.cycle_time_s > 0, file, f"{at}.cycle_time_s", "must be greater than 0")
    _check(0 <= m.jitter < 1, file, f"{at}.jitter", "must be in [0, 1)")
    _check(0 <= m.scrap_probability <= 1, file, f"{at}.scrap_probability", "must be in [0, 1]")
    limit = 1 << m.counter_width
    _check(0 <= m.counter_start < limit, file, f"{at}.counter_start",
           f"{m.counter_start} does not fit a {m.counter_width}-bit counter (0..{limit - 1})")  # fmt: skip
    _check(len(m.program.encode("ascii", "replace")) <= 32, file, f"{at}.program", "longer than 32 bytes")
    _check(0 <= m.total_cycles_start < 1 << 63, file, f"{at}.total_cycles_start", "must fit an int64 >= 0")
    _check(0 <= m.modbus_scratch_registers <= 2000, file, f"{at}.modbus_scratch_registers", "must be 0..2000")
    _check(m.mtbf_s >= 0, file, f"{at}.mtbf_s", "must be >= 0 (0 = no random faults)")
    _check(m.mttr_s > 0, file, f"{at}.mttr_s", "must be greater than 0")
    _check(1 <= m.cavities <= 256, file, f"{at}.cavities", "must be 1..256 (parts per cycle)")
    _check(bool(m.fault_codes) and all(1 <= c <= 65535 for c in m.fault_codes), file, f"{at}.fault_codes",
           "a non-empty list of codes 1..65535")  # fmt: skip
    if m.protocol == "modbus":
        _check(m.unit_id is not None, file, f"{at}.unit_id", "required for protocol modbus")
        _check(m.unit_id is None or 1 <= m.unit_id <= 247, file, f"{at}.unit_id", "must be 1..247")
    else:
        _check(m.unit_id is None, file, f"{at}.unit_id", "only for protocol modbus")

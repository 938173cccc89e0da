"""The fault vocabulary shared by POST /faults and scenario events (docs/simulator.md lists it)."""

import re
from collections.abc import Mapping
from typing import Any, Literal

import msgspec

from simulators.errors import FaultError
from simulators.machines import STATES

Action = Literal[
    "set_state", "fault", "changeover", "reset_counter", "set_counter", "freeze", "unfreeze",
    "modbus_exception", "silence", "drop_connections", "restart", "clear",
]  # fmt: skip
Duration = float | str
MODBUS_EXCEPTIONS = (1, 2, 3, 4, 5, 6, 7, 8, 10, 11)
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0}
_PART = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(ms|min|s|m|h)?")


class FaultRequest(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    action: Action
    machine: str | None = None
    unit_id: int | None = None
    state: str | None = None
    duration_s: Duration | None = None  # plant seconds (divided by --accel); "30s", "5m", "1h30m" work too
    fault_code: int = 0
    program: str | None = None
    counter: Literal["good", "scrap", "total", "shots", "both", "all"] = "good"  # both: good and scrap
    value: int | None = None
    tag: str | None = None  # for freeze/unfreeze; omitted = every tag of the machine
    code: int | None = None  # Modbus exception code; 0 clears
    protocol: Literal["modbus", "opcua", "all"] | None = None
    down_s: Duration = 0  # restart: how long the server stays down
    renumber: bool = False  # OPC UA restart: one more namespace before ours (its index moves, as on a PLC)


def parse_duration(value: Duration | None, field: str = "duration_s") -> float | None:
    """Seconds from 12, 1.5, "30s", "5m", "5min", "1h30m" or "250ms"; None stays None."""
    if value is None:
        return None
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        pos, seconds = 0, 0.0
        text = value.strip()
        while pos < len(text):
            match = _PART.match(text, pos)
            if not match or match.end() == pos:
                raise FaultError(f"{field}: {value!r} is not a duration like 30, '30s', '5m', '1h30m'")
            seconds += float(match.group(1)) * _UNITS[match.group(2) or "s"]
            pos = match.end()
        if not text:
            raise FaultError(f"{field}: empty duration")
    if seconds < 0:
        raise FaultError(f"{field}: must not be negative")
    return seconds


def _need(ok: bool, problem: str) -> None:
    if not ok:
        raise FaultError(problem)


def check(req: FaultRequest, machines: Mapping[str, str], units: Mapping[int, str]) -> None:
    """Raise FaultError unless the request can be applied; `machines` maps id -> protocol."""
    parse_duration(req.duration_s)
    parse_duration(req.down_s, "down_s")
    if req.machine is not None:
        _need(req.machine in machines, f"machine: unknown machine {req.machine!r}")
    if req.unit_id is not None:
        _need(req.unit_id in units, f"unit_id: no machine has unit id {req.unit_id}")
    needs_machine = {"set_state", "fault", "changeover", "reset_counter", "set_counter", "freeze", "unfreeze"}
    if req.action in needs_machine:
        _need(req.machine is not None, f"machine: required for {req.action}")
    if req.action == "set_state":
        _need(req.state in STATES, f"state: one of {', '.join(STATES)} is required")
    if req.action == "set_counter":
        _need(
            req.value is not None and req.counter not in ("both", "all"),
            "set_counter needs value and counter good|scrap|total|shots",
        )
    if req.action == "modbus_exception":
        _need(req.machine is not None or req.unit_id is not None, "machine or unit_id: required")
        _need(req.machine is None or machines[req.machine] == "modbus", "machine: not a Modbus machine")
        _need(req.code is not None and (req.code == 0 or req.code in MODBUS_EXCEPTIONS),
              f"code: one of {MODBUS_EXCEPTIONS}, or 0 to clear")  # fmt: skip
    if req.action in ("silence", "restart"):
        _need(req.protocol in ("modbus", "opcua"), "protocol: modbus or opcua is required")
    if req.action == "silence":
        _need(req.duration_s is not None, "duration_s: required for silence")


def decode(body: bytes | Any) -> FaultRequest:
    """A FaultRequest from JSON bytes or an already parsed mapping."""
    try:
        if isinstance(body, bytes | bytearray):
            return msgspec.json.decode(body, type=FaultRequest)
        return msgspec.convert(body, FaultRequest)
    except msgspec.ValidationError as err:
        raise FaultError(str(err)) from err
    except msgspec.DecodeError as err:
        raise FaultError(f"not JSON: {err}") from err

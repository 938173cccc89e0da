"""What each fault action does to the running simulation (the vocabulary is in faults.py).

Machine-state durations are plant seconds on the machine's simulated clock; server-side durations
(silence, exception, freeze, restart down time) are plant seconds turned into wall seconds / accel.
"""

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any

from simulators.faults import FaultRequest, parse_duration

if TYPE_CHECKING:
    from simulators.modbus_server import UnitImage
    from simulators.runner import Runner

log = logging.getLogger(__name__)


async def apply(runner: "Runner", req: FaultRequest, at: float) -> dict[str, Any]:
    """Apply `req` at simulated time `at`; returns a short description for the HTTP answer."""
    handler = _HANDLERS[req.action]
    result = handler(runner, req, at)
    if asyncio.iscoroutine(result):
        result = await result
    log.info("fault applied: %s", result)
    out: dict[str, Any] = result
    return out


def _state(runner: "Runner", req: FaultRequest, at: float) -> dict[str, Any]:
    assert req.machine is not None
    state = "fault" if req.action == "fault" else req.state or "running"
    duration = parse_duration(req.duration_s)
    runner.machines[req.machine].set_state(state, at, duration, req.fault_code)
    return {"action": req.action, "machine": req.machine, "state": state, "duration_s": duration}


def _changeover(runner: "Runner", req: FaultRequest, at: float) -> dict[str, Any]:
    assert req.machine is not None
    machine = runner.machines[req.machine]
    duration = parse_duration(req.duration_s)
    machine.set_state("setup", at, 600.0 if duration is None else duration)
    if req.program is not None:
        machine.program = req.program[:32]
    return {"action": "changeover", "machine": req.machine, "program": machine.program}


def _counter(runner: "Runner", req: FaultRequest, at: float) -> dict[str, Any]:
    assert req.machine is not None
    machine = runner.machines[req.machine]
    machine.advance(at)
    ts = runner.stamp()  # parts made before the change are stamped before it, parts after it later
    runner.record(req.machine, machine, ts)
    if req.action == "reset_counter":
        changes = machine.reset_counter(req.counter)
    else:
        assert req.value is not None
        changes = [machine.set_counter(req.counter, req.value)]
    kind = "reset" if req.action == "reset_counter" else "set"
    resets = runner.gt.machines[req.machine].counter_resets
    for counter, before, after in changes:
        resets.append({"ts_ms": ts, "counter": counter, "kind": kind, "from": before, "to": after})
    return {"action": req.action, "machine": req.machine, "changes": changes}


def _freeze(runner: "Runner", req: FaultRequest, at: float) -> dict[str, Any]:
    assert req.machine is not None
    current = {**runner.machines[req.machine].tags(), **runner.freezes[req.machine]}
    if req.tag is not None and req.tag not in current:
        raise ValueError(f"tag: unknown tag {req.tag!r}")
    tags = [req.tag] if req.tag else list(current)
    wall = runner.wall_s(parse_duration(req.duration_s))
    for tag in tags:
        if req.action == "freeze":
            runner.freezes[req.machine][tag] = current[tag]
            if wall is not None:
                runner.freeze_until[(req.machine, tag)] = time.monotonic() + wall
        else:
            runner.freezes[req.machine].pop(tag, None)
            runner.freeze_until.pop((req.machine, tag), None)
    return {"action": req.action, "machine": req.machine, "tags": tags}


def _unit(runner: "Runner", req: FaultRequest) -> "UnitImage":
    machine = req.machine if req.machine is not None else runner.units.get(req.unit_id or -1, "")
    unit = runner.modbus.by_machine.get(machine)
    if unit is None:
        raise ValueError(f"machine: {machine!r} is not a Modbus machine")
    return unit


def _exception(runner: "Runner", req: FaultRequest, at: float) -> dict[str, Any]:
    unit = _unit(runner, req)
    wall = runner.wall_s(parse_duration(req.duration_s))
    unit.exception = req.code or None
    unit.exception_until = time.monotonic() + wall if wall is not None and req.code else None
    return {"action": "modbus_exception", "machine": unit.cfg.id, "code": req.code, "wall_s": wall}


def _silence(runner: "Runner", req: FaultRequest, at: float) -> dict[str, Any]:
    wall = runner.wall_s(parse_duration(req.duration_s)) or 0.0
    if req.protocol == "opcua":  # an OPC UA server that stops answering is, to clients, a server that is gone
        runner.spawn(runner.opcua.restart(wall))
        return {"action": "silence", "protocol": "opcua", "wall_s": wall}
    until = time.monotonic() + wall
    if req.machine is not None or req.unit_id is not None:
        _unit(runner, req).silent_until = until
    else:
        runner.modbus.context.silent_until = until
    return {"action": "silence", "protocol": "modbus", "machine": req.machine, "wall_s": wall}


def _drop(runner: "Runner", req: FaultRequest, at: float) -> dict[str, Any]:
    dropped = 0
    if req.protocol in (None, "all", "modbus"):
        dropped += runner.modbus.drop_connections()
    if req.protocol in (None, "all", "opcua"):
        dropped += runner.opcua.drop_connections()
    return {"action": "drop_connections", "dropped": dropped}


async def _restart_modbus(runner: "Runner", down: float) -> None:
    await runner.modbus.stop()
    await asyncio.sleep(down)
    await runner.modbus.start()


def _restart(runner: "Runner", req: FaultRequest, at: float) -> dict[str, Any]:
    down = runner.wall_s(parse_duration(req.down_s, "down_s")) or 0.0
    if req.protocol == "opcua":
        runner.spawn(runner.opcua.restart(down, renumber=req.renumber))
    else:
        runner.spawn(_restart_modbus(runner, down))
    return {"action": "restart", "protocol": req.protocol, "down_wall_s": down}


def _clear(runner: "Runner", req: FaultRequest, at: float) -> dict[str, Any]:
    for frozen in runner.freezes.values():
        frozen.clear()
    runner.freeze_until.clear()
    runner.modbus.context.silent_until = 0.0
    for unit in runner.modbus.by_machine.values():
        unit.exception, unit.exception_until, unit.silent_until = None, None, 0.0
    return {"action": "clear"}


_HANDLERS: dict[str, Any] = {
    "set_state": _state, "fault": _state, "changeover": _changeover, "reset_counter": _counter,
    "set_counter": _counter, "freeze": _freeze, "unfreeze": _freeze, "modbus_exception": _exception,
    "silence": _silence, "drop_connections": _drop, "restart": _restart, "clear": _clear,
}  # fmt: skip

"""`takt edge check`: read every configured tag once and print a table (a technician's first minutes).

Each row shows what came over the wire (Modbus registers in hex, or the OPC UA variant), the decoded
value, and what Takt makes of it: the state a `state` tag maps to (docs/edge.md, "Tag meaning"), or the
kind of count a counter gives. A state value that no map knows is a problem, like a failed read.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any, TextIO

from edge.agent import build_source
from edge.codec import Value
from edge.config import EdgeConfig
from edge.meaning import StateMap, state_name
from edge.sources.base import Health, TagPoint, make_points

Row = tuple[str, str, str, str, str, str, str]
HEADER: Row = ("device", "tag", "raw", "value", "means", "quality", "error")
_COUNTS = {"counter": "good parts", "scrap_counter": "scrap parts", "total_counter": "good + scrap",
           "cycle_counter": "cycles"}  # fmt: skip


def meaning(point: TagPoint, value: Value) -> tuple[str, str | None]:
    """(what the value means to Takt, a problem or None)."""
    tag = point.tag
    if tag.role == "state":
        code = StateMap(tag)(value)
        if code is None:
            return "?", f"value {value!r} maps to no state (add it to states, or set default)"
        return str(state_name(code)), None
    if tag.role == "run" and isinstance(value, bool):
        return ("running" if value else "not running"), None
    if tag.role == "fault" and isinstance(value, bool):
        return ("fault" if value else "no fault"), None
    if tag.role in _COUNTS:
        width = f", {point.width} bit" if point.width else ""
        per = f" x {tag.parts_per_cycle} parts" if tag.parts_per_cycle else ""
        down = ", counts down" if tag.direction == "down" else ""
        return f"{_COUNTS[tag.role]}{per}{width}{down}", None
    return "", None


async def read_all(config: EdgeConfig, per_device_s: float) -> list[Row]:
    """A row for every tag of every enabled device, devices in parallel."""
    lines: dict[str, Any] = {}

    async def one(device_index: int) -> list[Row]:
        device = config.devices[device_index]
        points, read = make_points(device, lambda _row: None)
        source = build_source(device, read, Health(device.name), lines)
        try:
            async with asyncio.timeout(per_device_s):
                results = await source.read_once()
        except TimeoutError:
            late = f"no answer in {per_device_s:.0f} s"
            return [(device.name, f"{p.machine}/{p.name}", "", "", "", "bad", late) for p in points]
        rows: list[Row] = []
        problem: str | None
        for point in points:
            name = f"{point.machine}/{point.name}"
            if point.tag.derive is not None:
                value, quality, error = _derived(point, results)
            else:
                value, quality, error = results[name]
            means, problem = "", None
            if quality != "bad" and value is not None:
                means, problem = meaning(point, value)
            if problem is not None:
                quality, error = "bad", problem
            shown = "" if value is None else repr(value)
            rows.append((device.name, name, point.wire, shown, means, quality, error or ""))
        return rows

    enabled = [i for i, d in enumerate(config.devices) if d.enabled]
    per_device = await asyncio.gather(*(one(i) for i in enabled))
    return [row for rows in per_device for row in rows]


def _derived(
    point: TagPoint, results: dict[str, tuple[Value, str, str | None]]
) -> tuple[Value, str, str | None]:
    """A derived state from the readings of its inputs (shown as the state code it gives)."""
    readings = {p.name: results[f"{p.machine}/{p.name}"] for p in point.inputs}
    bad = [name for name, (_, quality, _) in readings.items() if quality == "bad"]
    if bad:
        return None, "bad", f"reads {', '.join(bad)}: not readable"
    point.wire = " ".join(f"{name}={value!r}" for name, (value, _, _) in readings.items())
    assert point.mapper is not None
    code = point.mapper.derive({name: value for name, (value, _, _) in readings.items()})
    if code is None:
        return None, "bad", "no rule matches and no default is set"
    return code, "good", None


def render(rows: list[Row], out: TextIO) -> None:
    widths = [max(len(r[i]) for r in [HEADER, *rows]) for i in range(len(HEADER))]
    for row in [HEADER, tuple("-" * w for w in widths), *rows]:
        out.write("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() + "\n")


def check_main(config: EdgeConfig, timeout: float) -> int:
    rows = asyncio.run(read_all(config, timeout))
    print(f"{config.source}: config OK ({len(config.devices)} devices, {len(rows)} tags)")
    render(rows, sys.stdout)
    bad = sum(1 for row in rows if row[5] != "good")
    print(f"{len(rows) - bad} good, {bad} with problems")
    return 1 if bad else 0

"""`takt edge check`: read every configured tag once and print a table (a technician's first minutes)."""

from __future__ import annotations

import asyncio
import sys
from typing import Any, TextIO

from edge.agent import build_source
from edge.config import EdgeConfig
from edge.sources.base import Health, TagPoint

Row = tuple[str, str, str, str, str]


async def read_all(config: EdgeConfig, per_device_s: float) -> list[Row]:
    """(device, tag, value, quality, error) for every tag of every enabled device, devices in parallel."""
    lines: dict[str, Any] = {}

    async def one(device_index: int) -> list[Row]:
        device = config.devices[device_index]
        points = [TagPoint(device, tag, lambda _row: None) for tag in device.tags]
        source = build_source(device, points, Health(device.name), lines)
        try:
            async with asyncio.timeout(per_device_s):
                results = await source.read_once()
        except TimeoutError:
            return [
                (device.name, f"{p.machine}/{p.name}", "", "bad", f"no answer in {per_device_s:.0f} s")
                for p in points
            ]
        return [
            (device.name, name, "" if value is None else repr(value), quality, error or "")
            for name, (value, quality, error) in results.items()
        ]

    enabled = [i for i, d in enumerate(config.devices) if d.enabled]
    per_device = await asyncio.gather(*(one(i) for i in enabled))
    return [row for rows in per_device for row in rows]


def render(rows: list[Row], out: TextIO) -> None:
    header: Row = ("device", "tag", "value", "quality", "error")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(5)]
    for row in [header, tuple("-" * w for w in widths), *rows]:
        out.write("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() + "\n")


def check_main(config: EdgeConfig, timeout: float) -> int:
    rows = asyncio.run(read_all(config, timeout))
    print(f"{config.source}: config OK ({len(config.devices)} devices, {len(rows)} tags)")
    render(rows, sys.stdout)
    bad = sum(1 for row in rows if row[3] != "good")
    print(f"{len(rows) - bad} good, {bad} with problems")
    return 1 if bad else 0

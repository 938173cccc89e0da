"""What every source shares: the tag runtime, the sample sink, device health.

Sources see only tags and values; they call `TagPoint.report()` for every reading and
`Health.set()` when the device's state changes. Health logs changes of state once: ERROR when the
device fails, INFO when it recovers.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from edge.codec import Value
from edge.config import Device, Tag, counter_width
from edge.meaning import StateMap
from edge.report import Reporter
from shared.messages import COUNTER_ROLES

log = logging.getLogger(__name__)

SampleRow = tuple[str, str, int, Value, str]
Sink = Callable[[SampleRow], None]


def now_ms() -> int:
    return int(time.time() * 1000)


class TagPoint:
    """One configured tag at run time: identity, report-by-exception state, last value.

    A `state` tag's readings go through its StateMap (edge/meaning.py) first: `raw` keeps the PLC's
    value, `value` Takt's state code. A derived state (`derive`) follows other points of its device and
    is recomputed once per loop turn after any of them reports."""

    __slots__ = ("followers", "inputs", "machine", "mapper", "name", "pending", "raw", "reporter", "sink",
                 "tag", "unmapped", "value", "width", "wire")  # fmt: skip

    def __init__(self, device: Device, tag: Tag, sink: Sink) -> None:
        self.tag = tag
        self.machine = tag.machine or device.machine or ""
        self.name = tag.name
        self.width = counter_width(device, tag) if tag.role in COUNTER_ROLES else None
        self.reporter = Reporter(tag)
        self.sink = sink
        self.value: Value = None
        self.raw: Value = None  # the reading before a state map
        self.wire = ""  # what came over the wire, for `takt edge check` (registers, an OPC UA variant)
        self.mapper = StateMap(tag) if tag.role == "state" else None
        self.unmapped: set[str] = set()  # raw values already logged as unmapped
        self.followers: list[TagPoint] = []
        self.inputs: list[TagPoint] = []
        self.pending = 0  # a derived point's newest trigger time, 0 when none is due

    def report(self, value: Value, quality: str, ts_ms: int) -> None:
        if quality != "bad" or value is not None:
            self.raw = value
        if self.mapper is not None and value is not None:
            mapped = self.mapper(value)
            if mapped is None:
                self._unmapped(value)
                quality = "bad"
            value = mapped
        self._emit(value, quality, ts_ms)

    def _emit(self, value: Value, quality: str, ts_ms: int) -> None:
        if quality == "good" or value is not None:
            self.value = value if quality != "bad" else self.value
        if self.reporter.should_report(value, quality, ts_ms):
            self.sink((self.machine, self.name, ts_ms, value, quality))
        for follower in self.followers:
            follower.trigger(ts_ms)

    def _unmapped(self, raw: object) -> None:
        key = repr(raw)
        if key not in self.unmapped:
            self.unmapped.add(key)
            log.warning("tag %s/%s: PLC value %s maps to no state (add it to `states`, or set `default`): "
                        "sent as bad", self.machine, self.name, key)  # fmt: skip

    def stale(self, ts_ms: int, quality: str = "stale") -> None:
        """The device stopped answering: report the last known value once with quality stale."""
        if self.reporter.last_quality in ("", "bad", quality):
            return  # nothing known yet, a refused tag, or already reported
        self._emit(self.value, quality, ts_ms)

    # -- derived states ---------------------------------------------------------------------------------

    def follow(self, inputs: list[TagPoint]) -> None:
        self.inputs = inputs
        for point in inputs:
            point.followers.append(self)

    def trigger(self, ts_ms: int) -> None:
        """An input reported: recompute at the end of this loop turn (one poll's readings together)."""
        first = self.pending == 0
        self.pending = max(self.pending, ts_ms)
        if not first:
            return
        try:
            asyncio.get_running_loop().call_soon(self.recompute)
        except RuntimeError:  # no loop (a direct call): now
            self.recompute()

    def recompute(self) -> None:
        ts_ms, self.pending = self.pending, 0
        if self.mapper is None or not ts_ms:
            return
        qualities = [p.reporter.last_quality for p in self.inputs]
        if "stale" in qualities:
            self.stale(ts_ms)
            return
        code = self.mapper.derive({p.name: p.value for p in self.inputs})
        if code is None:
            if "" in qualities:
                return  # an input has not been read yet
            self._unmapped({p.name: p.value for p in self.inputs})
        quality = "bad" if code is None else "good" if set(qualities) == {"good"} else "uncertain"
        self._emit(code, quality, ts_ms)


def make_points(device: Device, sink: Sink) -> tuple[list[TagPoint], list[TagPoint]]:
    """Every point of a device, and the ones its source reads (derived states follow those)."""
    points = [TagPoint(device, tag, sink) for tag in device.tags]
    by_name = {point.name: point for point in points}
    for point in points:
        if point.tag.derive is not None:
            names = dict.fromkeys(name for rule in point.tag.derive for name in rule.when)
            point.follow([by_name[name] for name in names])
    return points, [point for point in points if point.tag.derive is None]


@dataclass
class Health:
    """A device's connection state, logged on change only."""

    device: str
    on_change: Callable[[], None] = lambda: None
    connected: bool = False
    error: str | None = None
    since_ms: int = field(default_factory=now_ms)
    known: bool = False  # False until the first attempt: the first failure is still logged

    def set(self, connected: bool, error: str | None = None) -> None:
        if self.known and connected == self.connected and (connected or error == self.error):
            return
        if not connected and self.known and not self.connected:
            log.debug("device %s still down: %s", self.device, error)
        elif connected:
            log.info("device %s connected", self.device)
        else:
            log.error("device %s failed: %s", self.device, error)
        self.known, self.connected, self.error, self.since_ms = True, connected, error, now_ms()
        self.on_change()


class Source(Protocol):
    """A device adapter: one per device, its own task."""

    health: Health
    points: list[TagPoint]

    async def run(self) -> None: ...

    async def write(self, point: TagPoint, value: Value) -> None: ...

    async def read_once(self) -> dict[str, tuple[Value, str, str | None]]: ...

"""What every source shares: the tag runtime, the sample sink, device health and backoff.

Sources see only tags and values; they call `TagPoint.report()` for every reading and
`Health.set()` when the device's state changes. Health logs changes of state once: ERROR when the
device fails, INFO when it recovers.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from edge.codec import Value
from edge.config import Device, Tag
from edge.report import Reporter

log = logging.getLogger(__name__)

SampleRow = tuple[str, str, int, Value, str]
Sink = Callable[[SampleRow], None]


def now_ms() -> int:
    return int(time.time() * 1000)


class TagPoint:
    """One configured tag at run time: identity, report-by-exception state, last value."""

    __slots__ = ("machine", "name", "reporter", "sink", "tag", "value")

    def __init__(self, device: Device, tag: Tag, sink: Sink) -> None:
        self.tag = tag
        self.machine = tag.machine or device.machine or ""
        self.name = tag.name
        self.reporter = Reporter(tag)
        self.sink = sink
        self.value: Value = None

    def report(self, value: Value, quality: str, ts_ms: int) -> None:
        if quality == "good" or value is not None:
            self.value = value if quality != "bad" else self.value
        if self.reporter.should_report(value, quality, ts_ms):
            self.sink((self.machine, self.name, ts_ms, value, quality))

    def stale(self, ts_ms: int, quality: str = "stale") -> None:
        """The device stopped answering: report the last known value once with quality stale."""
        if self.reporter.last_quality in ("", "bad", quality):
            return  # nothing known yet, a refused tag, or already reported
        self.report(self.value, quality, ts_ms)


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


class Backoff:
    """Capped, jittered exponential backoff (full jitter over the upper half)."""

    def __init__(self, first: float = 0.5, cap: float = 30.0) -> None:
        self.first, self.cap, self.attempt = first, cap, 0

    def next(self) -> float:
        delay = min(self.cap, self.first * (2**self.attempt))
        self.attempt = min(self.attempt + 1, 30)
        return float(delay * (0.5 + random.random() / 2))

    def reset(self) -> None:
        self.attempt = 0


class Source(Protocol):
    """A device adapter: one per device, its own task."""

    health: Health
    points: list[TagPoint]

    async def run(self) -> None: ...

    async def write(self, point: TagPoint, value: Value) -> None: ...

    async def read_once(self) -> dict[str, tuple[Value, str, str | None]]: ...

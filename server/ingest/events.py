"""A tiny in-process event hook for live pages (SSE): ingestion and quality publish, async listeners receive.

    from server.ingest.events import bus

    async def stream():
        async with bus.subscribe() as events:      # a bounded queue on the caller's event loop
            async for event in events:             # the Event union below
                yield f"data: {event.to_json()}\n\n"

`bus.publish(event)` is thread-safe (ingestion runs in a worker thread) and never blocks: a subscriber too
slow to keep up loses its oldest events (`dropped` counts them), never the ingestion's time.
"""

import asyncio
import contextlib
import json
import logging
import threading
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass
from typing import Any

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class MachineStateChanged:
    machine_id: int
    machine: str
    state: str
    since_ms: int
    kind: str = "machine_state"

    def to_json(self) -> str:
        return json.dumps(asdict(self))


@dataclass(frozen=True, slots=True)
class CountsChanged:
    machine_id: int
    machine: str
    operation_id: int | None
    good: int  # added by this batch
    scrap: int
    ts_ms: int
    kind: str = "counts"

    def to_json(self) -> str:
        return json.dumps(asdict(self))


@dataclass(frozen=True, slots=True)
class EdgeChanged:
    edge_id: str
    online: bool
    kind: str = "edge"

    def to_json(self) -> str:
        return json.dumps(asdict(self))


@dataclass(frozen=True, slots=True)
class InspectionRecorded:
    """An inspection was recorded (SPC signals, due checks and nonconformances may have changed)."""

    work_order: str
    passed: bool
    kind: str = "inspection"

    def to_json(self) -> str:
        return json.dumps(asdict(self))


Event = MachineStateChanged | CountsChanged | EdgeChanged | InspectionRecorded


class Subscription:
    """One listener's queue on its own event loop; iterate it with `async for`."""

    def __init__(self, loop: asyncio.AbstractEventLoop, maxsize: int) -> None:
        self.loop = loop
        self.queue: asyncio.Queue[Event] = asyncio.Queue(maxsize=maxsize)
        self.dropped = 0

    def _put(self, event: Event) -> None:  # runs on self.loop
        if self.queue.full():
            self.queue.get_nowait()
            self.dropped += 1
        self.queue.put_nowait(event)

    def __aiter__(self) -> AsyncIterator[Event]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Event]:
        while True:
            yield await self.queue.get()


class EventBus:
    def __init__(self) -> None:
        self._subs: set[Subscription] = set()
        self._lock = threading.Lock()

    @contextlib.asynccontextmanager
    async def subscribe(self, maxsize: int = 1000) -> AsyncIterator[Subscription]:
        sub = Subscription(asyncio.get_running_loop(), maxsize)
        with self._lock:
            self._subs.add(sub)
        try:
            yield sub
        finally:
            with self._lock:
                self._subs.discard(sub)

    def publish(self, event: Event) -> None:
        """Deliver `event` to every subscriber; safe from any thread."""
        with self._lock:
            subs = list(self._subs)
        for sub in subs:
            try:
                sub.loop.call_soon_threadsafe(sub._put, event)
            except RuntimeError:  # that loop is closed: the listener is gone
                with self._lock:
                    self._subs.discard(sub)

    @property
    def listeners(self) -> int:
        with self._lock:
            return len(self._subs)

    def to_dict(self, event: Event) -> dict[str, Any]:
        return asdict(event)


bus = EventBus()

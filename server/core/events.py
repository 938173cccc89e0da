"""A tiny in-process event hook for live pages (SSE): ingestion and quality publish, async listeners receive.

    from server.core.events import bus

    async def stream():
        async with bus.subscribe() as events:      # a bounded queue on the caller's event loop
            async for event in events:             # the Event union below
                yield f"data: {event.to_json()}\n\n"

`bus.publish(event)` is thread-safe (ingestion runs in a worker thread) and never blocks: a subscriber too
slow to keep up loses its oldest events (`dropped` counts them), never the ingestion's time.

With several server replicas, `server/ingest/fanout.py` sets the bus's relay: `publish` hands each event
to it as well (other replicas' subscribers), and events from other replicas come in through `deliver`,
which reaches this process's subscribers only. `event_from_json` reads what `to_json` wrote.
"""

import asyncio
import contextlib
import json
import logging
import threading
import types
from collections.abc import AsyncIterator, Callable
from dataclasses import asdict, dataclass, fields
from typing import Any, get_args

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class _Event:
    """What every event is: its fields, `kind` last, as one JSON object."""

    def to_json(self) -> str:
        return json.dumps(asdict(self))


@dataclass(frozen=True, slots=True)
class MachineStateChanged(_Event):
    machine_id: int
    machine: str
    state: str
    since_ms: int
    kind: str = "machine_state"


@dataclass(frozen=True, slots=True)
class CountsChanged(_Event):
    machine_id: int
    machine: str
    operation_id: int | None
    good: int  # added by this batch
    scrap: int
    ts_ms: int
    kind: str = "counts"


@dataclass(frozen=True, slots=True)
class EdgeChanged(_Event):
    edge_id: str
    online: bool
    kind: str = "edge"


@dataclass(frozen=True, slots=True)
class InspectionRecorded(_Event):
    """An inspection was recorded (SPC signals, due checks and nonconformances may have changed)."""

    work_order: str
    passed: bool
    kind: str = "inspection"


Event = MachineStateChanged | CountsChanged | EdgeChanged | InspectionRecorded
EVENT_KINDS: dict[str, type[Event]] = {
    "machine_state": MachineStateChanged,
    "counts": CountsChanged,
    "edge": EdgeChanged,
    "inspection": InspectionRecorded,
}


def event_from_dict(data: Any) -> Event:
    """The event `asdict(event)` (or `json.loads(event.to_json())`) describes; ValueError if it is not one."""
    if not isinstance(data, dict):
        raise ValueError("an event is a JSON object")
    cls = EVENT_KINDS.get(data.get("kind"))  # type: ignore[arg-type]
    if cls is None:
        raise ValueError(f"unknown event kind {data.get('kind')!r}")
    names = {field.name for field in fields(cls)}
    if set(data) != names:
        raise ValueError(f"{data['kind']} event fields {sorted(data)} are not {sorted(names)}")
    for field in fields(cls):
        if not _is_a(data[field.name], field.type):
            raise ValueError(
                f"{data['kind']} event field {field.name} = {data[field.name]!r} is not {field.type}"
            )
    return cls(**data)


def event_from_json(text: str) -> Event:
    return event_from_dict(json.loads(text))


def _is_a(value: Any, annotation: Any) -> bool:
    allowed = get_args(annotation) if isinstance(annotation, types.UnionType) else (annotation,)
    if isinstance(value, bool) and bool not in allowed:
        return False  # JSON true is not a number here
    return any(value is None if kind is type(None) else isinstance(value, kind) for kind in allowed)


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
        self.relay: Callable[[Event], None] | None = None  # must not block (fanout: a bounded queue)

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
        """Deliver `event` to every subscriber and hand it to the relay; safe from any thread."""
        self.deliver(event)
        relay = self.relay
        if relay is not None:
            relay(event)

    def deliver(self, event: Event) -> None:
        """Deliver `event` to this process's subscribers only (an event another replica published)."""
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

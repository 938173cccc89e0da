"""Samples -> batches -> outbox. The outbox runs in one worker thread so fsync never blocks polling.

The batcher closes a batch at `max_samples` or `max_delay_ms` after its first sample, whichever comes
first, and stores it (allocating its seq) before anything is published. When the disk is full the
batch's counter/state samples are kept in memory and retried with the next batch, its analog samples
are dropped and counted; polling never stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ParamSpec, TypeVar

from edge.buffer import PROTECTED, Outbox, SampleRow, Stored
from edge.errors import OutboxError

log = logging.getLogger(__name__)
P = ParamSpec("P")
T = TypeVar("T")
MAX_HELD = 100_000  # protected samples held in memory while the disk is full


class AsyncOutbox:
    """The outbox behind a single worker thread (SQLite connections stay on one thread)."""

    def __init__(self, outbox: Outbox) -> None:
        self.outbox = outbox
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="outbox")
        self.closed = False

    async def call(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, lambda: fn(*args, **kwargs))

    async def append(self, samples: list[SampleRow]) -> int:
        return await self.call(self.outbox.append, samples)

    async def pending(self, after: int, limit: int) -> list[Stored]:
        return await self.call(self.outbox.pending, after, limit)

    async def ack(self, seq: int) -> None:
        """Delete what the server acked. An ack that arrives while the agent stops, after `close`, is left:
        the server's ack is retained, so the next start gets it again."""
        if self.closed:
            return
        try:
            await self.call(self.outbox.ack, seq)
        except OutboxError as err:
            log.error("%s", err)
            await asyncio.sleep(1)  # e.g. disk full: retried with the next ack

    def close(self) -> None:
        self.closed = True
        self.executor.submit(self.outbox.close).result()
        self.executor.shutdown()


class Batcher:
    def __init__(
        self, outbox: AsyncOutbox, max_samples: int, max_delay_ms: int, stored: Callable[[int], None]
    ) -> None:
        self.outbox = outbox
        self.max_samples = max_samples
        self.max_delay = max_delay_ms / 1000
        self.stored = stored  # called with each new seq
        self.rows: list[SampleRow] = []
        self.held: list[SampleRow] = []  # protected samples waiting for disk space
        self.has_data = asyncio.Event()
        self.full = asyncio.Event()
        self.disk_full = False
        self.samples_in = 0

    def add(self, row: SampleRow) -> None:
        rows = self.rows
        rows.append(row)
        if len(rows) == 1:
            self.has_data.set()
        elif len(rows) >= self.max_samples:
            self.full.set()

    async def run(self) -> None:
        while True:
            await self.has_data.wait()
            if not self.full.is_set():
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.max_delay):
                        await self.full.wait()
            await self.flush()

    async def flush(self) -> None:
        rows, self.rows = self.rows, []
        self.has_data.clear()
        self.full.clear()
        if self.held:
            rows, self.held = self.held + rows, []
        self.samples_in += len(rows)
        for start in range(0, len(rows), self.max_samples):
            await self._store(rows[start : start + self.max_samples])

    async def _store(self, chunk: list[SampleRow]) -> None:
        for attempt in range(2):
            try:
                seq = await self.outbox.append(chunk)
            except OutboxError as err:
                if attempt == 0:
                    await self._make_room(err)
                    continue
                self._hold(chunk)
                return
            if self.disk_full:
                log.info("outbox writable again")
                self.disk_full = False
            self.stored(seq)
            return

    async def _make_room(self, err: OutboxError) -> None:
        if not self.disk_full:
            log.error("outbox write failed, applying the drop policy: %s", err)
            self.disk_full = True
        try:
            await self.outbox.call(self.outbox.outbox.enforce_bounds)
        except OutboxError as again:
            log.debug("drop policy failed too: %s", again)

    def _hold(self, chunk: list[SampleRow]) -> None:
        roles = self.outbox.outbox.roles
        kept = [row for row in chunk if roles.get((row[0], row[1]), "state") in PROTECTED]
        dropped: dict[str, int] = self.outbox.outbox.dropped
        for row in chunk:
            role = roles.get((row[0], row[1]), "state")
            if role not in PROTECTED:
                dropped[role] = dropped.get(role, 0) + 1
        self.held.extend(kept)
        if len(self.held) > MAX_HELD:
            log.error("disk full for long: %d counter/state samples held in memory", len(self.held))
            excess = len(self.held) - MAX_HELD
            del self.held[:excess]  # oldest first; counters are cumulative, later samples cover them
            dropped["held_overflow"] = dropped.get("held_overflow", 0) + excess


def role_map(points: Any) -> dict[tuple[str, str], str]:
    return {(p.machine, p.name): p.tag.role for p in points}

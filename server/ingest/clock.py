"""Edge clocks watched from the server (issue 8, case 9): an edge's clock may run hours ahead or be stepped
back (a Pi without RTC before NTP, a PLC clock set by hand). Nothing is corrected or deleted because of it:

- both times are kept: every sample keeps the edge's own `ts_ms` (count ledger, historian, states) and each
  data batch its `sent_ms`; the server notes when it received the batch (`received_ms`) and keeps, per edge,
  the offset `sent_ms - received_ms` of the last live batch;
- batches are applied in `seq` order whatever their timestamps (server/ingest/apply.py); a counter sample
  older than the previous one of the same counter is a clock step back, and still counts (effects.py);
- a sample stamped more than `future_tolerance_ms` after its batch was received is flagged: counted in
  `future_samples` (GET /api/v1/ingest/stats and, per edge, GET /api/v1/edges/{edge}) and logged once
  when an edge's clock goes off (WARNING) and once when it is back (INFO); one stamped more than
  `future_skew_ms` ahead is held at receipt, never applied (server/ingest/future.py), and counted here too.

The view is this process's: each replica watches the batches it applies, once each, with the time of
receipt the inbox kept.
"""

import logging
import threading
from dataclasses import dataclass

from server.ingest.metrics import Metrics
from shared.messages import DataBatch

log = logging.getLogger(__name__)


@dataclass
class EdgeClock:
    offset_ms: int | None = None  # sent_ms - received_ms of the last live (not historical) batch
    future_samples: int = 0  # samples stamped too far after their batch was received
    last_future_ts_ms: int | None = None
    off: bool = False  # logged as off, not yet back


class ClockWatch:
    def __init__(self, metrics: Metrics, future_tolerance_ms: int) -> None:
        self.metrics = metrics
        self.tolerance = future_tolerance_ms
        self._edges: dict[str, EdgeClock] = {}
        self._lock = threading.Lock()

    def observe(self, batch: DataBatch, received_ms: int) -> None:
        """Note one applied batch and the time the server received it (kept in the inbox)."""
        limit = received_ms + self.tolerance
        future = [s.ts_ms for s in batch.samples if s.ts_ms > limit]
        with self._lock:
            clock = self._edges.setdefault(batch.edge_id, EdgeClock())
            if not batch.historical:  # a replayed batch's sent_ms is fine, its samples are old
                clock.offset_ms = batch.sent_ms - received_ms
            if future:
                clock.future_samples += len(future)
                clock.last_future_ts_ms = max(future)
            self._log_change(batch.edge_id, clock, bool(future) or abs(clock.offset_ms or 0) > self.tolerance)
        if future:
            self.metrics.add("future_samples", len(future))

    def note_held(self, edge_id: str, count: int, newest_ts_ms: int) -> None:
        """Note samples held at receipt for being stamped beyond the skew (server/ingest/future.py)."""
        with self._lock:
            clock = self._edges.setdefault(edge_id, EdgeClock())
            clock.future_samples += count
            clock.last_future_ts_ms = max(clock.last_future_ts_ms or 0, newest_ts_ms)
            self._log_change(edge_id, clock, True)
        self.metrics.add("future_samples", count)

    def _log_change(self, edge_id: str, clock: EdgeClock, off: bool) -> None:
        if off and not clock.off:
            log.warning("edge %s: clock is %+.0f s off the server's; future timestamps are flagged, "
                        "samples keep the edge's time and are applied in seq order",
                        edge_id, (clock.offset_ms or 0) / 1000)  # fmt: skip
        elif clock.off and not off:
            log.info("edge %s: clock agrees with the server's again", edge_id)
        clock.off = off

    def of(self, edge_id: str) -> EdgeClock | None:
        with self._lock:
            found = self._edges.get(edge_id)
            return None if found is None else EdgeClock(**found.__dict__)

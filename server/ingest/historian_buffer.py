"""Writes to an external historian (influxdb, victoriametrics) after the apply commit, with retries.

Counts never depend on the historian (they live in the relational database). A failed write is logged
once per outage, counted, and kept in memory (up to `max_points`, oldest dropped first and counted) for
the next retry; points kept for retry are lost if the server process dies meanwhile.
"""

import logging
import threading
from collections import deque
from collections.abc import Sequence

from server.historian.base import Historian, Point
from server.historian.errors import HistorianError
from server.ingest.metrics import Metrics

log = logging.getLogger(__name__)


class HistorianBuffer:
    def __init__(self, historian: Historian, max_points: int, metrics: Metrics, chunk: int = 20_000) -> None:
        self.historian = historian
        self.max_points = max_points
        self.metrics = metrics
        self.chunk = chunk
        self._pending: deque[Point] = deque()
        self._failing = False
        self._lock = threading.Lock()

    @property
    def pending(self) -> int:
        return len(self._pending)

    def write(self, points: Sequence[Point]) -> None:
        if not points:
            return
        with self._lock:
            if self._pending:  # keep the order: older points first
                self._keep(points)
                return
        if not self._try(points):
            with self._lock:
                self._keep(points)

    def retry(self) -> None:
        while True:
            with self._lock:
                if not self._pending:
                    return
                chunk = [self._pending.popleft() for _ in range(min(self.chunk, len(self._pending)))]
            if not self._try(chunk):
                with self._lock:
                    self._pending.extendleft(reversed(chunk))
                return

    def _keep(self, points: Sequence[Point]) -> None:
        self._pending.extend(points)
        over = len(self._pending) - self.max_points
        if over > 0:
            for _ in range(over):
                self._pending.popleft()
            self.metrics.add("historian_dropped", over)

    def _try(self, points: Sequence[Point]) -> bool:
        try:
            self.historian.write(points)
        except (HistorianError, OSError) as err:
            self.metrics.add("historian_errors")
            if not self._failing:
                log.error(
                    "historian %s: write failed, keeping points for retry: %s", self.historian.name, err
                )
            self._failing = True
            return False
        if self._failing:
            log.info("historian %s: writes work again", self.historian.name)
        self._failing = False
        self.metrics.add("historian_points", len(points))
        return True

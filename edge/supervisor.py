"""Device loops that keep running whatever fails inside them (docs/edge.md, "Supervised device loops").

A source's own loop handles the failures it expects (a device that does not answer, a refused tag). Any
other exception (a codec bug, a library that changed) would end that device's polling silently, so
`DeviceLoop` catches it: the traceback is logged once, the device shows as failed in the status and its
tags go `stale`, and the loop restarts with capped, jittered exponential backoff. The first connect after
that is logged once at INFO. Cancellation (a stop, a reload) is never caught.
"""

from __future__ import annotations

import logging
import time

from tenacity import RetryCallState

from edge.retry import retry_forever, start_over
from edge.sources.base import Source, now_ms

log = logging.getLogger(__name__)


class LoopEnded(Exception):
    """A source's run() returned: it must run until cancelled."""


class DeviceLoop:
    """Runs `source.run()` forever; see the module docstring. Takes over `source.health.on_change`."""

    def __init__(self, source: Source, first_s: float = 1.0, cap_s: float = 30.0) -> None:
        self.source = source
        self.name = source.health.device
        self.first_s, self.cap_s = first_s, cap_s
        self.restarts = 0  # in the current failure
        self.failing = False  # from an unexpected error until the restarted loop connects
        self.traced: str | None = None  # the last error whose traceback was logged
        self.notify = source.health.on_change
        source.health.on_change = self._health_changed

    async def run(self) -> None:
        async for attempt in retry_forever(Exception, self.first_s, self.cap_s, self._failed):
            with attempt:
                started = time.monotonic()
                try:
                    await self.source.run()
                finally:
                    if time.monotonic() - started >= self.cap_s:
                        start_over(attempt)  # it ran a good while: a new failure is a new story
                raise LoopEnded(f"device {self.name}: its loop returned")

    def _failed(self, state: RetryCallState) -> None:
        assert state.outcome is not None
        error = state.outcome.exception()
        assert error is not None
        self.restarts += 1
        wait = state.upcoming_sleep
        if self.failing:
            log.debug("device %s: its loop failed again (%r); restart in %.1f s", self.name, error, wait)
        elif repr(error) != self.traced:
            log.error("device %s: unexpected error, its loop restarts with backoff (first in %.1f s)",
                      self.name, wait, exc_info=error)  # fmt: skip
            self.traced = repr(error)
        else:
            log.warning("device %s: the same unexpected error again (%r, traceback logged before); "
                        "its loop restarts with backoff", self.name, error)  # fmt: skip
        self.failing = True
        self.source.health.set(False, f"unexpected error: {error!r}")
        ts = now_ms()
        for point in self.source.points:
            point.stale(ts)

    def _health_changed(self) -> None:
        self.notify()
        if self.failing and self.source.health.connected:
            log.info("device %s: running again after %d restart(s)", self.name, self.restarts)
            self.failing, self.restarts = False, 0

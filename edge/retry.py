"""Retrying forever with capped, jittered exponential backoff (tenacity), for the edge's loops.

    async for attempt in retry_forever(SourceError, first=0.5, cap=30):
        with attempt:
            ...                         # raises SourceError when the device fails
            start_over(attempt)         # after progress (the device answered): the next wait is short again

The wait before retry n is uniform over the upper half of min(cap, first * 2**(n-1)): never zero, never
over the cap, and devices that fail together do not retry in lockstep. Other exceptions (and
cancellation) are not retried: they leave the loop. See docs/edge.md, "Quality".
"""

from __future__ import annotations

from collections.abc import Callable

from tenacity import (
    AsyncRetrying,
    AttemptManager,
    RetryCallState,
    retry_if_exception_type,
    wait_exponential,
    wait_random_exponential,
)
from tenacity.wait import wait_base


def backoff(first: float, cap: float) -> wait_base:
    """min(cap, first * 2**(n-1)) with its upper half jittered: a fixed half plus a random half."""
    half, half_cap = first / 2, cap / 2
    return wait_exponential(multiplier=half, max=half_cap) + wait_random_exponential(
        multiplier=half, max=half_cap
    )


def retry_forever(
    on: type[Exception] | tuple[type[Exception], ...],
    first: float,
    cap: float,
    before_sleep: Callable[[RetryCallState], None] | None = None,
) -> AsyncRetrying:
    return AsyncRetrying(
        retry=retry_if_exception_type(on), wait=backoff(first, cap), before_sleep=before_sleep, reraise=True
    )


def start_over(attempt: AttemptManager) -> None:
    """The loop made progress since its last failure: the wait after its next failure is the first one."""
    attempt.retry_state.attempt_number = 1

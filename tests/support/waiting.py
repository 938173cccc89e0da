"""Waiting for what happens in its own time (another thread, process or machine): poll, never sleep blind."""

import asyncio
import time
from collections.abc import Callable
from typing import Generic, TypeVar

R = TypeVar("R")


class _Poll(Generic[R]):
    """`check` until it returns something truthy (kept in `value`), for `timeout` seconds from now."""

    def __init__(self, check: Callable[[], R], timeout: float, what: str) -> None:
        self.check, self.timeout, self.what = check, timeout, what
        self.deadline = time.monotonic() + timeout

    def done(self) -> bool:
        """Check once: True when it holds; an AssertionError naming `what` and the last value after the
        deadline; False to poll again."""
        self.value = self.check()
        if self.value:
            return True
        if time.monotonic() > self.deadline:
            raise AssertionError(
                f"timed out after {self.timeout} s waiting for {self.what} (last: {self.value!r})"
            )
        return False


def wait_until(
    check: Callable[[], R], timeout: float = 20.0, what: str = "condition", interval: float = 0.05
) -> R:
    """Poll `check` until it returns something truthy and return that; after `timeout` seconds fail with an
    AssertionError naming `what` and the last value."""
    poll = _Poll(check, timeout, what)
    while not poll.done():
        time.sleep(interval)
    return poll.value


async def wait_until_async(
    check: Callable[[], R], seconds: float = 20.0, what: str = "condition", interval: float = 0.05
) -> R:
    """`wait_until` for a test running on the event loop: polls with asyncio.sleep, so the loop runs on."""
    poll = _Poll(check, seconds, what)
    while not poll.done():
        await asyncio.sleep(interval)
    return poll.value

"""Waiting for what happens in its own time (another thread, process or machine): poll, never sleep blind."""

import asyncio
import time
from collections.abc import Callable
from typing import TypeVar

R = TypeVar("R")


def wait_until(
    check: Callable[[], R], timeout: float = 20.0, what: str = "condition", interval: float = 0.05
) -> R:
    """Poll `check` until it returns something truthy and return that; after `timeout` seconds fail with an
    AssertionError naming `what` and the last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what} (last: {value!r})")
        time.sleep(interval)


async def wait_until_async(
    check: Callable[[], R], seconds: float = 20.0, what: str = "condition", interval: float = 0.05
) -> R:
    """`wait_until` for a test running on the event loop: polls with asyncio.sleep, so the loop runs on."""
    deadline = time.monotonic() + seconds
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {seconds} s waiting for {what} (last: {value!r})")
        await asyncio.sleep(interval)

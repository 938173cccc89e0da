"""A tiny time-to-live cache (in memory, per process) for rendered pages that many clients read."""

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable, Hashable


class TtlCache:
    def __init__(self, ttl_s: float, max_items: int = 5000) -> None:
        self.ttl_s = ttl_s
        self.max_items = max_items
        self._items: dict[Hashable, tuple[float, bytes]] = {}
        self._lock = threading.Lock()
        self._making: dict[Hashable, asyncio.Lock] = {}

    def get(self, key: Hashable) -> bytes | None:
        found = self._items.get(key)
        if found is None or found[0] < time.monotonic():
            return None
        return found[1]

    async def fetch(self, key: Hashable, make: Callable[[], Awaitable[bytes]]) -> bytes:
        """The cached value, or `make()` it once: concurrent callers of a missing key wait for the one
        making it, so an expired popular page is rendered once, not by every client at that moment."""
        value = self.get(key)
        if value is not None:
            return value
        if self.ttl_s <= 0:
            return await make()
        lock = self._making.setdefault(key, asyncio.Lock())
        async with lock:
            value = self.get(key)
            if value is None:
                value = self.put(key, await make())
        if not lock.locked():
            self._making.pop(key, None)
        return value

    def put(self, key: Hashable, value: bytes) -> bytes:
        if self.ttl_s <= 0:
            return value
        with self._lock:
            if len(self._items) >= self.max_items:
                now = time.monotonic()
                self._items = {k: v for k, v in self._items.items() if v[0] >= now}
                if len(self._items) >= self.max_items:
                    self._items.clear()
            self._items[key] = (time.monotonic() + self.ttl_s, value)
        return value

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

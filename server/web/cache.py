"""The rendered-page cache (in memory, per process) for pages that many clients read: cachetools' TTLCache
under a lock, and one render per missing key however many clients ask at once."""

import asyncio
import threading
from collections.abc import Awaitable, Callable, Hashable

from cachetools import TTLCache


class TtlCache:
    def __init__(self, ttl_s: float, max_items: int = 5000) -> None:
        self.ttl_s = ttl_s
        self._items: TTLCache[Hashable, bytes] = TTLCache(maxsize=max_items, ttl=max(ttl_s, 0.0))
        self._lock = threading.Lock()  # TTLCache is not thread-safe; renders run in the thread pool
        self._making: dict[Hashable, asyncio.Lock] = {}

    def get(self, key: Hashable) -> bytes | None:
        with self._lock:
            return self._items.get(key)

    async def fetch(self, key: Hashable, make: Callable[[], Awaitable[bytes]]) -> bytes:
        """The cached value, or `make()` it once: concurrent callers of a missing key wait for the one
        making it, so an expired popular page is rendered once, not by every client at that moment."""
        # hand-written: cachetools' single-flight (`cached(condition=)`) is for threads, not coroutines
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
        if self.ttl_s > 0:
            with self._lock:
                self._items[key] = value
        return value

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

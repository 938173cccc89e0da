"""A tiny time-to-live cache (in memory, per process) for rendered pages that many clients read."""

import threading
import time
from collections.abc import Hashable


class TtlCache:
    def __init__(self, ttl_s: float, max_items: int = 5000) -> None:
        self.ttl_s = ttl_s
        self.max_items = max_items
        self._items: dict[Hashable, tuple[float, bytes]] = {}
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> bytes | None:
        found = self._items.get(key)
        if found is None or found[0] < time.monotonic():
            return None
        return found[1]

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

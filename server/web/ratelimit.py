"""Per-key rate limits (in memory, per process) with the `limits` library: `allow(key)` is False when the key
is over its rate.

A key may send `burst` requests at once and `per_minute` on average: a moving window of `burst` hits over
`burst / per_minute` minutes (whole seconds), which a token bucket of that rate and size would also allow."""

import math

from limits import RateLimitItemPerSecond
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter


class RateLimiter:
    def __init__(self, per_minute: int, burst: int) -> None:
        window_s = max(1, math.ceil(60 * burst / per_minute))
        self.item = RateLimitItemPerSecond(burst, window_s, namespace="takt")
        self._storage = MemoryStorage()  # expires idle keys itself
        self._limiter = MovingWindowRateLimiter(self._storage)

    def allow(self, key: str) -> bool:
        return self._limiter.hit(self.item, key)

    def reset(self) -> None:
        self._storage.reset()

"""The share links' per-client rate limit: `burst` requests at once, then `per_minute` on average, per key."""

import time

from server.web.ratelimit import RateLimiter


def test_a_key_gets_its_burst_then_waits_while_others_are_untouched() -> None:
    limiter = RateLimiter(per_minute=120, burst=2)  # a window of 2 requests per second
    assert [limiter.allow("10.0.0.1") for _ in range(3)] == [True, True, False]
    assert limiter.allow("10.0.0.2")  # another client has its own window
    time.sleep(1.1)
    assert limiter.allow("10.0.0.1")  # the window moved on


def test_the_sustained_rate_is_per_minute() -> None:
    limiter = RateLimiter(per_minute=120, burst=60)
    assert limiter.item.get_expiry() == 30  # 60 at once, then 60 more every 30 s: 120 a minute
    assert sum(limiter.allow("k") for _ in range(100)) == 60


def test_reset_forgets_every_key() -> None:
    limiter = RateLimiter(per_minute=60, burst=1)
    assert limiter.allow("k") and not limiter.allow("k")
    limiter.reset()
    assert limiter.allow("k")

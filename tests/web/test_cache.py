"""The rendered-page cache: a missing or expired entry is made once, however many clients ask at once.

Each scenario runs on its own event loop in a worker thread: the browser tests' sync Playwright keeps a
loop running on the main thread for the rest of the session, where pytest-asyncio cannot run another."""

import asyncio
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from server.web.cache import TtlCache


def run(scenario: Callable[[], Coroutine[Any, Any, None]]) -> None:
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, scenario()).result()


def test_concurrent_misses_render_once_and_expiry_renders_again() -> None:
    run(_concurrent_misses_render_once_and_expiry_renders_again)


async def _concurrent_misses_render_once_and_expiry_renders_again() -> None:
    cache, made = TtlCache(ttl_s=0.2), []

    async def render() -> bytes:
        made.append(1)
        await asyncio.sleep(0.05)  # a render in the thread pool: other requests arrive meanwhile
        return b"page %d" % len(made)

    first = await asyncio.gather(*(cache.fetch("share", render) for _ in range(50)))
    assert first == [b"page 1"] * 50 and len(made) == 1
    await asyncio.sleep(0.25)
    again = await asyncio.gather(*(cache.fetch("share", render) for _ in range(50)))
    assert again == [b"page 2"] * 50 and len(made) == 2


def test_a_failed_render_is_not_cached_and_the_next_caller_renders() -> None:
    run(_a_failed_render_is_not_cached_and_the_next_caller_renders)


async def _a_failed_render_is_not_cached_and_the_next_caller_renders() -> None:
    cache, calls = TtlCache(ttl_s=10), []

    async def flaky() -> bytes:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("database gone")
        return b"ok"

    results = await asyncio.gather(cache.fetch("k", flaky), cache.fetch("k", flaky), return_exceptions=True)
    assert isinstance(results[0], RuntimeError) and results[1] == b"ok"
    assert await cache.fetch("k", flaky) == b"ok" and len(calls) == 2


def test_without_a_ttl_nothing_is_cached() -> None:
    run(_without_a_ttl_nothing_is_cached)


async def _without_a_ttl_nothing_is_cached() -> None:
    cache, made = TtlCache(ttl_s=0), []

    async def render() -> bytes:
        made.append(1)
        return b"x"

    await asyncio.gather(cache.fetch("k", render), cache.fetch("k", render))
    assert len(made) == 2

"""Run calls at the same moment, for tests of concurrent requests."""

import threading
from collections.abc import Callable
from typing import TypeVar

R = TypeVar("R")


def together(*calls: Callable[[], R]) -> list[R]:
    """Run the calls in threads released at the same moment; results in call order."""
    barrier = threading.Barrier(len(calls))
    results: list[R | None] = [None] * len(calls)

    def run(i: int) -> None:
        barrier.wait()
        results[i] = calls[i]()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert all(r is not None for r in results)
    return results  # type: ignore[return-value]

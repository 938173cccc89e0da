"""Issue 8, case 8, the exceptions test_modbus.py does not cover: 01 (illegal function: a config
error, the tags go `bad` once and are re-checked) and 0B (gateway target failed to respond: the device is
down, its tags go `stale` once with their last value), each on one unit while another unit on the same
simulator keeps flowing, and both recover when the fault clears."""

import asyncio

import pytest

from edge.sources.modbus import ModbusSource
from tests.edge.support import all_tags, source
from tests.support.simulator import Simulator

pytestmark = pytest.mark.faults
ALWAYS = {"name": "temperature", "table": "input", "address": 0, "type": "float32", "report": "always"}


async def until(condition: object, what: str, limit_s: float = 15.0) -> None:
    try:
        async with asyncio.timeout(limit_s):
            while not condition():  # type: ignore[operator]
                await asyncio.sleep(0.02)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None


@pytest.mark.parametrize(("code", "quality"), [(1, "bad"), (11, "stale")])
async def test_exception_on_one_unit_beside_a_live_one(sim: Simulator, code: int, quality: str) -> None:
    faulty, rows = source(sim, "fast16", 5, [*all_tags("big")[:3], ALWAYS], bad_recheck_s=1)
    live, live_rows = source(sim, "m-bb", 1, [ALWAYS])
    sources: list[ModbusSource] = [faulty, live]
    tasks = [asyncio.create_task(s.run()) for s in sources]
    counts = lambda q: [r[3] for r in rows if r[1] == "good_count" and r[4] == q]  # noqa: E731
    try:
        await until(lambda: counts("good"), "good counts")
        sim.post(
            "/faults", {"action": "modbus_exception", "machine": "fast16", "code": code, "duration_s": 60}
        )
        await until(lambda: counts(quality), f"quality {quality}")
        mark = len(live_rows)
        await until(lambda: len(live_rows) >= mark + 5, "the other unit flowing")
        (reported,) = counts(quality)  # once, not on every poll
        assert reported is None if quality == "bad" else reported is not None, (
            "bad: no value; stale: the last"
        )
        before = len(counts("good"))
        sim.post("/faults", {"action": "clear"})
        await until(lambda: len(counts("good")) > before, "recovery")
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for src in sources:
            src.line.client.close()
        sim.post("/faults", {"action": "clear"})
    assert live.health.connected

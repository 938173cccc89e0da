"""Live events across replicas (server/ingest/fanout.py): two `Fanout`s, each with its own bus, on a fresh
database of the machine's PostgreSQL, as two replicas would be. Figures: the latency of one event from
A's `bus.publish` to B's subscriber (one at a time), a burst's rate and CPU per event (both ends and
PostgreSQL share the 2 cores), and what `bus.publish` costs the ingest thread with the relay on."""

import asyncio
import statistics
import time

from sqlalchemy import make_url

from bench.table import Table
from server.core.events import EventBus, MachineStateChanged
from server.ingest.fanout import Fanout, conninfo_of
from tests.support.postgres import fresh_database

SINGLES = 300
BURST = 8_000  # under the queue of 10,000: a rate, not a drop test


def _event(n: int) -> MachineStateChanged:
    return MachineStateChanged(machine_id=1, machine="press-1", state="running", since_ms=n)


async def _measure(a: Fanout, b: Fanout) -> tuple[list[float], float, float, float]:
    async with b.bus.subscribe(maxsize=BURST + 10) as on_b:
        latencies = []
        for n in range(SINGLES):
            start = time.perf_counter()
            a.bus.publish(_event(n))
            await asyncio.wait_for(on_b.queue.get(), 10)
            latencies.append((time.perf_counter() - start) * 1000)
        cpu, start = time.process_time(), time.perf_counter()
        publish_s = 0.0
        for n in range(BURST):
            tick = time.perf_counter()
            a.bus.publish(_event(n))
            publish_s += time.perf_counter() - tick
        received = 0
        while received < BURST - a.dropped:  # a full queue drops (and counts) rather than block
            await asyncio.wait_for(on_b.queue.get(), 30)
            received += 1
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    return latencies, seconds, cpu, publish_s


def run() -> Table:
    table = Table("Live fan-out across replicas (PostgreSQL LISTEN/NOTIFY)")
    with fresh_database() as url:
        conninfo = conninfo_of(make_url(url))
        a, b = Fanout(conninfo, EventBus()), Fanout(conninfo, EventBus())
        for fanout in (a, b):
            fanout.start()
            assert fanout.wait_listening(10), "a fan-out did not LISTEN"
        try:
            latencies, seconds, cpu, publish_s = asyncio.run(_measure(a, b))
        finally:
            a.stop()
            b.stop()
    cuts = statistics.quantiles(latencies, n=20)
    table.add("one event, A's publish to B's page, p50", statistics.median(latencies), "ms")
    table.add("one event, p95", cuts[18], "ms")
    table.add(f"burst of {BURST:,} events, delivered", (BURST - a.dropped) / seconds, "events/s")
    table.add("CPU of both fan-outs per event (burst)", cpu / BURST * 1e6, "us")
    table.add("bus.publish with the relay, per event", publish_s / BURST * 1e6, "us")
    table.add("dropped in the burst", a.dropped, "events")
    return table

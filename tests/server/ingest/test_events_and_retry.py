"""Live events reach async listeners; an external historian's outage loses no points (retried)."""

import asyncio
import threading
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import Engine, func
from sqlmodel import Session, select

from server.core.events import CountsChanged, EdgeChanged, EventBus, MachineStateChanged, bus
from server.historian.base import Point
from server.historian.victoria import VictoriaHistorian
from server.ingest import Ingestor
from server.ingest.historian_buffer import HistorianBuffer
from server.ingest.metrics import Metrics
from server.models.ingest import HistorianPoint
from server.models.production import Operation
from tests.server.ingest.support import T0, Broker, batch, make_plant
from tests.server.ingest.vmproc import victoria_metrics
from tests.support.ports import free_port


async def test_bus_delivers_from_other_threads_and_drops_oldest_when_full() -> None:
    local = EventBus()
    async with local.subscribe(maxsize=2) as sub:
        assert local.listeners == 1
        events = [EdgeChanged(f"e{i}", True) for i in range(3)]
        thread = threading.Thread(target=lambda: [local.publish(e) for e in events])
        thread.start()
        thread.join()
        await asyncio.sleep(0.05)
        got = [await asyncio.wait_for(sub.queue.get(), 1) for _ in range(2)]
        assert [e.edge_id for e in got] == ["e1", "e2"] and sub.dropped == 1
    assert local.listeners == 0


async def test_ingestion_publishes_state_and_count_events(
    engine: Engine, start_ingestor: Callable[..., Ingestor], broker: Broker
) -> None:
    plant = make_plant(engine)
    start_ingestor()
    async with bus.subscribe() as sub:
        broker.publish(batch(1, [("m1", "good_count", T0 + 1000, 5), ("m1", "state", T0 + 1000, 2)]))
        broker.publish(batch(2, [("m1", "good_count", T0 + 2000, 8)]))
        seen: list[object] = []
        deadline = time.monotonic() + 15
        while not any(isinstance(e, CountsChanged) for e in seen) and time.monotonic() < deadline:
            seen.append(await asyncio.wait_for(sub.queue.get(), 15))
    assert MachineStateChanged(plant.machines["m1"], "m1", "running", T0 + 1000) in seen
    counts = [e for e in seen if isinstance(e, CountsChanged)]
    assert counts == [CountsChanged(plant.machines["m1"], "m1", plant.operation_id, 3, 0, T0 + 2000)]
    assert '"kind": "counts"' in counts[0].to_json()


def test_victoriametrics_outage_points_are_kept_and_retried(tmp_path: Path) -> None:
    port = free_port()
    hist = VictoriaHistorian(f"http://127.0.0.1:{port}", timeout_s=1)
    metrics = Metrics()
    buffer = HistorianBuffer(hist, max_points=5, metrics=metrics)
    start = (int(time.time() * 1000) - 3600_000) // 60_000 * 60_000
    buffer.write([Point("demo", "m1", "t", start + i * 1000, float(i)) for i in range(4)])  # VM is down
    buffer.write([Point("demo", "m1", "t", start + i * 1000, float(i)) for i in range(4, 6)])
    assert buffer.pending == 5 and metrics.historian_dropped == 1  # bounded: the oldest went
    assert metrics.historian_errors == 1
    with victoria_metrics(tmp_path / "vm", port=port):
        buffer.retry()
        assert buffer.pending == 0 and metrics.historian_points == 5
        deadline = time.monotonic() + 20
        while hist.latest("demo", "m1", "t") is None and time.monotonic() < deadline:
            hist.flush()
            time.sleep(0.2)
        assert hist.latest("demo", "m1", "t") == (start + 5000, 5.0)
        assert [v for _, v in hist.query("demo", "m1", "t", start, start + 6000, 1000)] == [
            1.0,
            2.0,
            3.0,
            4.0,
            5.0,
        ]
    hist.close()


def test_ingestion_into_victoriametrics_keeps_counts_in_the_database(
    engine: Engine, start_ingestor: Callable[..., Ingestor], broker: Broker, tmp_path: Path
) -> None:
    plant = make_plant(engine)
    start = (int(time.time() * 1000) - 3600_000) // 60_000 * 60_000
    with victoria_metrics(tmp_path / "vm") as url:
        ingestor = start_ingestor(historian="victoriametrics", historian_url=url)  # through make_historian
        assert ingestor.historian.name == "victoriametrics"
        for seq in (1, 2, 3):
            ts = start + seq * 1000
            broker.publish(
                batch(seq, [("m1", "good_count", ts, 10 * seq), ("m1", "temperature", ts, 20.0 + seq)])
            )
        hist = VictoriaHistorian(url)
        deadline = time.monotonic() + 20
        while (
            hist.latest("demo", "m1", "temperature") != (start + 3000, 23.0) and time.monotonic() < deadline
        ):
            hist.flush()
            time.sleep(0.2)
        assert hist.latest("demo", "m1", "temperature") == (start + 3000, 23.0)
        assert hist.latest("demo", "m1", "good_count") == (start + 3000, 30.0)
        hist.close()
    with Session(engine) as session:
        op = session.get(Operation, plant.operation_id)
        assert op is not None and op.machine_good == 20
        assert session.exec(select(func.count()).select_from(HistorianPoint)).one() == 0  # not in SQL

"""Sparkplug B ingest on SQLite: metrics/s of DDATA through Takt's host (decode, session rules, counting,
states, sql historian, one transaction per message), next to the raw decode rate of the payload library
(protobuf's `Payload.ParseFromString` plus reading each metric's value) on the same messages, in the same run.

Load: 10 devices (machines) x 20 metrics (good and scrap counters, state, run, 16 analogs) per DDATA, by
alias, 100 ms apart. Messages go straight to `SparkplugHost.handle`, BATCH at a time, as its worker takes
them from the MQTT client: the broker's transport is not in the figure (bench_ingest.py measures that for
Takt's edges).
"""

import shutil
import tempfile
import time
from pathlib import Path

from bench.factory import tagged_machines
from bench.table import Table
from server.core.db import init_db, make_engine
from server.core.settings import Settings
from server.historian.sql import SqlHistorian
from server.ingest.metrics import Metrics
from server.ingest.options import IngestOptions
from server.ingest.registry import Registry
from server.ingest.sparkplug import BATCH, SparkplugHost
from server.ingest.sparkplug_apply import Target, edge_id_of
from shared.sparkplug.payload import DataType, Payload, decode, value_of

DEVICES = 10
ANALOGS = 16
TICKS = 400
T0 = 1_700_000_000_000
GROUP, NODE = "bench", "gw"
TAGS: list[tuple[str, str, int | None, int]] = [
    ("good_count", "counter", 32, DataType.UInt32),
    ("scrap_count", "scrap_counter", 32, DataType.UInt32),
    ("state", "state", None, DataType.Int32),
    ("running", "run", None, DataType.Boolean),
    *[(f"a{i}", "analog", None, DataType.Double) for i in range(ANALOGS)],
]


def _metric(payload: Payload, alias: int, datatype: int, value: float | int | bool, name: str | None) -> None:
    metric = payload.metrics.add(alias=alias)
    if name is not None:
        metric.name, metric.datatype = name, datatype
    if datatype == DataType.Double:
        metric.double_value = float(value)
    elif datatype == DataType.Boolean:
        metric.boolean_value = bool(value)
    else:
        metric.int_value = int(value)


def _device(seq: int, tick: int, birth: bool) -> bytes:
    payload = Payload(timestamp=T0 + tick * 100, seq=seq % 256)
    running = tick % 200 < 180
    values: list[float | int | bool] = [tick // 5, tick // 50, 2 if running else 3, running]
    values += [20.0 + i + (tick % 7) * 0.1 for i in range(ANALOGS)]
    for alias, ((name, _role, _width, datatype), value) in enumerate(zip(TAGS, values, strict=True)):
        _metric(payload, alias, datatype, value, name if birth else None)
    return payload.SerializeToString()


def _messages() -> tuple[list[tuple[str, bytes]], list[tuple[str, bytes]]]:
    """(births, data): NBIRTH and a DBIRTH per device, then TICKS rounds of one DDATA per device."""
    base = f"spBv1.0/{GROUP}"
    nbirth = Payload(timestamp=T0, seq=0)
    nbirth.metrics.add(name="bdSeq", datatype=DataType.UInt64, long_value=0)
    births = [(f"{base}/NBIRTH/{NODE}", nbirth.SerializeToString())]
    births += [(f"{base}/DBIRTH/{NODE}/m{d}", _device(d + 1, 0, True)) for d in range(DEVICES)]
    data, seq = [], DEVICES + 1
    for tick in range(1, TICKS + 1):
        for d in range(DEVICES):
            data.append((f"{base}/DDATA/{NODE}/m{d}", _device(seq, tick, False)))
            seq += 1
    return births, data


def _decode_rate(data: list[tuple[str, bytes]]) -> float:
    started = time.perf_counter()
    metrics = 0
    for _topic, raw in data:
        for metric in decode(raw).metrics:
            value_of(metric, metric.datatype)
            metrics += 1
    return metrics / (time.perf_counter() - started)


def _ingest_rate(
    workdir: Path, births: list[tuple[str, bytes]], data: list[tuple[str, bytes]]
) -> tuple[float, int]:
    engine = make_engine(f"sqlite:///{workdir / 'takt.db'}")
    init_db(engine)
    edge = edge_id_of(GROUP, NODE)
    tagged_machines(engine, "demo", DEVICES, [t[:3] for t in TAGS], lambda _m: edge)
    settings = Settings(secret_key="bench-secret-key-0123456789abcdef", sparkplug_groups=[GROUP],  # type: ignore[arg-type]
                        _env_file=None)  # type: ignore[call-arg]  # fmt: skip
    metrics = Metrics()
    registry = Registry(engine)
    registry.reload()
    target = Target(engine, registry, SqlHistorian(engine), IngestOptions(), metrics, "demo")
    host = SparkplugHost(settings, target, lambda _points: None, lambda _events: None)
    host.handle([(topic, raw, T0) for topic, raw in births])
    started = time.perf_counter()
    for first in range(0, len(data), BATCH):  # as the worker takes them: what is waiting, up to BATCH
        host.handle([(topic, raw, T0 + 1000) for topic, raw in data[first : first + BATCH]])
    elapsed = time.perf_counter() - started
    applied = metrics.samples_applied
    engine.dispose()
    return applied / elapsed, metrics.sparkplug_dead_letters


def run() -> Table:
    table = Table("sparkplug: DDATA ingest on SQLite (decode, session rules, counting, sql historian)")
    births, data = _messages()
    workdir = Path(tempfile.mkdtemp(prefix="takt-bench-spb-"))
    try:
        decode_rate = _decode_rate(data)
        rate, dead = _ingest_rate(workdir, births, data)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    table.add("DDATA ingest, metrics/s", rate, "metrics/s", 50_000, "target 50k")
    table.add("DDATA ingest vs raw decode (protobuf)", rate, "metrics/s", decode_rate, "raw decode")
    table.add("raw decode, protobuf Payload + values", decode_rate, "metrics/s")
    table.add("messages", len(data), "DDATA")
    table.add("dead letters (expected 0)", dead, "messages")
    return table

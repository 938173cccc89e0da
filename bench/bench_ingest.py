"""Ingestion end to end on SQLite: samples/s from MQTT publish to committed inbox, applied counts, state
and sql-historian rows, against raw indexed SQLite inserts and influxdb-client -> VictoriaMetrics writes
measured in the same run, and the same end to end on PostgreSQL (a fresh database) for comparison.

Load: 10 machines x (good/scrap counters, state, run, 16 analog tags) sampled every 100 ms, 1000 samples
per batch (5 ticks), published QoS 1 through mosquitto (takt.broker.BrokerProcess) to one Ingestor.
"""

import logging
import shutil
import sqlite3
import tempfile
import threading
import time
import uuid
from pathlib import Path

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import func
from sqlmodel import Session, select

from bench.factory import tagged_machines
from bench.table import Table
from server.core.db import init_db, make_engine
from server.core.settings import Settings
from server.historian.base import Point
from server.ingest import IngestOptions, Ingestor
from server.models.ingest import CountEvent, HistorianPoint
from shared.messages import DataBatch, Sample, encode
from takt.broker import BrokerProcess, free_port

log = logging.getLogger(__name__)
MACHINES = 10
ANALOGS = 16
TICKS_PER_BATCH = 5
BATCHES = 300
T0 = 1_700_000_000_000
VM = "/usr/bin/victoria-metrics"


ROLES: list[tuple[str, str, int | None]] = [
    ("good_count", "counter", 32),
    ("scrap_count", "scrap_counter", 32),
    ("state", "state", None),
    ("running", "run", None),
    *[(f"a{i}", "analog", None) for i in range(ANALOGS)],
]


def tick_samples(code: str, ts: int, tick: int) -> list[Sample]:
    """One poll of a machine's tags at `tick` (100 ms apart): counters, state, run and the analogs."""
    running = tick % 200 < 180
    return [
        Sample(code, "good_count", ts, tick // 5),
        Sample(code, "scrap_count", ts, tick // 50),
        Sample(code, "state", ts, 2 if running else 3),
        Sample(code, "running", ts, running),
        *[Sample(code, f"a{i}", ts, 20.0 + i + (tick % 7) * 0.1) for i in range(ANALOGS)],
    ]


def _batches() -> list[bytes]:
    out = []
    tick = 0
    for seq in range(1, BATCHES + 1):
        samples = []
        for _ in range(TICKS_PER_BATCH):
            ts = T0 + tick * 100
            for m in range(MACHINES):
                samples += tick_samples(f"m{m}", ts, tick)
            tick += 1
        out.append(encode(DataBatch(edge_id="bench-edge", seq=seq, sent_ms=T0, samples=samples)))
    return out


def _end_to_end(workdir: Path, url: str | None = None) -> tuple[float, int, int, int]:
    """(samples/s, samples, historian rows, ledger rows) from first publish to the last batch applied."""
    engine = make_engine(url or f"sqlite:///{workdir / 'takt.db'}")
    init_db(engine)
    tagged_machines(engine, "bench", MACHINES, ROLES, edge_of=lambda _m: "bench-edge")  # the owner is trusted
    payloads = _batches()
    samples = MACHINES * (4 + ANALOGS) * TICKS_PER_BATCH * BATCHES
    with BrokerProcess(workdir / f"broker-{engine.dialect.name}", port=free_port()) as broker:
        settings = Settings(
            database_url=engine.url.render_as_string(hide_password=False),
            mqtt_port=broker.port,
            mqtt_client_id=f"bench-{uuid.uuid4().hex[:6]}",
            _env_file=None,  # type: ignore[call-arg]
        )
        ingestor = Ingestor(settings, engine, IngestOptions(tick_s=0.5))
        ingestor.start()
        ingestor.link.connected.wait(10)
        pub = paho.Client(CallbackAPIVersion.VERSION2, client_id="bench-edge")
        pub.max_inflight_messages_set(100)
        pub.connect("127.0.0.1", broker.port)
        pub.loop_start()
        start = time.perf_counter()
        infos = [pub.publish("takt/v1/bench/bench-edge/data", p, qos=1) for p in payloads]
        deadline = time.monotonic() + 80
        while ingestor.metrics.snapshot()["batches_applied"] < BATCHES and time.monotonic() < deadline:
            time.sleep(0.01)
        elapsed = time.perf_counter() - start
        infos[-1].wait_for_publish(5)
        pub.disconnect()
        pub.loop_stop()
        ingestor.stop()
    with Session(engine) as session:
        points = session.exec(select(func.count()).select_from(HistorianPoint)).one()
        ledger = session.exec(select(func.count()).select_from(CountEvent)).one()
    engine.dispose()
    return samples / elapsed, samples, int(points), int(ledger)


def _raw_sqlite(workdir: Path, rows: int = 300_000, per_txn: int = 1000) -> float:
    """Indexed inserts (primary key (series_id, ts_ms)) into a WAL SQLite file, executemany per txn."""
    db = sqlite3.connect(workdir / "raw.db", isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute(
        "CREATE TABLE p (series_id INTEGER, ts_ms INTEGER, value REAL, PRIMARY KEY (series_id, ts_ms))"
    )
    data = [(i % 200, T0 + (i // 200) * 100, float(i)) for i in range(rows)]
    start = time.perf_counter()
    for i in range(0, rows, per_txn):
        db.execute("BEGIN")
        db.executemany("INSERT INTO p VALUES (?, ?, ?)", data[i : i + per_txn])
        db.execute("COMMIT")
    elapsed = time.perf_counter() - start
    db.close()
    return rows / elapsed


def _victoria(workdir: Path, points: int = 200_000, per_write: int = 5000) -> float | None:
    """Points/s written by influxdb-client (line protocol) to VictoriaMetrics' /api/v2/write."""
    import subprocess

    from server.historian.victoria import VictoriaHistorian

    if shutil.which(VM) is None:
        return None
    port = free_port()
    args = [
        VM,
        f"-httpListenAddr=127.0.0.1:{port}",
        f"-storageDataPath={workdir / 'vm'}",
        "-retentionPeriod=1y",
    ]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        hist = VictoriaHistorian(f"http://127.0.0.1:{port}")
        _wait_vm(hist)
        data = [
            Point("bench", f"m{i % 10}", f"a{i % 20}", T0 + (i // 200) * 100, float(i)) for i in range(points)
        ]
        start = time.perf_counter()
        for i in range(0, points, per_write):
            hist.write(data[i : i + per_write])
        rate = points / (time.perf_counter() - start)
        hist.close()
        return rate
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _wait_vm(hist: object, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            hist.flush()  # type: ignore[attr-defined]
            return
        except Exception:
            time.sleep(0.1)
    raise TimeoutError("victoria-metrics did not start")


def _postgres(workdir: Path) -> float | None:
    """The same end to end on a fresh PostgreSQL database (127.0.0.1:5432), if one can be made."""
    try:
        from tests.support.postgres import fresh_database

        with fresh_database() as url:
            return _end_to_end(workdir, url)[0]
    except Exception as err:  # no PostgreSQL here: the row is left out
        log.warning("PostgreSQL run skipped: %s", err)
        return None


def run() -> Table:
    table = Table("ingest: end to end on SQLite (mosquitto -> inbox -> counts, states, sql historian)")
    workdir = Path(tempfile.mkdtemp(prefix="takt-bench-ingest-"))
    try:
        raw = _raw_sqlite(workdir)
        rate, samples, points, ledger = _end_to_end(workdir)
        vm = _victoria(workdir)
        pg = _postgres(workdir)
    finally:
        threading.Thread(target=shutil.rmtree, args=(workdir, True), daemon=True).start()
    table.add("end to end, samples/s (sql historian, SQLite)", rate, "samples/s", 50_000, "target 50k")
    table.add("end to end vs raw indexed SQLite inserts", rate, "samples/s", raw, "raw inserts")
    if vm is not None:
        table.add("end to end vs influxdb-client -> VictoriaMetrics", rate, "samples/s", vm, "VM writes")
    if pg is not None:
        table.add("end to end, samples/s, PostgreSQL", pg, "samples/s", rate, "SQLite")
    table.add("raw indexed SQLite inserts (executemany, 1000/txn)", raw, "rows/s")
    if vm is not None:
        table.add("influxdb-client -> VictoriaMetrics /api/v2/write", vm, "points/s")
    table.add("samples ingested", samples, "samples")
    table.add("historian rows written", points, "rows", samples, "of samples")
    table.add("count ledger rows", ledger, "rows")
    return table

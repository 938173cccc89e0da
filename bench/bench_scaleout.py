"""Scale-out: ingest throughput of 1 vs 3 `takt server` replicas (real processes sharing `$share/takt/...`)
on one PostgreSQL database, fed by EDGES edges through mosquitto with the deployed `max_inflight_messages
20` (takt.broker.BrokerProcess). Each edge has one machine with 20 tags (good/scrap counters, state, run,
16 analogs) and sends BATCHES batches of TICKS x 20 samples; all of them are published at once, so the
figure is the rate at which the replicas drain a backlog into applied counts, states and sql-historian
rows (first publish to every edge's cursor at its last seq).

Also the CPU time each tier spent per batch (the replicas, the PostgreSQL backends serving them,
mosquitto): on a machine with more cores than this one, those are what a sizing extrapolates from.
"""

import os
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as paho
import psycopg
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import Engine, func
from sqlmodel import Session, select

from bench.bench_ingest import ROLES as TAGS
from bench.bench_ingest import tick_samples
from bench.factory import tagged_machines
from bench.table import Table
from server.core.db import init_db, make_engine
from server.models.ingest import EdgeCursor
from shared import topics
from shared.messages import DataBatch, encode
from takt.broker import BrokerProcess, free_port
from tests.scaleout.replicas import ServerReplica, start_replicas, stop_all
from tests.support.postgres import ADMIN_DSN, fresh_database

EDGES = 20
BATCHES = 300  # per edge
TICKS = 5  # samples of every tag per batch
SITE = "demo"
SAMPLES_PER_BATCH = TICKS * len(TAGS)  # the tags of bench_ingest
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Run:
    replicas: int
    seconds: float
    cpu_servers: float
    cpu_postgres: float
    cpu_broker: float

    @property
    def batches_per_s(self) -> float:
        return EDGES * BATCHES / self.seconds

    def per_batch_us(self, cpu: float) -> float:
        return cpu / (EDGES * BATCHES) * 1e6

    @property
    def batches_per_cpu_s(self) -> float:
        """Batches applied per CPU second of the server and database tiers together."""
        return EDGES * BATCHES / (self.cpu_servers + self.cpu_postgres)


def _payloads(t0: int) -> list[tuple[str, bytes]]:
    """Every edge's batches, interleaved as edges publishing side by side would be."""
    out: list[tuple[str, bytes]] = []
    sent = int(time.time() * 1000)
    for seq in range(1, BATCHES + 1):
        for e in range(EDGES):
            samples = []
            for k in range(TICKS):
                tick = (seq - 1) * TICKS + k
                samples += tick_samples(f"m{e}", t0 + tick * 100, tick)
            batch = DataBatch(edge_id=f"edge-{e}", seq=seq, sent_ms=sent, samples=samples)
            out.append((topics.data(SITE, f"edge-{e}"), encode(batch)))
    return out


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of one process so far (0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def _backends(database: str) -> list[int]:
    with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
        rows = conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s", (database,)).fetchall()
    return [int(row[0]) for row in rows]


def _applied(engine: Engine) -> int:
    with Session(engine) as session:
        return int(session.exec(select(func.coalesce(func.sum(EdgeCursor.last_applied_seq), 0))).one())


def _publish(port: int, payloads: list[tuple[str, bytes]]) -> paho.Client:
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id="bench-edges")
    client.max_inflight_messages_set(200)
    client.max_queued_messages_set(0)
    client.connect("127.0.0.1", port)
    client.loop_start()
    for topic, payload in payloads:
        client.publish(topic, payload, qos=1)
    return client


def _run(count: int, workdir: Path) -> Run:
    with fresh_database() as url:
        engine = make_engine(url)
        init_db(engine)
        tagged_machines(engine, SITE, EDGES, TAGS, lambda e: f"edge-{e}")
        payloads = _payloads(int(time.time() * 1000) - 3_600_000)
        with BrokerProcess(workdir / f"broker-{count}", port=free_port()) as broker:
            servers = start_replicas(count, workdir / f"replicas-{count}", url, broker.port)
            try:
                return _measure(engine, url.rsplit("/", 1)[1], servers, broker, payloads)
            finally:
                stop_all(servers)
                engine.dispose()


def _measure(
    engine: Engine, database: str, servers: list[ServerReplica], broker: BrokerProcess,
    payloads: list[tuple[str, bytes]],
) -> Run:  # fmt: skip
    assert broker.proc is not None
    broker_pid = broker.proc.pid
    pids = [s.process.proc.pid for s in servers if s.process.proc is not None]
    backends = _backends(database)
    before = {pid: _cpu_s(pid) for pid in [*pids, *backends, broker_pid]}
    start = time.perf_counter()
    client = _publish(broker.port, payloads)
    deadline = time.monotonic() + 600
    while _applied(engine) < EDGES * BATCHES:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{len(servers)} replicas applied {_applied(engine)} of {EDGES * BATCHES}")
        time.sleep(0.05)
    seconds = time.perf_counter() - start
    backends = sorted(set(backends) | set(_backends(database)))
    spent = {pid: _cpu_s(pid) - before.get(pid, 0.0) for pid in [*pids, *backends, broker_pid]}
    client.disconnect()
    client.loop_stop()
    return Run(
        len(servers),
        seconds,
        sum(spent[p] for p in pids),
        sum(spent[p] for p in backends if p not in pids),
        spent[broker_pid],
    )


def run() -> Table:
    title = (
        f"scale-out: takt server replicas on one PostgreSQL, {EDGES} edges x {BATCHES} batches of "
        f"{SAMPLES_PER_BATCH} samples, mosquitto, {os.cpu_count()} cores"
    )
    table = Table(title)
    workdir = Path(tempfile.mkdtemp(prefix="takt-bench-scaleout-"))
    try:
        one = _run(1, workdir)
        three = _run(3, workdir)
    finally:
        threading.Thread(target=shutil.rmtree, args=(workdir, True), daemon=True).start()
    for result, ref in ((one, None), (three, one)):
        n = f"{result.replicas} replica{'s' if result.replicas > 1 else ''}"
        ref_bps = ref.batches_per_s if ref else None
        table.add(f"{n}: batches/s applied", result.batches_per_s, "batches/s", ref_bps, "1 replica")
        ref_sps = ref_bps * SAMPLES_PER_BATCH if ref_bps else None
        table.add(f"{n}: samples/s applied", result.batches_per_s * SAMPLES_PER_BATCH, "samples/s", ref_sps,
                  "1 replica")  # fmt: skip
        table.add(f"{n}: server CPU per batch", result.per_batch_us(result.cpu_servers), "CPU µs")
        table.add(f"{n}: PostgreSQL CPU per batch", result.per_batch_us(result.cpu_postgres), "CPU µs")
        table.add(f"{n}: mosquitto CPU per batch", result.per_batch_us(result.cpu_broker), "CPU µs")
        table.add(f"{n}: batches per CPU second, server + PostgreSQL", result.batches_per_cpu_s, "batches")
    return table

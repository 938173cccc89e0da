"""Ingest lag during a sign-in storm (docs/reliability.md, case H6): a real server on SQLite (uvicorn,
ingestion from mosquitto, argon2 at its production cost) applies one batch at a time while six threads post
password sign-ins with random usernames. Figure: how long a published batch takes to be applied (median,
p95, max), quiet and during the storm. Sign-ins verify their password outside any transaction, so the storm
costs ingestion CPU (two cores shared), not the SQLite write lock. The per-address sign-in rate is raised
here so the storm really hashes (from one address it would mostly get 429s, which cost nothing).
"""

import random
import shutil
import statistics
import string
import tempfile
import threading
import time
import uuid
from pathlib import Path

import httpx
import paho.mqtt.client as paho
import uvicorn
from paho.mqtt.enums import CallbackAPIVersion
from sqlmodel import Session

from bench.bench_ingest import ROLES, tick_samples
from bench.factory import tagged_machines
from bench.table import Table
from server.cli import uvicorn_config
from server.core.db import init_db, make_engine
from server.core.services import services_of
from server.core.settings import Settings
from server.domain import edges
from server.main import create_app
from shared.messages import DataBatch, encode
from takt.broker import BrokerProcess, free_port

MACHINES = 5
BATCHES = 40  # per phase
STORM_THREADS = 6
T0 = int(time.time() * 1000)  # sample times near the server clock (no skew flags)


def _storm(base: str, stop: threading.Event, count: list[int]) -> None:
    with httpx.Client(base_url=base, timeout=30) as http:
        while not stop.is_set():
            name = "".join(random.choices(string.ascii_lowercase, k=12))
            http.post("/api/v1/auth/token", json={"username": name, "password": "not-the-password"})
            count[0] += 1


def _lags(pub: paho.Client, app: object, first_seq: int) -> list[float]:
    """Seconds from publishing each batch to its application, one batch at a time."""
    metrics = services_of(app).ingestor.metrics  # type: ignore[arg-type,union-attr]
    lags = []
    for seq in range(first_seq, first_seq + BATCHES):
        samples = [s for m in range(MACHINES) for s in tick_samples(f"m{m}", T0 + seq * 100, seq)]
        applied = metrics.snapshot()["batches_applied"]
        start = time.perf_counter()
        pub.publish(
            "takt/v1/bench/storm-edge/data",
            encode(DataBatch(edge_id="storm-edge", seq=seq, sent_ms=T0, samples=samples)),
            qos=1,
        )
        deadline = time.monotonic() + 60
        while metrics.snapshot()["batches_applied"] <= applied:
            if time.monotonic() > deadline:
                raise TimeoutError(f"batch {seq} not applied within 60 s")
            time.sleep(0.005)
        lags.append(time.perf_counter() - start)
    return lags


def run() -> Table:
    table = Table("sign-in storm: ingest lag per batch on SQLite (6 threads of wrong-password sign-ins)")
    workdir = Path(tempfile.mkdtemp(prefix="takt-bench-storm-"))
    try:
        url = f"sqlite:///{workdir / 'takt.db'}"
        engine = make_engine(url)
        init_db(engine)
        tagged_machines(engine, "bench", MACHINES, ROLES, edge_of=lambda _m: "storm-edge")
        with Session(engine) as session:
            edges.register(session, "storm-edge", "bench", "bench", T0)
            session.commit()
        engine.dispose()
        with BrokerProcess(workdir / "broker", port=free_port()) as broker:
            settings = Settings(
                database_url=url, mqtt_port=broker.port, mqtt_client_id=f"storm-{uuid.uuid4().hex[:6]}",
                site="bench", secret_key="bench-secret-key-0123456789abcdef", signin_rate_burst=1_000_000,  # type: ignore[arg-type]
                signin_rate_per_minute=1_000_000, _env_file=None,  # type: ignore[call-arg]
            )  # fmt: skip
            app = create_app(settings)
            port = free_port()
            server = uvicorn.Server(uvicorn_config(app, settings, "127.0.0.1", port, "warning"))
            thread = threading.Thread(target=server.run, daemon=True)
            thread.start()
            while not server.started:
                time.sleep(0.02)
            pub = paho.Client(CallbackAPIVersion.VERSION2, client_id="storm-edge")
            pub.connect("127.0.0.1", broker.port)
            pub.loop_start()
            try:
                services_of(app).ingestor.link.connected.wait(10)  # type: ignore[union-attr]
                quiet = _lags(pub, app, 1)
                stop, count = threading.Event(), [0]
                storm = [threading.Thread(target=_storm, args=(f"http://127.0.0.1:{port}", stop, count))
                         for _ in range(STORM_THREADS)]  # fmt: skip
                for t in storm:
                    t.start()
                started = time.perf_counter()
                stormy = _lags(pub, app, 1 + BATCHES)
                rate = count[0] / (time.perf_counter() - started)
                stop.set()
                for t in storm:
                    t.join(timeout=60)
            finally:
                pub.loop_stop()
                pub.disconnect()
                server.should_exit = True
                thread.join(timeout=20)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    for name, lags in (("quiet", quiet), ("storm", stormy)):
        ordered = sorted(lags)
        table.add(f"{name}: median lag", statistics.median(lags) * 1000, "ms")
        table.add(f"{name}: p95 lag", ordered[int(len(ordered) * 0.95) - 1] * 1000, "ms")
        table.add(f"{name}: max lag", ordered[-1] * 1000, "ms")
    table.add("storm: sign-ins answered", rate, "/s")
    return table

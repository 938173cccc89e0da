"""Server API latency: the work-order progress endpoint on SQLite with a realistic factory
(200 orders x 5 operations, 20,000 work reports), uvicorn in a thread, httpx over loopback; the same
on PostgreSQL (127.0.0.1:5432) as a reference when it is there. Also idempotent work-report POSTs."""

import random
import secrets
import socket
import statistics
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import psycopg
import uvicorn
from sqlalchemy import Engine, insert
from sqlmodel import Session

from bench.factory import line_of_machines, product_with_steps
from bench.table import Table
from server.core.db import init_db, make_engine
from server.core.settings import Settings
from server.domain.security import token_hash
from server.main import create_app
from server.models.auth import ApiToken, User
from server.models.plant import Machine
from server.models.production import Operation, OperationRun, WorkOrder, WorkReport
from server.models.types import now_ms

ORDERS, STEPS, REPORTS, REQUESTS = 200, 5, 20_000, 300
TOKEN = "bench-admin-token-0123456789abcdef"
PG_ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"


def _seed(engine: Engine) -> None:
    rng, now = random.Random(7), now_ms()
    with Session(engine) as s:
        machines = line_of_machines(s, "Bench", STEPS)
        product = product_with_steps(s, range(1, STEPS + 1))
        user = User(username="op", display_name="Op", role="operator")
        s.add(user)
        s.flush()
        s.add(ApiToken(user_id=user.id or 0, token_hash=token_hash("bench-operator"), kind="api"))
        orders = [_order(n, product.id or 0) for n in range(ORDERS)]
        s.add_all(orders)
        s.flush()
        ops = [_operation(o, i, machines[i], now, rng) for o in orders for i in range(STEPS)]
        s.add_all(ops)
        s.flush()
        runs = [
            {"operation_id": op.id, "machine_id": op.machine_id, "start_ms": now - 7_200_000} for op in ops
        ]
        s.execute(insert(OperationRun), runs)
        reports = []
        for _ in range(REPORTS):
            op = rng.choice(ops)
            op.good += 1
            reports.append({"work_order_id": op.work_order_id, "operation_id": op.id, "good": 1, "scrap": 0,
                            "source": "manual", "ts_ms": now - rng.randint(0, 7_200_000)})  # fmt: skip
        s.execute(insert(WorkReport), reports)
        s.commit()


def _order(n: int, product_id: int) -> WorkOrder:
    source = "manual" if n % 2 else "machine"
    return WorkOrder(number=f"WO-{n:04d}", product_id=product_id, quantity=5000, status="in_progress",
                     count_source=source)  # fmt: skip


def _operation(order: WorkOrder, i: int, machine: Machine, now: int, rng: random.Random) -> Operation:
    return Operation(
        work_order_id=order.id or 0, step_no=i + 1, name=f"step {i + 1}", planned_qty=5000,
        machine_id=machine.id, status="running", started_ms=now - 7_200_000,
        machine_good=rng.randint(0, 3000),
    )  # fmt: skip


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _serve(engine: Engine, settings: Settings) -> tuple[uvicorn.Server, threading.Thread, int]:
    port = _free_port()
    config = uvicorn.Config(
        create_app(settings, engine=engine), host="127.0.0.1", port=port, log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="bench-uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    return server, thread, port


def _latencies(client: httpx.Client, paths: list[str]) -> list[float]:
    out = []
    for path in paths:
        start = time.perf_counter()
        response = client.get(path)
        out.append((time.perf_counter() - start) * 1000)
        response.raise_for_status()
    return out


def _pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1]


def _post_latencies(client: httpx.Client, count: int) -> list[float]:
    """Work reports with an Idempotency-Key each, on running operations (the tablet's hot path)."""
    out = []
    for n in range(count):
        body = {"good": 1, "step_no": 1 + n % STEPS}
        headers = {"Idempotency-Key": f"bench-{n}"}
        start = time.perf_counter()
        response = client.post(f"/api/v1/work-orders/WO-{n % ORDERS:04d}/reports", json=body, headers=headers)
        out.append((time.perf_counter() - start) * 1000)
        response.raise_for_status()
    return out


def _measure(url: str) -> dict[str, list[float]]:
    settings = Settings(database_url=url, admin_token=TOKEN, secret_key="bench-secret-0123456789abcdef",  # type: ignore[arg-type]
                        mqtt_enabled=False, _env_file=None)  # type: ignore[call-arg]  # fmt: skip
    engine = make_engine(url)
    init_db(engine)
    _seed(engine)
    server, thread, port = _serve(engine, settings)
    rng = random.Random(11)
    try:
        with httpx.Client(
            base_url=f"http://127.0.0.1:{port}", headers={"Authorization": "Bearer bench-operator"}
        ) as c:
            _latencies(c, ["/api/v1/work-orders/WO-0000/progress"] * 20)  # warm up
            progress = [
                f"/api/v1/work-orders/WO-{rng.randrange(ORDERS):04d}/progress" for _ in range(REQUESTS)
            ]
            listing = [
                f"/api/v1/work-orders?limit=50&offset={rng.randrange(150)}" for _ in range(REQUESTS // 4)
            ]
            return {"progress": _latencies(c, progress), "list": _latencies(c, listing),
                    "report": _post_latencies(c, REQUESTS // 4)}  # fmt: skip
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        engine.dispose()


@contextmanager
def _postgres() -> Iterator[str | None]:
    """A scratch PostgreSQL database on 127.0.0.1:5432, or None when there is no server."""
    name = f"takt_bench_{secrets.token_hex(4)}"
    try:
        with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')  # generated name, not input
    except psycopg.Error:
        yield None
        return
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run() -> Table:
    with tempfile.TemporaryDirectory() as tmp:
        lite = _measure(f"sqlite:///{Path(tmp) / 'bench.db'}")
    with _postgres() as pg_url:
        pg = _measure(pg_url) if pg_url else None
    table = Table(
        f"server API: {ORDERS} orders x {STEPS} ops, {REPORTS:,} reports, uvicorn thread + httpx, 1 client"
    )
    p50 = statistics.median(lite["progress"])
    table.add("progress p50, SQLite", p50, "ms")
    table.add("progress p95, SQLite", _pct(lite["progress"], 95), "ms")
    table.add("progress throughput, SQLite", 1000 * len(lite["progress"]) / sum(lite["progress"]), "req/s")
    table.add("work-order list (50) p50, SQLite", statistics.median(lite["list"]), "ms")
    table.add("work report POST p50, SQLite", statistics.median(lite["report"]), "ms")
    table.add("work report POST p95, SQLite", _pct(lite["report"], 95), "ms")
    if pg is not None:
        table.add("progress p50, PostgreSQL", statistics.median(pg["progress"]), "ms", p50, "SQLite")
        table.add("progress p95, PostgreSQL", _pct(pg["progress"], 95), "ms")
        table.add("work report POST p50, PostgreSQL", statistics.median(pg["report"]), "ms",
                  statistics.median(lite["report"]), "SQLite")  # fmt: skip
    return table


if __name__ == "__main__":
    print(run().render())

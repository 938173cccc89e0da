"""Pages: the customer share page (p50/p95 latency and requests/s at 50 concurrent clients, against uvicorn
in a subprocess on SQLite) and the boss page's first-load transfer (HTML + CSS + JS, no images).
Targets: share p95 <= 50 ms and >= 500 req/s; boss first load <= 200 kB."""

import asyncio
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from sqlmodel import Session

from bench.factory import line_of_machines, product_with_steps
from bench.table import Table
from server.core.db import init_db, make_engine
from server.domain import sharelinks
from server.domain.security import token_hash
from server.models.auth import ApiToken, User
from server.models.production import Operation, WorkOrder, WorkReport
from server.models.types import now_ms

CLIENTS, REQUESTS, ORDERS = 50, 3000, 50
SESSION = "bench-boss-session-token-0123456789"


def _seed(url: str) -> str:
    """A small factory with `ORDERS` running orders; returns one order's share token."""
    engine = make_engine(url)
    init_db(engine)
    now = now_ms()
    with Session(engine) as s:
        machines = line_of_machines(s, "Dongguan Precision", 6)
        product = product_with_steps(s, (10, 20, 30))
        boss = User(username="boss", display_name="Boss", role="supervisor")
        s.add(boss)
        s.flush()
        s.add(ApiToken(user_id=boss.id or 0, token_hash=token_hash(SESSION), kind="api"))
        orders = [
            WorkOrder(number=f"WO-{n:03d}", product_id=product.id or 0, quantity=5000, status="in_progress")
            for n in range(ORDERS)
        ]
        s.add_all(orders)
        s.flush()
        for n, order in enumerate(orders):
            for i, step in enumerate((10, 20, 30)):
                op = Operation(
                    work_order_id=order.id or 0, step_no=step, name=f"step {step}", planned_qty=5000,
                    machine_id=machines[(n + i) % 6].id, status="running", started_ms=now - 3_600_000,
                    machine_good=1000 - 100 * i, good=900 - 100 * i,
                )  # fmt: skip
                s.add(op)
                s.flush()
                s.add(WorkReport(work_order_id=order.id or 0, operation_id=op.id or 0, good=900 - 100 * i,
                                 ts_ms=now - 1_000_000))  # fmt: skip
        s.commit()
        token = sharelinks.create(s, "bench", orders[0], 30).token
    engine.dispose()
    return token


def _start(url: str, port: int, tmp: Path) -> subprocess.Popen[bytes]:
    env = os.environ | {
        "TAKT_DATABASE_URL": url, "TAKT_SECRET_KEY": "bench-secret-key-0123456789abcdef",
        "TAKT_MQTT_ENABLED": "0", "TAKT_SHARE_RATE_PER_MINUTE": "100000000",
        "TAKT_SHARE_RATE_BURST": "100000",
        "TAKT_DATA_DIR": str(tmp), "TAKT_SITE": "demo",
    }  # fmt: skip
    code = ("import uvicorn; from server.main import create_app; "
            f"uvicorn.run(create_app(), host='127.0.0.1', port={port}, log_level='warning')")  # fmt: skip
    proc = subprocess.Popen([sys.executable, "-c", code], env=env, cwd=tmp)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("uvicorn did not start within 30 s")


class _Conn:
    """One keep-alive HTTP/1.1 connection with a minimal GET: the load generator must cost far less than
    the server it measures (httpx costs about as much per request as the page itself)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str) -> None:
        self.reader, self.writer, self.host = reader, writer, host

    async def get(self, path: str) -> int:
        self.writer.write(f"GET {path} HTTP/1.1\r\nHost: {self.host}\r\n\r\n".encode())
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        match = re.search(rb"(?i)\r\ncontent-length: *(\d+)", head)
        await self.reader.readexactly(int(match.group(1)) if match else 0)
        return status


async def _load(port: int, path: str) -> tuple[list[float], float, int]:
    latencies: list[float] = []
    errors = 0
    remaining = [REQUESTS]

    async def worker() -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        conn = _Conn(reader, writer, f"127.0.0.1:{port}")
        for _ in range(5):  # warm up
            await conn.get(path)
        await ready.wait()
        while remaining[0] > 0:
            remaining[0] -= 1
            start = time.perf_counter()
            try:
                status = await conn.get(path)
            except (OSError, asyncio.IncompleteReadError):
                errors += 1
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                conn = _Conn(reader, writer, conn.host)
                continue
            latencies.append((time.perf_counter() - start) * 1000)
            if status != 200:
                errors += 1
        writer.close()

    ready = asyncio.Event()
    tasks = [asyncio.create_task(worker()) for _ in range(CLIENTS)]
    await asyncio.sleep(0.5)
    began = time.perf_counter()
    ready.set()
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - began
    return latencies, len(latencies) / elapsed, errors


def _boss_first_load(base: str) -> tuple[int, int]:
    """Bytes of /boss and of the CSS and JS it references (as sent: no compression configured)."""
    with httpx.Client(base_url=base, cookies={"takt_session": SESSION}) as client:
        page = client.get("/boss")
        page.raise_for_status()
        assets = re.findall(r'(?:href|src)="(/static/[^"]+\.(?:css|js))"', page.text)
        extra = sum(len(client.get(a).content) for a in assets)
        return len(page.content), extra


def run() -> Table:
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        url = f"sqlite:///{tmp / 'bench.db'}"
        token = _seed(url)
        port = _free_port()
        proc = _start(url, port, tmp)
        try:
            base = f"http://127.0.0.1:{port}"
            latencies, rate, errors = asyncio.run(_load(port, f"/s/{token}"))
            json_latencies, json_rate, json_errors = asyncio.run(_load(port, f"/s/{token}.json"))
            html, assets = _boss_first_load(base)
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    table = Table(
        f"pages: share link at {CLIENTS} concurrent clients ({REQUESTS} requests, SQLite, 1 uvicorn process)"
    )
    table.add("share page p50", statistics.median(latencies), "ms")
    table.add("share page p95", _pct(latencies, 95), "ms", 50.0, "of target 50 ms")
    table.add("share page throughput", rate, "req/s", 500.0, "of target 500 req/s")
    table.add("share JSON p95", _pct(json_latencies, 95), "ms", 50.0, "of target 50 ms")
    table.add("share JSON throughput", json_rate, "req/s", 500.0, "of target 500 req/s")
    table.add("errors (share page + JSON)", errors + json_errors, "requests")
    table.add("boss first load, HTML", html / 1000, "kB")
    table.add("boss first load, HTML + CSS + JS", (html + assets) / 1000, "kB", 200.0, "of target 200 kB")
    return table


def _pct(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100)[q - 1]


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


if __name__ == "__main__":
    sys.stdout.write(run().render() + "\n")

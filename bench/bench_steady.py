"""Steady state at the whole factory's live rate (issue 19): 50 machines x 20 tags at 1 Hz = 1,000 samples/s,
30 station tablets and 5 boss phones connected, every part a real process on loopback.

- `takt sim`: 50 Modbus machines (units 1-50, 25 s cycle, 32-bit counters), real pymodbus server;
- one `takt edge` polls each machine's 20 tags every second and sends every value (`report: always`, so the
  rate is the plant's full 1,000 samples/s rather than what changes);
- mosquitto (`takt.broker.BrokerProcess`, the deployed configuration);
- `takt server` on SQLite (sql historian), the embedded default, or with STEADY_DATABASE=postgresql on a
  fresh PostgreSQL database (sql historian too), whose processes' CPU is added up (backends that ended
  during the window are not counted);
- clients here, doing what the pages' scripts do (server/web/static): a tablet signed in at its station
  follows `/live/events?machine=` and re-reads `state.json` on each event (at most every 0.5 s) and every
  5 s, and the operator's pay (`/api/v1/wages/me`) every 30 s; a boss follows `/live/events`, re-reads
  `/boss/fragment` on a change of state (at most every 10 s) and every 30 s. 30 stations run a work order
  each. The clients all come from 127.0.0.1, so the server's sign-in burst per address is raised (on a
  floor each tablet has its own address).

After WARMUP_S the server's CPU is read for INGEST_ONLY_S with no client connected; then the clients
connect and the CPU time (user + system, /proc/PID/stat) and RSS of each process are read over
STEADY_SECONDS (default 120). Targets: server <= 15 % of one core and RSS <= 300 MB; edge <= 10 % of one
core for 1,000 tags at 1 Hz.
"""

import asyncio
import contextlib
import html
import os
import re
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import msgspec

from bench.bench_edge import cpu_seconds
from bench.table import Table
from server.core.db import init_db, make_engine
from server.domain.edge_import import import_edge
from takt.broker import BrokerProcess
from tests.scaleout.replicas import ADMIN_TOKEN, ServerReplica
from tests.support.processes import TaktProcess
from tests.support.simulator import Simulator

MACHINES = 50
TABLETS = 30
BOSSES = 5
WARMUP_S = 30.0
INGEST_ONLY_S = 60.0  # the server's CPU before the clients connect: what ingestion alone costs
SECONDS = float(os.environ.get("STEADY_SECONDS", "120"))
DATABASE = os.environ.get("STEADY_DATABASE", "sqlite")
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
TAGS = [  # (name, table, address, type, role): 20 tags of the simulator's Modbus map (docs/contracts.md)
    ("good_count", "holding", 0, "uint32", "counter"),
    ("scrap_count", "holding", 2, "uint32", "scrap_counter"),
    ("state", "holding", 4, "uint16", "state"), ("fault_code", "holding", 5, "uint16", None),
    ("status_bits", "holding", 6, "uint16", None), ("ambient", "holding", 7, "int16", None),
    ("total_cycles", "holding", 8, "int64", None), ("program", "holding", 20, "string(32)", None),
    ("work_order", "holding", 40, "string(20)", None), ("setpoint", "holding", 50, "uint16", None),
    ("part_count", "holding", 60, "uint32", None), ("shot_count", "holding", 62, "uint32", None),
    ("plc_state", "holding", 64, "uint16", None), ("running", "coil", 0, "bool", "run"),
    ("fault", "coil", 1, "bool", "fault"), ("temperature", "input", 0, "float32", None),
    ("pressure", "input", 2, "float32", None), ("power", "input", 4, "float32", None),
    ("energy", "input", 6, "float64", None), ("ambient_raw", "holding", 7, "uint16", None),
]  # fmt: skip


def _plant(workdir: Path) -> Path:
    lines = ["machines:"] + [
        f"  - {{id: m{i}, kind: cnc, line: A, protocol: modbus, unit_id: {i + 1}, cycle_time_s: 25}}"
        for i in range(MACHINES)
    ]
    path = workdir / "plant.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def _edge_config(workdir: Path, broker: int, modbus: int) -> Path:
    tags = [{"name": n, "table": t, "address": a, "type": ty, "report": "always"} | ({"role": r} if r else {})
            for n, t, a, ty, r in TAGS]  # fmt: skip
    devices = [{"name": f"m{i}", "protocol": "modbus_tcp", "machine": f"m{i}", "host": "127.0.0.1",
                "port": modbus, "unit_id": i + 1, "poll_ms": 1000, "max_gap": 8, "tags": tags}
               for i in range(MACHINES)]  # fmt: skip
    config = {"site": "demo", "edge_id": "plant", "broker": {"port": broker},
              "buffer": {"path": str(workdir / "edge" / "outbox.db")},
              "logging": {"level": "WARNING"}, "devices": devices}  # fmt: skip
    path = workdir / "edge.yaml"
    path.write_bytes(msgspec.yaml.encode(config))
    return path


def _ok(response: httpx.Response, status: int = 200) -> Any:
    if response.status_code != status:
        raise RuntimeError(f"{response.request.url}: {response.status_code} {response.text[:300]}")
    return response.json()


Tablet = tuple[str, str, str, str, str]  # station, its machine, enrollment link (its path), badge, PIN


def _floor(base: str) -> tuple[list[Tablet], list[tuple[str, str]]]:
    """Stations with a running order, a tablet each with its operator, and boss users (user, password)."""
    with httpx.Client(base_url=base, headers=ADMIN, timeout=30) as api:
        site = _ok(api.get("/api/v1/sites"))["items"][0]
        machines = {m["code"]: m["id"] for m in _ok(api.get("/api/v1/machines?limit=500"))["items"]}
        routing = [{"step_no": 10, "name": "turn", "machine_kind": "cnc", "ideal_cycle_s": 25}]
        _ok(api.post("/api/v1/products", json={"code": "BRK", "name": "Bracket", "routing": routing}), 201)
        line = _ok(api.post("/api/v1/lines", json={"site_id": site["id"], "code": "s", "name": "S"}), 201)
        stations = []
        for i in range(TABLETS):
            code = f"st-m{i}"
            body = {"line_id": line["id"], "code": code, "name": code, "machine_id": machines[f"m{i}"]}
            _ok(api.post("/api/v1/stations", json=body), 201)
            user = {"username": f"op{i}", "display_name": f"Op {i}", "role": "operator",
                    "password": "op-pw-123456", "badge": f"B-{i}", "pin": "4321"}  # fmt: skip
            _ok(api.post("/api/v1/users", json=user), 201)
            number = f"WO-{i}"
            _ok(
                api.post("/api/v1/work-orders", json={"number": number, "product": "BRK", "quantity": 5000}),
                201,
            )
            _ok(api.post(f"/api/v1/work-orders/{number}/release"))
            _ok(api.post(f"/api/v1/work-orders/{number}/start", json={"step_no": 10, "machine": f"m{i}"}))
            tablet = _ok(api.post("/api/v1/tablets", json={"station": code, "name": code}), 201)
            link = "/station/" + tablet["enroll_url"].split("/station/", 1)[1]
            stations.append((code, f"m{i}", link, f"B-{i}", "4321"))
        bosses = []
        for i in range(BOSSES):
            user = {
                "username": f"boss{i}",
                "display_name": f"Boss {i}",
                "role": "admin",
                "password": "boss-pw-123456",
            }
            _ok(api.post("/api/v1/users", json=user), 201)
            bosses.append((f"boss{i}", "boss-pw-123456"))
        return stations, bosses


class Clients:
    """The tablets' and bosses' traffic, in one asyncio loop on a thread; `requests` counts re-reads."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.requests = 0
        self.events = 0
        self.errors = 0
        self.failed: dict[str, str] = {}  # "path status" -> the last such answer's start
        self.stop = asyncio.Event()
        self.loop = asyncio.new_event_loop()

    async def _tablet(self, station: str, machine: str, link: str, badge: str, pin: str) -> None:
        async with httpx.AsyncClient(base_url=self.base, timeout=30, headers={"Origin": self.base}) as c:
            await c.get(link)
            await c.post(f"/station/{station}/sign-in", data={"badge": badge, "pin": pin})
            page = await c.get(f"/station/{station}")  # where the sign-in redirects
            found = re.search(
                r'<script type="application/json" id="station-config">(.*?)</script>', page.text, re.S
            )
            token = msgspec.json.decode(html.unescape(found.group(1)))["token"] if found else None
            pay = asyncio.create_task(self._pay(c, token)) if token else None
            events, state = f"/live/events?machine={machine}", f"/station/{station}/state.json"
            try:
                await self._follow(c, events, state, 0.5, 5.0, lambda _kind: True)
            finally:
                if pay is not None:
                    pay.cancel()

    async def _pay(self, c: httpx.AsyncClient, token: str) -> None:
        """station-pay.js: the operator's own pieces and pay, every 30 s."""
        while not self.stop.is_set():
            await asyncio.sleep(30.0)
            answer = await c.get("/api/v1/wages/me", headers={"Authorization": f"Bearer {token}"})
            self._count(answer, "/api/v1/wages/me")

    async def _boss(self, user: str, password: str) -> None:
        async with httpx.AsyncClient(base_url=self.base, timeout=30, headers={"Origin": self.base}) as c:
            await c.post("/login", data={"username": user, "password": password})
            await c.get("/boss")
            await self._follow(c, "/live/events", "/boss/fragment", 10.0, 30.0, lambda kind: kind != "counts")

    async def _follow(self, c: httpx.AsyncClient, url: str, reread: str, every: float, refresh: float,
                      wanted: Any) -> None:  # fmt: skip
        due = asyncio.Event()

        async def rereads() -> None:
            last = 0.0
            while not self.stop.is_set():
                with contextlib.suppress(TimeoutError):  # a change, or the page's refresh timer
                    await asyncio.wait_for(due.wait(), timeout=max(0.05, last + refresh - time.monotonic()))
                await asyncio.sleep(max(0.0, last + every - time.monotonic()))
                due.clear()
                last = time.monotonic()
                self._count(await c.get(reread), reread)

        task = asyncio.create_task(rereads())
        try:
            async with c.stream("GET", url, timeout=None) as stream:
                async for line in stream.aiter_lines():
                    if self.stop.is_set():
                        break
                    if line.startswith("data:"):
                        self.events += 1
                        kind = msgspec.json.decode(line[5:]).get("kind")
                        if wanted(kind):
                            due.set()
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def _count(self, answer: httpx.Response, path: str) -> None:
        self.requests += 1
        if answer.status_code != 200:
            self.errors += 1
            self.failed[f"{path} {answer.status_code}"] = answer.text[:200]

    def start(self, tablets: list[Tablet], bosses: list[tuple[str, str]]) -> None:
        async def main() -> None:
            tasks = [asyncio.create_task(self._tablet(*tablet)) for tablet in tablets]
            tasks += [asyncio.create_task(self._boss(u, p)) for u, p in bosses]
            await self.stop.wait()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        self.thread = threading.Thread(target=self.loop.run_until_complete, args=(main(),), daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.stop.set)
        self.thread.join(timeout=30)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _measure(pids: dict[str, int], seconds: float) -> dict[str, tuple[float, float]]:
    """Per process: (share of one core over `seconds`, RSS MB at the end)."""
    cpu0 = {name: cpu_seconds(pid) for name, pid in pids.items()}
    wall0 = time.monotonic()
    time.sleep(seconds)
    wall = time.monotonic() - wall0
    return {name: ((cpu_seconds(pid) - cpu0[name]) / wall, rss_mb(pid)) for name, pid in pids.items()}


def _postgres_cpu() -> float:
    """CPU seconds of every running PostgreSQL process (the box runs no other database traffic)."""
    total = 0.0
    for proc in Path("/proc").iterdir():
        with contextlib.suppress(OSError):
            if proc.name.isdigit() and (proc / "comm").read_text().strip() == "postgres":
                total += cpu_seconds(int(proc.name))
    return total


def run() -> Table:
    table = Table(f"steady state: {MACHINES} machines x 20 tags at 1 Hz, {TABLETS} tablets, {BOSSES} bosses "
                  f"({SECONDS:.0f} s after {WARMUP_S:.0f} s warm-up), {DATABASE}")  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="takt-bench-steady-") as tmp, contextlib.ExitStack() as database:
        work = Path(tmp)
        (work / "sim").mkdir()
        (work / "mqtt").mkdir()
        sim = Simulator(work / "sim", config=_plant(work), extra=["--scenario", "none"])
        broker = BrokerProcess(work / "mqtt", port=0)
        sim.start()
        broker.start()
        if DATABASE == "postgresql":
            from tests.support.postgres import fresh_database

            url = database.enter_context(fresh_database())
        else:
            url = f"sqlite:///{work / 'takt.db'}"
        edge_yaml = _edge_config(work, broker.port, sim.modbus_port)
        engine = make_engine(url)
        init_db(engine)
        import_edge(engine, edge_yaml)
        engine.dispose()
        env = {"TAKT_MQTT_SHARED": "false", "TAKT_SIGNIN_RATE_BURST": "1000"}
        server = ServerReplica("server", work, url, broker.port, env)
        edge = TaktProcess(["edge", "--config", str(edge_yaml)], work / "edge.log")
        clients = Clients(f"http://127.0.0.1:{server.port}")
        try:
            server.start()
            server.wait_ready()
            stations, bosses = _floor(clients.base)
            edge.start()
            time.sleep(WARMUP_S)
            pids = {"server": _pid(server.process), "edge": _pid(edge), "mosquitto": broker.proc.pid,  # type: ignore[union-attr]
                    "simulator": _pid(sim.process)}  # fmt: skip
            alone = _measure(pids, INGEST_ONLY_S)["server"][0]
            clients.start(stations, bosses)
            time.sleep(WARMUP_S / 2)
            applied0, requests0, events0 = server.stats()["samples_applied"], clients.requests, clients.events
            t0, pg0 = time.monotonic(), _postgres_cpu()
            usage = _measure(pids, SECONDS)
            wall = time.monotonic() - t0
            postgres = (_postgres_cpu() - pg0) / wall
            rate = (server.stats()["samples_applied"] - applied0) / wall
        finally:
            clients.close()
            edge.stop()
            server.stop()
            broker.stop()
            sim.stop()
    table.add("samples applied by the server", rate, "samples/s", 1000.0, "of the plant's 1,000/s")
    table.add("server: CPU before the clients connect (ingestion alone)", alone * 100, "%")
    table.add("tablet and boss re-reads", (clients.requests - requests0) / wall, "req/s")
    table.add("live events delivered to the clients", (clients.events - events0) / wall, "events/s")
    table.add("client requests that failed", clients.errors, "")
    for what, answer in sorted(clients.failed.items()):
        print(f"bench_steady: failed {what}: {answer}")
    targets = {"server": (0.15, 300.0), "edge": (0.10, None)}
    for name, (cpu, rss) in usage.items():
        cpu_target, rss_target = targets.get(name, (None, None))
        note = f"of the {cpu_target:.0%} target" if cpu_target else ""
        table.add(
            f"{name}: CPU, share of one core", cpu * 100, "%", cpu_target * 100 if cpu_target else None, note
        )
        table.add(f"{name}: RSS", rss, "MB", rss_target, "of the 300 MB target" if rss_target else "")
    if DATABASE == "postgresql":
        table.add("postgresql (all its processes): CPU, share of one core", postgres * 100, "%")
    return table


def _pid(process: TaktProcess) -> int:
    if process.proc is None:
        raise RuntimeError(f"{process.args} is not running")
    return process.proc.pid

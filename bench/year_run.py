"""A year of a factory (issue 19), `make bench-year` (minutes, so not in `make bench`).

For a day and for a year of the 50-machine plant (bench/year.py) on SQLite and PostgreSQL (sql historian):
disk per table and per day, p50/p95 of the pages (in process, FastAPI TestClient like bench_reports), the
ingest rate end to end (bench_ingest's method) into an empty database and into the year, and the hourly
retention job (its time for an hour of raw points and the longest historian write while it runs).
Pages are compared with the same pages on a database of one day (of 31 days for the month pages).
Sizes: YEAR_DAYS (365) and YEAR_MACHINES (50) in the environment shrink a run.
"""

import os
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from bench import bench_ingest
from bench.table import Table
from bench.year import BOSS_TOKEN, DAY_MS, Plan, Written, generate, live_feed
from server.core.db import init_db, make_engine
from server.core.settings import Settings
from server.historian.sql import SqlHistorian
from server.main import create_app

P95_MS = 200.0
DISK_DAY_MB = 100.0
VM_MINUTES = int(os.environ.get("YEAR_VM_MINUTES", "60"))  # minutes of the feed written to VictoriaMetrics
RAW_PER_DAY = 86_400  # seconds of feed a day
# pages over a month (a pay period): with one day of data they read one day, so their growth is measured
# against a database of a month, the most they ever read
MONTH_PAGES = frozenset({"month OEE", "wage sheet"})
MONTH_DAYS = 31
# what a page with real content shows (bench/year_business.py's operators, lots and patrol checks)
MUST_SHOW = {"wage sheet": "Operator 00", "lot trace (5 orders back)": "RAW-",
             "lot trace API, backward": "WO-", "SPC chart API": "xbar_r"}  # fmt: skip


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p * (len(ordered) - 1)))]


def _pages(plan: Plan, written: Written) -> dict[str, str]:
    last = plan.last.isoformat()
    month = (plan.last - timedelta(days=29)).isoformat()
    end = int(time.time() * 1000)
    return {
        "boss page": "/boss",
        "machine page": "/boss/machines/m00?hours=8",
        "machine 30-day trend": f"/api/v1/machines/m00/series?tag=a00&start={end - 30 * DAY_MS}&end={end}"
        "&step=3600000",
        "daily report": f"/reports/daily?day={last}",
        "month OEE": f"/reports/oee?start={month}&end={last}",
        "share page": f"/s/{written.share_token}",
        "wage sheet": f"/wages?day={last}",
        "lot trace (5 orders back)": f"/lots/FG-{plan.last:%y%m%d}-{plan.orders_per_day - 1:02d}",
        "lot trace API, backward": f"/api/v1/lots/FG-{plan.last:%y%m%d}-{plan.orders_per_day - 1:02d}/trace"
        "?direction=backward",
        "raw lot trace API, forward": f"/api/v1/lots/RAW-{plan.last:%y%m%d}-0/trace?direction=forward",
        "SPC chart (patrol, X-bar/R)": f"/reports/spc/{written.patrol_characteristic}",
        "SPC chart API": f"/api/v1/reports/spc/{written.patrol_characteristic}",
    }


def _latencies(engine: Engine, url: str, pages: dict[str, str], repeat: int = 15) -> dict[str, list[float]]:
    settings = Settings(
        database_url=url, admin_token=BOSS_TOKEN, secret_key="bench-secret-key-0123456789abcdef",  # type: ignore[arg-type]
        mqtt_enabled=False, site="demo", share_rate_per_minute=100_000, share_rate_burst=100_000,
        _env_file=None,  # type: ignore[call-arg]
    )  # fmt: skip
    out: dict[str, list[float]] = {}
    with TestClient(create_app(settings, engine=engine)) as client:
        client.cookies.set("takt_session", BOSS_TOKEN)
        client.headers["Authorization"] = f"Bearer {BOSS_TOKEN}"
        for name, path in pages.items():
            first = client.get(path)
            if first.status_code != 200:
                raise RuntimeError(f"{name}: {path} answered {first.status_code}")
            if name in MUST_SHOW and MUST_SHOW[name] not in first.text:
                raise RuntimeError(f"{name}: {path} does not show {MUST_SHOW[name]!r}")
            times = []
            for _ in range(repeat):
                t0 = time.perf_counter()
                client.get(path)
                times.append((time.perf_counter() - t0) * 1000)
            out[name] = times
    return out


def _table_bytes(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            rows = conn.execute(text("SELECT m.tbl_name, SUM(d.pgsize) FROM dbstat d JOIN sqlite_schema m "
                                     "ON m.name = d.name GROUP BY m.tbl_name")).all()  # fmt: skip
        else:
            rows = conn.execute(
                text("SELECT relname, pg_total_relation_size(relid) FROM pg_stat_user_tables")
            ).all()
    return {str(n): int(b) for n, b in rows}


def _rows(engine: Engine, table: str, where: str = "") -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(f"SELECT COUNT(*) FROM {table} {where}")).scalar_one())


def _disk(engine: Engine, plan: Plan, written: Written) -> dict[str, float]:
    """MB per day of the feed's raw points and rollups (scaled from `raw_minutes`) and of business rows."""
    sizes = _table_bytes(engine)
    raw_rows, roll_rows = _rows(engine, "historian_point"), _rows(engine, "historian_rollup")
    end = written.feed_end_ms
    feed_rollups = _rows(engine, "historian_rollup", f"WHERE bucket_ms >= {end - plan.raw_minutes * 60_000}")
    per_raw = sizes.get("historian_point", 0) / raw_rows
    per_roll = sizes.get("historian_rollup", 0) / roll_rows
    scale = RAW_PER_DAY / (plan.raw_minutes * 60)
    business = sum(v for k, v in sizes.items() if not k.startswith("historian_"))
    mb = 1e6
    return {
        "raw B/row": per_raw, "rollup B/row": per_roll,
        "raw rows/day": written.raw_points * scale, "rollup rows/day": feed_rollups * scale,
        "raw MB/day": written.raw_points * scale * per_raw / mb,
        "rollup MB/day": feed_rollups * scale * per_roll / mb,
        "business MB/day": business / plan.days / mb, "business MB": business / mb,
        "database MB": sum(sizes.values()) / mb,
    }  # fmt: skip


def _retention(engine: Engine, plan: Plan, written: Written) -> tuple[float, int, float]:
    """(s, rows deleted, longest concurrent write in s): retention deletes the feed's older half while a
    thread writes a second of the plant's feed every 0.2 s, like ingestion."""
    hist = SqlHistorian(engine)
    hist.retention_ms = plan.raw_minutes * 30_000  # keep the newer half of the feed
    hist.rollup_ms = 3650 * DAY_MS
    writer = SqlHistorian(engine)
    batch = live_feed(
        plan, [f"m{i:02d}" for i in range(plan.machines)], written.feed_end_ms + 3_600_000, 1, seed=2
    )
    stop, worst = threading.Event(), [0.0]

    def ingest() -> None:
        shift = 0
        while not stop.is_set():
            shift += 1000
            t0 = time.perf_counter()
            writer.write([p._replace(ts_ms=p.ts_ms + shift) for p in batch])
            worst[0] = max(worst[0], time.perf_counter() - t0)
            time.sleep(0.2)

    thread = threading.Thread(target=ingest)
    thread.start()
    time.sleep(0.5)
    worst[0] = 0.0
    t0 = time.perf_counter()
    deleted = hist.apply_retention(written.feed_end_ms + 3_600_000)
    took = time.perf_counter() - t0
    time.sleep(0.3)
    stop.set()
    thread.join()
    return took, deleted, worst[0]


def _database(kind: str, work: Path) -> Callable[[str], tuple[str, Callable[[], None]]]:
    """A factory of fresh databases: name -> (url, drop)."""

    def sqlite(name: str) -> tuple[str, Callable[[], None]]:
        return f"sqlite:///{work / (name + '.db')}", lambda: None

    def postgres(name: str) -> tuple[str, Callable[[], None]]:
        from tests.support.postgres import fresh_database

        ctx = fresh_database()
        url = ctx.__enter__()

        def drop() -> None:
            ctx.__exit__(None, None, None)

        return url, drop

    return sqlite if kind == "sqlite" else postgres


def _measure(
    kind: str, work: Path, plan: Plan, table: Table, pages_only: bool = False
) -> dict[str, list[float]]:
    url, drop = _database(kind, work)(f"{kind}-{plan.days}")
    try:
        engine = make_engine(url)
        init_db(engine)
        t0 = time.perf_counter()
        written = generate(engine, plan)
        label = f"{kind}, {plan.days} d"
        table.add(f"{label}: generation", time.perf_counter() - t0, "s")
        table.add(f"{label}: count ledger rows", written.rows["ingest_count_event"], "rows")
        t0 = time.perf_counter()
        SqlHistorian(engine).apply_retention(
            int(time.time() * 1000)
        )  # ingestion runs it a minute after start
        table.add(f"{label}: first retention job (+ statistics)", time.perf_counter() - t0, "s")
        if kind == "postgresql":  # autovacuum analyzes a table grown a day at a time; a bulk year outruns it
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("ANALYZE")
        pages = _latencies(engine, url, _pages(plan, written))
        if plan.days > 1 and not pages_only:
            disk = _disk(engine, plan, written)
            for name, value in disk.items():
                table.add(f"{label}: {name}", value, "")
            grow = disk["rollup MB/day"] + disk["business MB/day"]
            table.add(f"{label}: growth/day past the raw window", grow, "MB", DISK_DAY_MB, "of target 100 MB")
            keep = Settings(_env_file=None)  # type: ignore[call-arg]
            rollup_days = min(365, keep.rollup_days)
            year = (disk["raw MB/day"] * keep.retention_days + disk["rollup MB/day"] * rollup_days
                    + disk["business MB/day"] * 365)  # fmt: skip
            table.add(f"{label}: total after 365 d, default retention", year / 1000, "GB")
            table.add(
                f"{label}: per day of operation over 365 d", year / 365, "MB", DISK_DAY_MB, "of target 100 MB"
            )
            took, deleted, worst = _retention(engine, plan, written)
            table.add(f"{label}: retention job, rows deleted", deleted, "rows")
            table.add(f"{label}: retention job", took, "s")
            table.add(f"{label}: retention rate", deleted / took, "rows/s")
            table.add(f"{label}: longest 1-s feed write during retention", worst * 1000, "ms")
            if kind == "postgresql" and VM_MINUTES:
                for values, per_point in _victoria_disk(work, plan, written.feed_end_ms).items():
                    vm_day = per_point * disk["raw rows/day"] / 1e6
                    table.add(f"{label} + VictoriaMetrics ({values}): B/raw point", per_point, "B")
                    table.add(f"{label} + VictoriaMetrics ({values}): raw MB/day", vm_day, "MB")
                    grow = vm_day + disk["business MB/day"]
                    table.add(f"{label} + VictoriaMetrics ({values}): growth/day (raw + business rows)",
                              grow, "MB", DISK_DAY_MB, "of target 100 MB")  # fmt: skip
            empty_url, drop_empty = _database(kind, work)(f"{kind}-empty")
            try:
                empty = _ingest_rate(empty_url, work / f"{kind}-e")
            finally:
                drop_empty()
            table.add(f"{kind}: ingest into an empty database", empty, "samples/s")
            year = _ingest_rate(url, work / f"{kind}-y")
            table.add(
                f"{label}: ingest with the data present",
                year,
                "samples/s",
                empty,
                "of empty (target >= 0.8x)",
            )
        engine.dispose()
        return pages
    finally:
        drop()


def _victoria_disk(work: Path, plan: Plan, end_ms: int) -> dict[str, float]:
    """Bytes per raw point in VictoriaMetrics (the historian for PostgreSQL sites) for `VM_MINUTES` of
    the plant's feed, as the edges send it (noisy floats at full precision) and at a PLC's 0.1 resolution:
    the data folder's size (index and all) over the points written, once every point is searchable, its
    in-memory parts are on disk (flushed every 5 s) and a forced merge has finished."""
    from server.historian.victoria import VictoriaHistorian
    from tests.server.ingest.vmproc import victoria_metrics

    feed = live_feed(plan, [f"m{i:02d}" for i in range(plan.machines)], end_ms, VM_MINUTES * 60, seed=3)
    out: dict[str, float] = {}
    for label, digits in (("noisy floats", None), ("0.1 resolution", 1)):
        folder = work / f"vm-{digits}"
        with victoria_metrics(folder) as url:
            hist = VictoriaHistorian(url)
            points = feed if digits is None else [p._replace(value=round(p.value, digits)) for p in feed]
            for i in range(0, len(points), 50_000):
                hist.write(points[i : i + 50_000])
            window = int(time.time() - end_ms / 1000) + VM_MINUTES * 60 + 3600
            count = {"query": f'sum(count_over_time({{__name__="takt_value"}}[{window}s]))', "nocache": "1"}
            while True:  # VictoriaMetrics takes writes in asynchronously
                result = hist.http.get("/api/v1/query", params=count).json()["data"]["result"]
                if result and int(result[0]["value"][1]) == len(points):
                    break
                time.sleep(1)
            time.sleep(6)
            month = time.strftime("%Y_%m", time.gmtime(end_ms / 1000))
            hist.http.get("/internal/force_merge", params={"partition_prefix": month}, timeout=600)
            out[label] = _settled_bytes(folder / "data") / len(points)
            hist.close()
    return out


def _settled_bytes(folder: Path) -> int:
    """The size of `folder` once it has not changed for 6 s (background flushes and merges done)."""
    size, stable = -1, 0
    while stable < 6:
        time.sleep(1)
        now = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
        stable, size = (stable + 1, size) if now == size else (0, now)
    return size


def _ingest_rate(url: str, work: Path) -> float:
    """bench_ingest's end to end (mosquitto, Ingestor, 300 batches of 1000 samples) into `url`."""
    work.mkdir(exist_ok=True)
    return bench_ingest._end_to_end(work, url)[0]


def run() -> Table:
    days = int(os.environ.get("YEAR_DAYS", "365"))
    machines = int(os.environ.get("YEAR_MACHINES", "50"))
    kinds = os.environ.get("YEAR_DATABASES", "sqlite,postgresql").split(",")
    table = Table(f"a year of a factory: {machines} machines x 20 tags, {days} days (sql historian)")
    with tempfile.TemporaryDirectory() as name:
        work = Path(name)
        for kind in kinds:
            day = _measure(kind, work, Plan(machines=machines, days=1), table)
            month = _measure(kind, work, Plan(machines=machines, days=MONTH_DAYS), table, pages_only=True)
            year = _measure(kind, work, Plan(machines=machines, days=days), table)
            for page, times in year.items():
                p95 = _pct(times, 0.95)
                table.add(f"{kind}: {page} p50 ({days} d)", statistics.median(times), "ms")
                table.add(f"{kind}: {page} p95 ({days} d)", p95, "ms", P95_MS, "of target 200 ms")
                base, base_days = (month, MONTH_DAYS) if page in MONTH_PAGES else (day, 1)
                p95_base = _pct(base[page], 0.95)
                table.add(f"{kind}: {page} p95, {days} d vs {base_days} d", p95, "ms", p95_base * 1.5,
                          f"of 1.5x the {base_days}-day p95")  # fmt: skip
    return table


if __name__ == "__main__":
    print(run().render())

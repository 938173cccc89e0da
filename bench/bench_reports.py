"""Reports: a month of OEE for 50 machines (target < 1 s) and the daily report page's latency, on SQLite.

Data: two 12-hour shifts with breaks (Asia/Shanghai), 30 days, 50 machines; a state change every ~10 min
(~230k segments) and one count event per 3 running minutes per machine (~480k ledger rows).
"""

import random
import statistics
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import insert
from sqlmodel import Session

from bench.table import Table
from server.core.db import init_db, make_engine
from server.core.settings import Settings
from server.domain import oee
from server.main import create_app
from server.models.ingest import MachineStateSegment
from server.models.plant import Machine, Site
from server.models.shifts import Shift, ShiftBreak

MACHINES = 50
DAYS = 30
FIRST = date(2026, 10, 1)
TOKEN = "bench-admin-token-0123456789abcdef"
COUNT_EVERY_MS = 180_000  # one ledger row per 3 running minutes (6 parts at a 30 s cycle)
STATES = ["running"] * 6 + ["idle", "fault", "setup", "starved"]


def _plant(session: Session) -> list[int]:
    site = Site(code="bench", name="bench", timezone="Asia/Shanghai")
    session.add(site)
    session.commit()
    for name, start, end, brk in [("day", 8, 20, (12, 13)), ("night", 20, 8, (0, 1))]:
        shift = Shift(site_id=site.id or 0, name=name, start_local=dtime(start), end_local=dtime(end),
                      days="1,2,3,4,5,6,7")  # fmt: skip
        session.add(shift)
        session.commit()
        session.add(ShiftBreak(shift_id=shift.id or 0, start_local=dtime(brk[0]), end_local=dtime(brk[1], 0)))
    machines = [Machine(site_id=site.id or 0, code=f"m{i:02d}", name=f"m{i:02d}", ideal_cycle_s=25.0)
                for i in range(MACHINES)]  # fmt: skip
    session.add_all(machines)
    session.commit()
    return [m.id or 0 for m in machines]


def _fill(session: Session, machine_ids: list[int]) -> tuple[int, int]:
    rng = random.Random(7)
    start = int(datetime.combine(FIRST - timedelta(days=1), dtime(), tzinfo=UTC).timestamp() * 1000)
    end = start + (DAYS + 2) * 86_400_000
    n_seg = n_cnt = 0
    for mid in machine_ids:
        segs, counts, t = [], [], start
        while t < end:
            length = rng.randint(60_000, 1_140_000)
            state = rng.choice(STATES)
            segs.append({"machine_id": mid, "state": state, "start_ms": t, "end_ms": t + length})
            if state == "running":
                for ts in range(t, t + length, COUNT_EVERY_MS):
                    counts.append((mid, ts, 6, int(rng.random() < 0.2)))
            t += length
        session.execute(insert(MachineStateSegment), segs)
        session.connection().exec_driver_sql(
            "INSERT INTO ingest_count_event (machine_id, ts_ms, good, scrap, kind, edge_id, seq) "
            "VALUES (?, ?, ?, ?, 'increment', 'bench', 1)",
            counts,
        )
        n_seg, n_cnt = n_seg + len(segs), n_cnt + len(counts)
    session.commit()
    return n_seg, n_cnt


def _timed(fn: object, repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()  # type: ignore[operator]
        out.append(time.perf_counter() - t0)
    return out


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p * (len(ordered) - 1)))]


def run() -> Table:
    table = Table(f"reports: OEE for {MACHINES} machines x {DAYS} days, daily report page (SQLite)")
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        engine = make_engine(url)
        init_db(engine)
        t0 = time.perf_counter()
        with Session(engine) as session:
            n_seg, n_cnt = _fill(session, _plant(session))
        table.add("data generated (segments)", n_seg, "rows")
        table.add("data generated (count events)", n_cnt, "rows")
        table.add("generation time", time.perf_counter() - t0, "s")
        last = FIRST + timedelta(days=DAYS - 1)
        with Session(engine) as session:
            site = oee.site_of(session, None)
            month = _timed(lambda: oee.oee_rows(session, site, FIRST, last), 3)
        table.add(
            f"OEE month, {MACHINES} machines x 2 shifts (best of 3)", min(month), "s", 1.0, "of 1 s target"
        )
        settings = Settings(
            database_url=url, admin_token=TOKEN, secret_key="bench-secret-key-0123456789abcdef",  # type: ignore[arg-type]
            mqtt_enabled=False, _env_file=None,  # type: ignore[call-arg]
        )  # fmt: skip
        with TestClient(create_app(settings, engine=engine)) as client:
            client.cookies.set("takt_session", TOKEN)
            day = (FIRST + timedelta(days=10)).isoformat()
            assert client.get(f"/reports/daily?day={day}").status_code == 200
            lat = _timed(lambda: client.get(f"/reports/daily?day={day}"), 20)
        table.add("daily report page p50", statistics.median(lat) * 1000, "ms")
        table.add("daily report page p95", _pct(lat, 0.95) * 1000, "ms")
        engine.dispose()
    return table


if __name__ == "__main__":
    print(run().render())

"""The monthly wage sheet: 300 operators x 26 working days x 10 work reports a day (78,000 reports), on
SQLite and PostgreSQL; target < 2 s each (the sheet as the API returns it: priced, reconciled, totalled).

Data: 30 work orders of one two-step product on 30 lathes with counter tags (the machines' counts per
operation and day, for the reconciliation); each operator works one order's step all month, signed in 8 h a
day; step 10 pays per piece (a new rate from the 15th, scrap deducted), step 20 is a team rate split by
hours; one report in five has scrap with a reason. The XLSX export is timed too (no target).
"""

import random
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, insert
from sqlmodel import Session

from bench.table import Table
from server.core.db import init_db, make_engine
from server.core.sitetime import SiteTime
from server.domain import pay_periods, wage_views, wages
from server.models.auth import User
from server.models.catalog import Product, ReasonCode
from server.models.ingest import CountEvent
from server.models.pay import PieceRate, StationSession, WageSheetPublic
from server.models.plant import Line, Machine, Site, Station, Tag
from server.models.production import Operation, WorkOrder, WorkReport
from tests.support.postgres import fresh_database

OPERATORS = 300
DAYS = 26
REPORTS_PER_DAY = 10
ORDERS = 30
TARGET_S = 2.0
FIRST = date(2026, 10, 26)  # pay periods from the 26th to the 25th: Mon 26 Oct - Wed 25 Nov, 27 working days
ZONE = "Asia/Shanghai"


def _plant(session: Session) -> tuple[list[int], list[tuple[int, int, int, int]], int]:
    """Users, (order, operation, step, machine) per operation, and the station."""
    site = Site(code="bench", name="bench", timezone=ZONE)
    session.add(site)
    session.flush()
    line = Line(site_id=site.id or 0, code="a", name="A")
    product = Product(code="BRK", name="Bracket")
    session.add_all([line, product, ReasonCode(kind="scrap", code="burr", label_zh="毛刺", label_en="burr")])
    session.flush()
    machines = [
        Machine(site_id=site.id or 0, line_id=line.id, code=f"m{i}", name=f"m{i}") for i in range(ORDERS)
    ]
    session.add_all(machines)
    session.flush()
    session.add_all([Tag(machine_id=m.id or 0, name="good", role="counter", width=32) for m in machines])
    station = Station(line_id=line.id or 0, code="st", name="st", machine_id=machines[0].id)
    users = [
        User(username=f"op{i:03d}", display_name=f"Operator {i}", role="operator") for i in range(OPERATORS)
    ]
    session.add_all([station, *users])
    session.flush()
    ops: list[tuple[int, int, int, int]] = []
    for n, machine in enumerate(machines):
        order = WorkOrder(
            number=f"WO-{n}",
            quantity=10**7,
            product_id=product.id or 0,
            status="in_progress",
            count_source="manual",
        )
        session.add(order)
        session.flush()
        for step in (10, 20):
            op = Operation(
                work_order_id=order.id or 0,
                step_no=step,
                name=f"step {step}",
                planned_qty=10**7,
                machine_id=machine.id,
                status="running",
            )
            session.add(op)
            session.flush()
            ops.append((order.id or 0, op.id or 0, step, machine.id or 0))
    for start, rate in ((FIRST - timedelta(days=40), 5000), (FIRST + timedelta(days=14), 5500)):
        session.add(
            PieceRate(
                product_id=product.id or 0,
                step_no=10,
                effective_from=start,
                rate_e4=rate,
                scrap_rule="deduct",
            )
        )
    session.add(
        PieceRate(product_id=product.id or 0, step_no=20, effective_from=FIRST, rate_e4=1000, team=True)
    )
    session.commit()
    return [u.id or 0 for u in users], ops, station.id or 0


def _fill(session: Session, local: SiteTime) -> int:
    users, ops, station = _plant(session)
    rng = random.Random(15)
    days = [d for d in (FIRST + timedelta(days=n) for n in range(31)) if d.weekday() != 6][:DAYS]
    reports: list[dict[str, Any]] = []
    sessions: list[dict[str, Any]] = []
    counted: dict[tuple[int, int, int], int] = {}
    created = datetime(2026, 11, 26, tzinfo=UTC)
    for n, user in enumerate(users):
        order, op, _, machine = ops[n % len(ops)]
        for day in days:
            start = local.day_start_ms(day) + 8 * 3_600_000
            sessions.append(
                {
                    "user_id": user,
                    "station_id": station,
                    "start_ms": start,
                    "end_ms": start + 8 * 3_600_000,
                    "expires_ms": start + 12 * 3_600_000,
                }
            )
            for k in range(REPORTS_PER_DAY):
                scrap = rng.randint(1, 3) if rng.random() < 0.2 else 0
                good = rng.randint(20, 60)
                reports.append(
                    {
                        "work_order_id": order,
                        "operation_id": op,
                        "operator_id": user,
                        "good": good,
                        "scrap": scrap,
                        "scrap_reason": "burr" if scrap else None,
                        "source": "manual",
                        "ts_ms": start + k * 2_700_000,
                        "created_at": created,
                    }
                )
                key = (machine, op, local.day_start_ms(day))
                counted[key] = counted.get(key, 0) + good + rng.choice((0, 0, 0, 5))
    session.execute(insert(WorkReport), reports)
    session.execute(insert(StationSession), sessions)
    session.execute(
        insert(CountEvent),
        [
            {
                "machine_id": m,
                "operation_id": op,
                "ts_ms": ts + 43_200_000,
                "good": good,
                "scrap": 0,
                "kind": "increment",
                "edge_id": "bench",
                "seq": n,
            }
            for n, ((m, op, ts), good) in enumerate(counted.items())
        ],
    )
    session.commit()
    return len(reports)


def _best(fn: Callable[[], object], repeat: int = 3) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t0)
    return best, result


def _measure(engine: Engine) -> dict[str, float]:
    init_db(engine)
    local = SiteTime.named(ZONE)
    with Session(engine) as session:
        n = _fill(session, local)
    period = pay_periods.period_of(FIRST, 26, local)
    with Session(engine) as session:
        seconds, public = _best(lambda: wage_views.to_public(wages.sheet(session, period, local)))
        assert isinstance(public, WageSheetPublic) and len(public.operators) == OPERATORS
        xlsx, _ = _best(lambda: wage_views.to_xlsx(public, "zh_CN", "bench"), 1)  # type: ignore[arg-type]
    return {"reports": n, "sheet": seconds, "xlsx": xlsx, "lines": len(public.lines)}


def run() -> Table:
    table = Table(
        f"wages: monthly sheet, {OPERATORS} operators x {DAYS} days x {REPORTS_PER_DAY} reports a day"
    )
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'bench.db'}")
        lite = _measure(engine)
        engine.dispose()
    with fresh_database() as url:
        engine = make_engine(url)
        pg = _measure(engine)
        engine.dispose()
    table.add("work reports", lite["reports"], "rows")
    table.add("sheet lines", lite["lines"], "lines")
    table.add("monthly wage sheet, SQLite (best of 3)", lite["sheet"], "s", TARGET_S, "of 2 s target")
    table.add("monthly wage sheet, PostgreSQL (best of 3)", pg["sheet"], "s", TARGET_S, "of 2 s target")
    table.add("XLSX export of the sheet, SQLite data", lite["xlsx"], "s")
    return table


if __name__ == "__main__":
    print(run().render())

"""The year generator (bench/year.py) at a tiny size on SQLite: its rows read back through the normal
paths (OEE, the daily report's tables, the historian, the share link) as the generator's own plan says."""

from pathlib import Path

from sqlalchemy import Engine
from sqlmodel import Session, func, select

from bench.year import CYCLE_S, DAY_MS, FAULT_MS, HOUR_MS, SITE, Plan, Written, generate
from bench.year_business import PATROL_N
from server.core.db import init_db, make_engine
from server.domain import (
    boss_view,
    inspections,
    named_reports,
    oee,
    pay_periods,
    sharelinks,
    spc,
    trace,
    wages,
)
from server.domain.sites import site_time
from server.historian.sql import SqlHistorian
from server.models.production import DowntimeEvent, WorkOrder
from server.models.quality import InspectionRecord
from server.models.sales import SalesLineWorkOrder

PLAN = Plan(machines=3, days=2, orders_per_day=2, raw_minutes=2, trend_days=2)


def _year(tmp_path: Path) -> tuple[Engine, Written]:
    engine = make_engine(f"sqlite:///{tmp_path / 'year.db'}")
    init_db(engine)
    return engine, generate(engine, PLAN)


def test_oee_of_a_generated_day_matches_the_plan(tmp_path: Path) -> None:
    engine, written = _year(tmp_path)
    with Session(engine) as s:
        site = oee.site_of(s, None)
        rows = oee.oee_rows(s, site, PLAN.first, PLAN.last)
    assert len(rows) == PLAN.machines * PLAN.days * 2  # two shifts a day
    for (machine, day), (good, scrap) in written.expected.items():
        shifts = [r for r in rows if r.machine == machine and r.day == day]
        assert sum(r.figures.good for r in shifts) == good
        assert sum(r.figures.scrap for r in shifts) == scrap
        assert all(r.figures.fault_ms == FAULT_MS for r in shifts)  # one classified fault per shift
        assert all(r.figures.planned_ms == 11 * HOUR_MS for r in shifts)  # 12 h less a 1 h break
        assert all(r.figures.ideal_ms == (r.figures.good + r.figures.scrap) * CYCLE_S * 1000 for r in shifts)


def test_the_daily_report_and_business_rows_read_back(tmp_path: Path) -> None:
    engine, written = _year(tmp_path)
    with Session(engine) as s:
        orders = s.exec(select(func.count()).select_from(WorkOrder)).one()
        downs = s.exec(select(DowntimeEvent)).all()
        shared = sharelinks.resolve_share_token(s, written.share_token)
        q = named_reports.query(s, PLAN.last, None, None, None, 120.0, "en")
        tables = named_reports.build(s, "daily", q, lambda t: t)
    assert orders == PLAN.orders_per_day * (PLAN.days + 2)  # and two days of work in progress
    assert len(downs) == PLAN.machines * PLAN.days * 2 and all(d.reason_code for d in downs)
    assert shared is not None and shared.number == f"WO-{PLAN.last:%y%m%d}-01"
    assert tables and any(t.rows for t in tables)


def test_historian_rows_come_from_the_write_path(tmp_path: Path) -> None:
    engine, written = _year(tmp_path)
    historian = SqlHistorian(engine)
    end = written.feed_end_ms
    # the live feed: noisy analogs every second, the good counter once a cycle
    raw = historian.query(SITE, "m00", "a00", end - 60_000, end, 1000)
    assert len(raw) == 60
    counts = historian.query(SITE, "m00", "good", end - 120_000, end, 1000)
    assert len(counts) == 120 // int(CYCLE_S) + 1
    # the 30-day trend reads minute rollups: one per hour bucket over trend_days
    trend = historian.query(SITE, "m00", "a00", end - PLAN.trend_days * DAY_MS, end, HOUR_MS)
    assert len(trend) == PLAN.trend_days * 24
    assert written.raw_points > 0


def test_wages_lots_sales_and_inspections_read_back(tmp_path: Path) -> None:
    engine, written = _year(tmp_path)
    with Session(engine) as s:
        local = site_time(s, SITE)
        sheet = wages.sheet(s, pay_periods.period_of(PLAN.last, 1, local), local)
        last = f"FG-{PLAN.last:%y%m%d}-01"  # the day's second order took the first one's finished lot in
        back = trace.trace(s, last, "backward")
        linked = s.exec(select(func.count()).select_from(SalesLineWorkOrder)).one()
        checks = s.exec(select(func.count()).select_from(InspectionRecord)).one()
        chart = spc.chart_of(spc.series(s, written.patrol_characteristic))
    assert sheet.operators and all(o.amount_e4 > 0 for o in sheet.operators)
    hours = {o.username: o.hours for o in sheet.operators}
    # op00 works days (08-12, 13-20); its reports book at 04:00 the next morning, on the 29th and the 30th,
    # and the sheet counts hours on the days with pieces: the 29th's 11 (the 30th has no attendance written)
    assert hours["op00"] == 11.0
    assert back.work_orders == [f"WO-{PLAN.last:%y%m%d}-01", f"WO-{PLAN.last:%y%m%d}-00"]
    assert {n.lot for n in back.lots} >= {f"FG-{PLAN.last:%y%m%d}-00", f"RAW-{PLAN.last:%y%m%d}-0"}
    patrols = PLAN.orders_per_day * PLAN.days * (PLAN.quantity // PATROL_N)  # fewer than spc keeps (100)
    assert linked == checks - patrols == PLAN.orders_per_day * PLAN.days
    assert chart is not None and chart.kind == "xbar_r" and len(chart.centre) == patrols


def test_the_floor_holds_work_in_progress(tmp_path: Path) -> None:
    """After the year, orders are open and machines run them: what the boss page's order list, running jobs
    and inspections due read (and what a year of history must not slow down)."""
    engine, _written = _year(tmp_path)
    with Session(engine) as s:
        orders = boss_view.open_orders(s, "Asia/Shanghai")
        jobs = boss_view.running_jobs(s)
        due = inspections.pending_count(s)
    assert len(orders) == 2 * PLAN.orders_per_day
    assert {line.progress.status for line in orders} == {"in_progress", "released"}
    assert sorted(jobs.values()) == [line.number for line in orders if line.progress.status == "in_progress"]
    assert due == PLAN.orders_per_day  # each started operation owes its first-article check

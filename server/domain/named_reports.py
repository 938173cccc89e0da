"""Which tables each named report holds (shared by the pages and the JSON/CSV/XLSX API), and the OEE
breakdown: every figure of an OEE row with the state segments and counts it was made from."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func
from sqlmodel import Session, col, select

from server.core.errors import InvalidInput, NotFound
from server.core.sitetime import SiteTime
from server.domain import oee, report_queries
from server.domain.report_tables import Table
from server.models.ingest import CountEvent
from server.models.plant import Machine, Site
from server.models.production import Operation, WorkOrder
from server.models.types import now_ms

Label = Callable[[str], str]
TITLES = {
    "daily": "Daily production report",
    "oee": "OEE by machine and shift",
    "oee-trend": "OEE trend",
    "scrap": "Scrap by reason",
    "downtime": "Downtime by reason",
    "on-time": "On-time delivery",
}
RANGED = frozenset({"oee", "oee-trend", "scrap", "downtime", "on-time"})


@dataclass(frozen=True, slots=True)
class Query:
    site: Site
    start: date
    end: date
    today: date
    machine: str | None = None
    micro_stop_s: float = oee.DEFAULT_MICRO_STOP_S
    locale: str = "zh_CN"


def site_today(site: Site) -> date:
    return SiteTime.named(site.timezone).today()


def query(
    session: Session,
    day: date | None,
    start: date | None,
    end: date | None,
    machine: str | None,
    micro_stop_s: float,
    locale: str,
    site_id: int | None = None,
    at_ms: int | None = None,
) -> Query:
    """A report's window: `day` (the daily report) or `start`..`end`; by default the production day of
    now (`at_ms`), or the 30 days to `end`, in the site's zone. InvalidInput when `end` is before `start`."""
    site = oee.site_of(session, site_id)
    today = site_today(site)
    if day is not None:
        start = end = day
    end = end or start or oee.production_day(session, site, now_ms() if at_ms is None else at_ms)[0]
    start = start or (end - timedelta(days=29))
    if end < start:
        raise InvalidInput("end is before start")
    return Query(site, start, end, today, machine, micro_stop_s, locale)


def build(session: Session, name: str, q: Query, label: Label) -> list[Table]:
    """The tables of report `name` (a key of TITLES)."""
    unclassified = label("unclassified")
    micro = (int(q.micro_stop_s * 1000), label("micro-stops"))
    if name == "daily":
        day = q.end
        return [
            report_queries.production(session, q.site, day),
            report_queries.oee_by_shift(session, q.site, day, day, q.micro_stop_s),
            report_queries.scrap_pareto(session, q.site, day, day, q.locale, unclassified),
            report_queries.downtime_pareto(session, q.site, day, day, q.locale, unclassified, *micro),
            report_queries.open_nonconformances(session),
        ]
    if name == "oee":
        return [report_queries.oee_by_shift(session, q.site, q.start, q.end, q.micro_stop_s)]
    if name == "oee-trend":
        return [report_queries.oee_trend(session, q.site, q.start, q.end, q.machine, q.micro_stop_s)]
    if name == "scrap":
        return [report_queries.scrap_pareto(session, q.site, q.start, q.end, q.locale, unclassified)]
    if name == "downtime":
        return [
            report_queries.downtime_pareto(session, q.site, q.start, q.end, q.locale, unclassified, *micro)
        ]
    if name == "on-time":
        return [report_queries.on_time(session, q.site, q.start, q.end, q.today)]
    raise NotFound("no report %(name)r; reports: %(reports)s", name=name, reports=", ".join(TITLES))


def local_text(ms: int | None, tz: ZoneInfo) -> str:
    """Epoch ms as site-local 'MM-DD HH:MM:SS' for people ("…" for an open end)."""
    if ms is None:
        return "…"
    return datetime.fromtimestamp(ms / 1000, tz).strftime("%m-%d %H:%M:%S")


def _segments(session: Session, machine_id: int, lo: int, hi: int, tz: ZoneInfo) -> list[dict[str, Any]]:
    rows = oee.segment_rows(session, [machine_id], lo, hi)
    return [{"state": state, "start_ms": start, "end_ms": end, "start": local_text(start, tz),
             "end": local_text(end, tz)} for _, state, start, end in rows]  # fmt: skip


def _counts(session: Session, machine: Machine, planned: tuple[oee.Interval, ...]) -> list[dict[str, Any]]:
    sums: dict[int | None, list[int]] = {}
    for s, e in planned:
        rows = session.exec(
            select(CountEvent.operation_id, func.sum(CountEvent.good), func.sum(CountEvent.scrap))
            .where(CountEvent.machine_id == machine.id, CountEvent.ts_ms >= s, CountEvent.ts_ms < e)
            .group_by(col(CountEvent.operation_id))
        )
        for op, good, scrap in rows:
            acc = sums.setdefault(op, [0, 0])
            acc[0] += int(good or 0)
            acc[1] += int(scrap or 0)
    out = []
    for op_id, (good, scrap) in sorted(sums.items(), key=lambda kv: kv[0] or 0):
        run = session.get(Operation, op_id) if op_id is not None else None
        order = session.get(WorkOrder, run.work_order_id) if run is not None else None
        own = run.ideal_cycle_s if run is not None else None
        out.append({"work_order": order.number if order else None, "step": run.step_no if run else None,
                    "ideal_cycle_s": own if own is not None else machine.ideal_cycle_s,
                    "ideal_from": "operation" if own is not None else "machine",
                    "good": good, "scrap": scrap})  # fmt: skip
    return out


def breakdown(
    session: Session, site: Site, machine_code: str, day: date, shift: str | None, micro_stop_s: float
) -> dict[str, Any]:
    """The numbers behind one OEE figure (a machine's shift, or its whole day when `shift` is None)."""
    machine = session.exec(
        select(Machine).where(Machine.site_id == site.id, Machine.code == machine_code)
    ).first()
    if machine is None:
        raise NotFound("no machine %(machine)r", machine=machine_code)
    rows = oee.oee_rows(session, site, day, day, [machine_code], micro_stop_s)
    if shift is not None:
        rows = [r for r in rows if r.shift == shift]
        if not rows:
            raise InvalidInput("no shift %(shift)r on %(day)s", shift=shift, day=day.isoformat())
    windows = [
        w for w in oee.shift_windows(oee.site_shifts(session, site.id or 0), site.timezone, day, day)
        if shift is None or w.shift == shift
    ]  # fmt: skip
    total = oee.total(rows)
    tz = ZoneInfo(site.timezone)
    return {
        "definitions": "docs/oee.md",
        "machine": machine_code, "day": day.isoformat(), "shift": shift, "timezone": site.timezone,
        "micro_stop_s": micro_stop_s, "now_ms": now_ms(),
        "windows": [{"shift": w.shift, "start_ms": w.start_ms, "end_ms": w.end_ms,
                     "planned": [list(p) for p in w.planned],
                     "planned_local": [[local_text(a, tz), local_text(b, tz)] for a, b in w.planned],
                     "segments": _segments(session, machine.id or 0, w.start_ms, w.end_ms, tz),
                     "counts": _counts(session, machine, w.planned)} for w in windows],
        "rows": [r.to_dict() for r in rows],
        "figures": total.to_dict(),
    }  # fmt: skip

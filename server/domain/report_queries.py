"""The boss's reports as tables (docs/reports.md): daily production, scrap and downtime Paretos, OEE per
shift and its trend, on-time delivery, open nonconformances.

Days are site-local. A day's production covers the shifts that start on it (a night shift until its end the
next morning) plus the rest of the calendar day not covered by any shift (shift "—").
"""

import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from sqlalchemy import Integer as SAInteger
from sqlalchemy import and_, func, literal_column, values
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from server.domain import count_sums, oee, stops
from server.domain.report_tables import Column, Table
from server.models.auth import User
from server.models.catalog import Customer, Product, ReasonCode
from server.models.ingest import CountEvent
from server.models.plant import Machine, Site
from server.models.production import Operation, WorkOrder, WorkReport
from server.models.quality import Nonconformance
from server.models.types import now_ms

log = logging.getLogger(__name__)
NO_SHIFT = "—"
MICRO_STOP = "micro_stop"  # the downtime Pareto's code for unclassified stops under the threshold
DONE = ("completed", "closed")


@dataclass(frozen=True, slots=True)
class Span:
    key: int
    shift: str
    start_ms: int
    end_ms: int


def _day_ms(day: date, tz: ZoneInfo) -> tuple[int, int]:
    start = datetime.combine(day, time(0), tzinfo=tz)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz)
    return int(start.timestamp() * 1000), int(end.timestamp() * 1000)


def day_spans(session: Session, site: Site, day: date) -> list[Span]:
    """The day's shift spans, then the remaining hours of the calendar day (not yesterday's night shift)."""
    tz = ZoneInfo(site.timezone)
    shifts = oee.site_shifts(session, site.id or 0)
    windows = oee.shift_windows(shifts, site.timezone, day - timedelta(days=1), day)
    today = [w for w in windows if w.day == day]
    spans = [Span(i, w.shift, w.start_ms, w.end_ms) for i, w in enumerate(today)]
    rest = oee.subtract(_day_ms(day, tz), [(w.start_ms, w.end_ms) for w in windows])
    spans += [Span(len(spans) + i, NO_SHIFT, s, e) for i, (s, e) in enumerate(rest)]
    return spans


def _span_cte(spans: Sequence[Span]) -> Any:
    return (
        values(
            literal_column("k", SAInteger), literal_column("s", SAInteger), literal_column("e", SAInteger),
            name="span", literal_binds=True,
        )
        .data([(sp.key, sp.start_ms, sp.end_ms) for sp in spans])
        .cte("span")
    )  # fmt: skip


def _names(session: Session, operation_ids: set[int]) -> dict[str, dict[int, str]]:
    """Labels of these operations (order, step, product), and of every machine and user."""
    ops = session.exec(
        select(Operation.id, Operation.step_no, WorkOrder.number, Product.code)
        .join(WorkOrder, col(WorkOrder.id) == col(Operation.work_order_id))
        .join(Product, col(Product.id) == col(WorkOrder.product_id))
        .where(col(Operation.id).in_(operation_ids))
    ).all()
    return {
        "order": {i or 0: n for i, _, n, _ in ops},
        "step": {i or 0: str(s) for i, s, _, _ in ops},
        "product": {i or 0: p for i, _, _, p in ops},
        "machine": {m.id or 0: m.code for m in session.exec(select(Machine))},
        "user": {u.id or 0: u.display_name for u in session.exec(select(User))},
    }


PRODUCTION_COLUMNS = [
    Column("shift", "Shift"), Column("order", "Work order"), Column("product", "Product"),
    Column("step", "Step"), Column("machine", "Machine"), Column("operator", "Operator"),
    Column("source", "Source", "label"), Column("good", "Good", "int"), Column("scrap", "Scrap", "int"),
]  # fmt: skip


def production(session: Session, site: Site, day: date) -> Table:
    """Good and scrap per shift, order, step, machine and operator: machine counts (ledger, by ts) and
    operators' manual work reports, each row saying which source it is."""
    spans = day_spans(session, site, day)
    span_of = {sp.key: sp.shift for sp in spans}
    cte = _span_cte(spans)
    k, s, e = cte.c.k, cte.c.s, cte.c.e
    ids = [
        int(i) for i in session.exec(select(Machine.id).where(Machine.site_id == site.id)) if i is not None
    ]
    keyed = [
        (sp.key * len(ids) + j, mid, sp.start_ms, sp.end_ms) for sp in spans for j, mid in enumerate(ids)
    ]
    machine_rows = [(key // len(ids), op, ids[key % len(ids)], good, scrap)
                    for key, op, good, scrap in count_sums.by_machine(session, keyed)]  # fmt: skip
    manual_rows = session.execute(
        sa_select(k, col(WorkReport.operation_id), col(Operation.machine_id), col(WorkReport.operator_id),
               func.sum(WorkReport.good), func.sum(WorkReport.scrap))
        .select_from(cte)
        .join(WorkReport, and_(col(WorkReport.ts_ms) >= s, col(WorkReport.ts_ms) < e))
        .join(Operation, col(Operation.id) == col(WorkReport.operation_id))
        .group_by(k, col(WorkReport.operation_id), col(Operation.machine_id), col(WorkReport.operator_id))
    ).all()  # fmt: skip
    n = _names(session, {r[1] for r in machine_rows if r[1]} | {r[1] for r in manual_rows if r[1]})
    rows: list[list[Any]] = []
    for key, op, mid, good, scrap in machine_rows:
        rows.append([span_of[key], n["order"].get(op or 0, "—"), n["product"].get(op or 0, "—"),
                     n["step"].get(op or 0, "—"), n["machine"].get(mid, "—"), "—", "machine",
                     int(good or 0), int(scrap or 0)])  # fmt: skip
    for key, op, mid, user, good, scrap in manual_rows:
        rows.append([span_of[key], n["order"].get(op, "—"), n["product"].get(op, "—"), n["step"].get(op, "—"),
                     n["machine"].get(mid or 0, "—"), n["user"].get(user or 0, "—"), "manual",
                     int(good or 0), int(scrap or 0)])  # fmt: skip
    order = {sp.shift: sp.start_ms for sp in reversed(spans)}
    rows.sort(key=lambda r: (r[0] == NO_SHIFT, order.get(r[0], 0), r[1], r[3], r[4], r[6], r[5]))
    return Table("production", "Production", PRODUCTION_COLUMNS, rows)


OEE_COLUMNS = [
    Column("machine", "Machine"), Column("day", "Day"), Column("shift", "Shift"),
    Column("planned_ms", "Planned (h)", "hours"), Column("run_ms", "Run (h)", "hours"),
    Column("fault_ms", "Fault (h)", "hours"), Column("setup_ms", "Setup (h)", "hours"),
    Column("micro_stops", "Micro-stops", "int"), Column("good", "Good", "int"),
    Column("scrap", "Scrap", "int"),
    Column("availability", "Availability", "pct"), Column("performance", "Performance", "pct"),
    Column("quality", "Quality", "pct"), Column("oee", "OEE", "pct"),
]  # fmt: skip


def breakdown_link(row: oee.OeeRow) -> str:
    query = {"machine": row.machine, "day": row.day.isoformat()} | ({"shift": row.shift} if row.shift else {})
    return "/reports/oee/breakdown?" + urlencode(query)


def _oee_line(machine: str, day: str, shift: str | None, f: oee.Figures) -> list[Any]:
    return [machine, day, shift or NO_SHIFT, f.planned_ms, f.run_ms, f.fault_ms, f.setup_ms, f.micro_stops,
            f.good, f.scrap, f.availability, f.performance, f.quality, f.oee]  # fmt: skip


def oee_by_shift(session: Session, site: Site, first: date, last: date, micro_stop_s: float) -> Table:
    """A day: a row per machine and shift, each linked to its breakdown. A range: a row per machine and
    shift summed over the days (the day column shows the range), linked to the machine's OEE trend, whose
    days link to their breakdowns: a month of 50 machines is 100 rows, not 3,000 (a 4 MB page)."""
    rows = oee.oee_rows(session, site, first, last, micro_stop_s=micro_stop_s)
    table = Table("oee", "OEE by machine and shift", OEE_COLUMNS)
    if first == last:
        for row in rows:
            table.rows.append(_oee_line(row.machine, row.day.isoformat(), row.shift, row.figures))
            table.links.append(breakdown_link(row))
        return table
    span = f"{first.isoformat()} – {last.isoformat()}"
    summed: dict[tuple[str, str | None], oee.Figures] = {}
    for row in rows:  # machine, then time order: each machine's shifts in the order they first ran
        summed.setdefault((row.machine, row.shift), oee.Figures()).add(row.figures)
    trend = {"start": first.isoformat(), "end": last.isoformat()}
    for (machine, shift), f in sorted(summed.items(), key=lambda kv: (kv[0][0], kv[0][1] is None)):
        table.rows.append(_oee_line(machine, span, shift, f))
        table.links.append("/reports/oee-trend?" + urlencode(trend | {"machine": machine}))
    return table


TREND_COLUMNS = [
    Column("day", "Day"), Column("planned_ms", "Planned (h)", "hours"), Column("run_ms", "Run (h)", "hours"),
    Column("good", "Good", "int"), Column("scrap", "Scrap", "int"),
    Column("availability", "Availability", "pct"), Column("performance", "Performance", "pct"),
    Column("quality", "Quality", "pct"), Column("oee", "OEE", "pct"),
]  # fmt: skip


def oee_trend(
    session: Session, site: Site, first: date, last: date, machine: str | None, micro_stop_s: float
) -> Table:
    """OEE per day, all machines of the site (or one) summed before the ratios are taken."""
    rows = oee.oee_rows(session, site, first, last, [machine] if machine else None, micro_stop_s)
    per_day: dict[date, oee.Figures] = defaultdict(oee.Figures)
    for row in rows:
        per_day[row.day].add(row.figures)
    table = Table("oee_trend", "OEE trend", TREND_COLUMNS)
    for day in sorted(per_day):
        f = per_day[day]
        table.rows.append([day.isoformat(), f.planned_ms, f.run_ms, f.good, f.scrap, f.availability,
                           f.performance, f.quality, f.oee])  # fmt: skip
        if machine:  # one machine's day: its breakdown; all machines: that day's table by machine and shift
            table.links.append(
                "/reports/oee/breakdown?" + urlencode({"machine": machine, "day": day.isoformat()})
            )
        else:
            table.links.append(
                "/reports/oee?" + urlencode({"start": day.isoformat(), "end": day.isoformat()})
            )
    return table


def _reason_labels(session: Session, kind: str, locale: str) -> dict[str, str]:
    rows = session.exec(select(ReasonCode).where(ReasonCode.kind == kind))
    return {r.code: (r.label_zh if locale.startswith("zh") else r.label_en) for r in rows}


def _pareto(
    items: dict[str, tuple[int, float]], labels: dict[str, str], unclassified: str
) -> list[list[Any]]:
    ordered = sorted(items.items(), key=lambda kv: (-kv[1][1], kv[0]))
    grand = sum(v for _, (_, v) in ordered) or 1
    rows, running = [], 0.0
    for code, (count, amount) in ordered:
        running += amount
        name = labels.get(code, code) if code else unclassified
        rows.append([code or "", name, count, amount, amount / grand, running / grand])
    return rows


def scrap_pareto(
    session: Session, site: Site, first: date, last: date, locale: str, unclassified: str
) -> Table:
    """Scrap by reason from work reports (machine scrap counters carry no reason: shown as a note)."""
    tz = ZoneInfo(site.timezone)
    lo, hi = _day_ms(first, tz)[0], _day_ms(last, tz)[1]
    rows = session.exec(
        select(WorkReport.scrap_reason, func.count(), func.sum(WorkReport.scrap))
        .where(WorkReport.ts_ms >= lo, WorkReport.ts_ms < hi, WorkReport.scrap > 0)
        .group_by(col(WorkReport.scrap_reason))
    ).all()
    items = {code or "": (int(c), float(q or 0)) for code, c, q in rows}
    machine_scrap = session.exec(
        select(func.sum(CountEvent.scrap)).where(CountEvent.ts_ms >= lo, CountEvent.ts_ms < hi)
    ).one()
    columns = [Column("code", "Code"), Column("reason", "Reason"), Column("reports", "Reports", "int"),
               Column("scrap", "Scrap", "int"), Column("share", "Share", "pct"),
               Column("cumulative", "Cumulative", "pct")]  # fmt: skip
    table = Table("scrap_pareto", "Scrap by reason", columns,
                  _pareto(items, _reason_labels(session, "scrap", locale), unclassified))  # fmt: skip
    for row in table.rows:
        row[3] = int(row[3])
    table.note = str(int(machine_scrap or 0))
    return table


def downtime_pareto(
    session: Session, site: Site, first: date, last: date, locale: str, unclassified: str,
    micro_stop_ms: int = 0, micro_label: str = MICRO_STOP,
) -> Table:  # fmt: skip
    """Downtime events by reason, clipped to the days; open events run until now. Unclassified events shorter
    than the micro-stop threshold are counted apart, as micro-stops (docs/oee.md)."""
    tz = ZoneInfo(site.timezone)
    lo, hi = _day_ms(first, tz)[0], _day_ms(last, tz)[1]
    now = now_ms()
    events = stops.overlapping(session, lo, hi)
    items: dict[str, tuple[int, float]] = {}
    for ev in events:
        end = ev.end_ms if ev.end_ms is not None else max(now, ev.start_ms)
        length = max(0, min(end, hi) - max(ev.start_ms, lo))
        code = ev.reason_code or (MICRO_STOP if end - ev.start_ms < micro_stop_ms else "")
        count, total = items.get(code, (0, 0.0))
        items[code] = (count + 1, total + length)
    columns = [Column("code", "Code"), Column("reason", "Reason"), Column("events", "Events", "int"),
               Column("duration_ms", "Minutes", "minutes"), Column("share", "Share", "pct"),
               Column("cumulative", "Cumulative", "pct")]  # fmt: skip
    labels = _reason_labels(session, "downtime", locale) | {MICRO_STOP: micro_label}
    rows = _pareto(items, labels, unclassified)
    return Table("downtime_pareto", "Downtime by reason", columns, rows)


def on_time(session: Session, site: Site, first: date, last: date, today: date) -> Table:
    """Work orders due in [first, last]: on time when completed on or before the due day (site time);
    late when completed after it, or still open after it; open otherwise."""
    tz = ZoneInfo(site.timezone)
    rows = session.exec(
        select(WorkOrder, Customer.code)
        .join(Customer, col(Customer.id) == col(WorkOrder.customer_id), isouter=True)
        .where(
            col(WorkOrder.due_date) >= first, col(WorkOrder.due_date) <= last, WorkOrder.status != "cancelled"
        )
        .order_by(col(WorkOrder.due_date), col(WorkOrder.number))
    ).all()
    columns = [Column("order", "Work order"), Column("customer", "Customer"), Column("due", "Due"),
               Column("completed", "Completed"), Column("status", "Status", "label"),
               Column("result", "Result", "label")]  # fmt: skip
    table = Table("on_time", "On-time delivery", columns)
    on, late = 0, 0
    for order, customer in rows:
        assert order.due_date is not None
        done = (
            order.completed_at.astimezone(tz).date() if order.completed_at and order.status in DONE else None
        )
        if done is not None:
            result = "on_time" if done <= order.due_date else "late"
        else:
            result = "late" if today > order.due_date else "open"
        on += result == "on_time"
        late += result == "late"
        table.rows.append([order.number, customer or "—", order.due_date.isoformat(),
                           done.isoformat() if done else "—", order.status, result])  # fmt: skip
    table.note = f"{on / (on + late) * 100:.1f}%" if on + late else None
    return table


def open_nonconformances(session: Session) -> Table:
    rows = session.exec(
        select(Nonconformance, WorkOrder.number)
        .join(WorkOrder, col(WorkOrder.id) == col(Nonconformance.work_order_id), isouter=True)
        .where(Nonconformance.status != "closed")
        .order_by(col(Nonconformance.created_at))
    ).all()
    columns = [Column("id", "NC", "int"), Column("order", "Work order"), Column("lot", "Lot"),
               Column("quantity", "Quantity", "int"), Column("status", "Status", "label"),
               Column("description", "Description"), Column("opened", "Opened")]  # fmt: skip
    table = Table("open_ncs", "Open nonconformances", columns)
    for nc, number in rows:
        table.rows.append([nc.id, number or "—", nc.lot_code or "—", nc.quantity, nc.status, nc.description,
                           nc.created_at.strftime("%Y-%m-%d %H:%M")])  # fmt: skip
    return table

"""OEE and time accounting per machine, shift and day (definitions: docs/oee.md).

The arithmetic lives in `oee_calc` (re-exported here: `shift_windows`, `stops`, `account`, `Figures`);
`oee_rows` reads the shift calendar, the state timeline (`MachineStateSegment`) and the count ledger
(`CountEvent`, whole hours from its hourly sums: `count_sums`) in a few set-wise queries and applies it.

- planned time = the shift (site-local start/end, ends next day when end <= start) minus its breaks;
- run / idle (idle, blocked, starved) / setup / fault time = state segments clipped to planned time;
  unclassified = planned time with no known state (offline or no data);
- availability = run / planned; performance = sum(ideal cycle x parts) / run, the ideal cycle of the
  operation a part was counted on, else the machine's; quality = good / (good + scrap);
- micro-stops: a stretch of consecutive non-running segments shorter than the threshold (whole length,
  before clipping); its planned time is counted apart from real downtime.

A ratio whose denominator is zero (no plan, no run, no parts) or whose ideal cycle is unknown is None:
undefined, shown as such, never a division by zero.
"""

import bisect
import itertools
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from server.core.errors import InvalidInput, NotFound
from server.domain import count_sums
from server.domain.oee_calc import (
    DEFAULT_MICRO_STOP_S,
    Figures,
    Interval,
    Segment,
    ShiftDef,
    Window,
    account,
    count_into,
    local_ms,
    local_span,
    shift_windows,
    stops,
    subtract,
)
from server.models.ingest import MachineStateSegment
from server.models.plant import Machine, Site
from server.models.production import Operation
from server.models.shifts import Shift, ShiftBreak
from server.models.types import now_ms

log = logging.getLogger(__name__)
MAX_DAYS = 62
__all__ = [
    "DEFAULT_MICRO_STOP_S",
    "Figures",
    "Interval",
    "OeeRow",
    "Segment",
    "ShiftDef",
    "Window",
    "account",
    "by_day",
    "count_into",
    "oee_rows",
    "shift_windows",
    "site_of",
    "site_shifts",
    "stops",
    "subtract",
    "total",
]


@dataclass(slots=True)
class OeeRow:
    machine_id: int
    machine: str
    day: date
    shift: str | None  # None: a whole day (or a machine/day without any shift)
    start_ms: int
    end_ms: int
    figures: Figures = field(default_factory=Figures)

    def to_dict(self) -> dict[str, Any]:
        return {
            "machine": self.machine, "day": self.day.isoformat(), "shift": self.shift,
            "start_ms": self.start_ms, "end_ms": self.end_ms, **self.figures.to_dict(),
        }  # fmt: skip


def site_shifts(session: Session, site_id: int) -> list[ShiftDef]:
    rows = session.exec(select(Shift).where(Shift.site_id == site_id)).all()
    breaks: dict[int, list[tuple[time, time]]] = {}
    ids = [s.id for s in rows]
    for b in session.exec(select(ShiftBreak).where(col(ShiftBreak.shift_id).in_(ids))):
        breaks.setdefault(b.shift_id, []).append((b.start_local, b.end_local))
    return [
        ShiftDef(s.id or 0, s.name, s.start_local, s.end_local,
                 frozenset(int(d) for d in s.days.split(",") if d.strip()), tuple(breaks.get(s.id or 0, [])))
        for s in rows
    ]  # fmt: skip


def _running(session: Session, site: Site, now_ms: int) -> tuple[Window | None, list[Window], int]:
    """The shift window covering now (or None), yesterday's and today's windows, and local midnight."""
    assert site.id is not None
    zone = site.timezone or "UTC"
    tz = ZoneInfo(zone)
    today = datetime.fromtimestamp(now_ms / 1000, tz).date()
    windows = shift_windows(site_shifts(session, site.id), zone, today - timedelta(days=1), today)
    running = next((w for w in windows if w.start_ms <= now_ms < w.end_ms), None)
    midnight = datetime(today.year, today.month, today.day, tzinfo=tz)
    return running, windows, int(midnight.timestamp() * 1000)


def current_shift(session: Session, site: Site, now_ms: int) -> tuple[str | None, int]:
    """(shift name, start ms) of the shift covering now, else (None, local midnight)."""
    running, _windows, midnight = _running(session, site, now_ms)
    return (running.shift, running.start_ms) if running else (None, midnight)


def production_day(session: Session, site: Site, at_ms: int) -> tuple[date, int]:
    """The production day at `at_ms` and when it began. With a shift running: the day the shift belongs to
    (a night shift past midnight belongs to the day it started, as the reports count it), from that day's
    first shift. Else the calendar day, from local midnight. At 01:00 the daily report and the boss page
    open on the night shift the floor is working, not on a day whose shifts have not begun."""
    running, windows, midnight = _running(session, site, at_ms)
    if running is None:
        return datetime.fromtimestamp(at_ms / 1000, ZoneInfo(site.timezone or "UTC")).date(), midnight
    return running.day, min(w.start_ms for w in windows if w.day == running.day)


SegmentRow = tuple[int, str, int, int | None]  # machine id, state, start, end (None: still open)


def segment_rows(session: Session, ids: list[int], lo: int, hi: int | None = None) -> list[SegmentRow]:
    """The machines' segments overlapping [lo, hi), by machine and start: those starting inside (an index
    range) plus the one in force at `lo` (an indexed lookup per machine, in one statement), so a window
    never scans the older history (a year of segments)."""
    seg = MachineStateSegment
    cols = (col(seg.machine_id), col(seg.state), col(seg.start_ms), col(seg.end_ms))
    last_before = (
        select(seg.id).where(col(seg.machine_id) == col(Machine.id), col(seg.start_ms) < lo)
        .order_by(col(seg.start_ms).desc()).limit(1).correlate(Machine).scalar_subquery()
    )  # fmt: skip
    before = sa_select(*cols).where(col(seg.id).in_(select(last_before).where(col(Machine.id).in_(ids))))
    inside = sa_select(*cols).where(col(seg.machine_id).in_(ids), col(seg.start_ms) >= lo)
    if hi is not None:
        inside = inside.where(col(seg.start_ms) < hi)
    connection = session.connection()
    rows: list[SegmentRow] = [
        (m, st, a, b) for m, st, a, b in connection.execute(before) if b is None or b > lo
    ]
    rows += [(m, st, a, b) for m, st, a, b in connection.execute(inside)]
    rows.sort(key=lambda r: (r[0], r[2]))
    return rows


def segments(session: Session, ids: list[int], lo: int, hi: int | None, now: int) -> dict[int, list[Segment]]:
    """Each machine's segments overlapping [lo, hi), oldest first; an open one ends now."""
    out: dict[int, list[Segment]] = {i: [] for i in ids}
    for mid, state, start, end in segment_rows(session, ids, lo, hi):
        out[mid].append((state, start, end if end is not None else max(now, start)))
    return out


def _ideal_by_operation(session: Session, op_ids: set[int]) -> dict[int, float | None]:
    if not op_ids:
        return {}
    rows = session.exec(select(Operation.id, Operation.ideal_cycle_s).where(col(Operation.id).in_(op_ids)))
    return {int(i): c for i, c in rows if i is not None}


def site_of(session: Session, site_id: int | None) -> Site:
    site = session.get(Site, site_id) if site_id is not None else session.exec(select(Site)).first()
    if site is None:
        raise NotFound("no such site")
    return site


def oee_rows(
    session: Session,
    site: Site,
    first: date,
    last: date,
    machine_codes: Sequence[str] | None = None,
    micro_stop_s: float = DEFAULT_MICRO_STOP_S,
    now: int | None = None,
) -> list[OeeRow]:
    """One row per machine and shift occurrence in [first, last] (site-local days), time ordered.

    A machine/day without any shift gets one row with shift None and planned time 0.
    """
    if last < first or (last - first).days > MAX_DAYS:
        raise InvalidInput(
            "day range %(first)s..%(last)s must be ordered and at most %(max)s days",
            first=first,
            last=last,
            max=MAX_DAYS,
        )
    now = now_ms() if now is None else now
    stmt = select(Machine).where(Machine.site_id == site.id).order_by(col(Machine.code))
    if machine_codes:
        stmt = stmt.where(col(Machine.code).in_(list(machine_codes)))
    machines = list(session.exec(stmt).all())
    windows = shift_windows(site_shifts(session, site.id or 0), site.timezone, first, last)
    tz = ZoneInfo(site.timezone)
    lo = min([w.start_ms for w in windows] + [local_ms(first, time(0), tz)])
    hi = max([w.end_ms for w in windows] + [local_ms(last + timedelta(days=1), time(0), tz)])
    segs = segments(session, [m.id or 0 for m in machines], lo - 86_400_000, hi, now)
    rows = _rows(machines, windows, first, last, tz)
    _fill_time(rows, segs, windows, int(micro_stop_s * 1000))
    _fill_counts(session, rows, windows, {m.id or 0: m.ideal_cycle_s for m in machines})
    return rows


def _rows(
    machines: list[Machine], windows: list[Window], first: date, last: date, tz: ZoneInfo
) -> list[OeeRow]:
    rows: list[OeeRow] = []
    days_with = {w.day for w in windows}
    for m in machines:
        for w in windows:
            rows.append(OeeRow(m.id or 0, m.code, w.day, w.shift, w.start_ms, w.end_ms))
        day = first
        while day <= last:
            if day not in days_with:
                span = local_span(day, time(0), time(0), tz)
                rows.append(OeeRow(m.id or 0, m.code, day, None, span[0], span[1]))
            day += timedelta(days=1)
    rows.sort(key=lambda r: (r.machine, r.start_ms))
    return rows


def _window_of(row: OeeRow, by_key: dict[tuple[date, str], Window]) -> Window | None:
    return None if row.shift is None else by_key.get((row.day, row.shift))


class _Index:
    """Items sorted by start; `between(lo, hi)` are those that may overlap [lo, hi) (bisect, not a scan)."""

    def __init__(self, items: Sequence[tuple[Any, ...]], start: int) -> None:
        self.items = items
        self.starts = [it[start] for it in items]
        self.max_ends = list(itertools.accumulate((it[start + 1] for it in items), max))

    def between(self, lo: int, hi: int) -> Sequence[tuple[Any, ...]]:
        return self.items[bisect.bisect_right(self.max_ends, lo) : bisect.bisect_left(self.starts, hi)]


def _fill_time(rows: list[OeeRow], segs: dict[int, list[Segment]], windows: list[Window], micro: int) -> None:
    by_key = {(w.day, w.shift): w for w in windows}
    seg_index = {mid: _Index(s, 1) for mid, s in segs.items()}
    stop_index = {mid: _Index(stops(s), 0) for mid, s in segs.items()}
    for row in rows:
        w = _window_of(row, by_key)
        if w is None or row.machine_id not in seg_index:
            continue
        lo, hi = w.start_ms, w.end_ms
        row.figures = account(
            w.planned,
            seg_index[row.machine_id].between(lo, hi),  # type: ignore[arg-type]
            stop_index[row.machine_id].between(lo, hi),  # type: ignore[arg-type]
            micro,
        )


def _fill_counts(
    session: Session, rows: list[OeeRow], windows: list[Window], machine_ideal: dict[int, float | None]
) -> None:
    by_key = {(w.day, w.shift): w for w in windows}
    spans: list[tuple[int, int, int, int]] = []
    for i, row in enumerate(rows):
        w = _window_of(row, by_key)
        spans.extend((i, row.machine_id, s, e) for s, e in (w.planned if w is not None else ()))
    sums = count_sums.by_machine(session, spans)
    ideal_op = _ideal_by_operation(session, {op for _, op, _, _ in sums if op is not None})
    for i, op, good, scrap in sums:
        row = rows[i]
        ideal = ideal_op.get(op) if op is not None else None
        count_into(
            row.figures, good, scrap, ideal if ideal is not None else machine_ideal.get(row.machine_id)
        )


def by_day(rows: Iterable[OeeRow]) -> list[OeeRow]:
    """Shift rows merged into one row per machine and day."""
    out: dict[tuple[int, date], OeeRow] = {}
    for r in rows:
        key = (r.machine_id, r.day)
        if key not in out:
            out[key] = OeeRow(r.machine_id, r.machine, r.day, None, r.start_ms, r.end_ms)
        day = out[key]
        day.start_ms, day.end_ms = min(day.start_ms, r.start_ms), max(day.end_ms, r.end_ms)
        day.figures.add(r.figures)
    return sorted(out.values(), key=lambda r: (r.machine, r.day))


def total(rows: Iterable[OeeRow]) -> Figures:
    fig = Figures()
    for r in rows:
        fig.add(r.figures)
    return fig

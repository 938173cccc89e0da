"""The automation scorecard: how much of the factory's data comes in by itself rather than by hand, per line
and per day (docs/scorecard.md defines each figure; the numbers here follow it exactly).

- machine_share: good parts counted by machines / (those + good parts entered by hand on operations that
  have no machine count); hand reports on operations a machine counts confirm the same parts.
- reason_share: downtime minutes with a reason / all downtime minutes (events clipped to the day).
- first_time_right: work reports whose operation was not reopened after them / all work reports.
- live_share: machines that sent data that day (a count or a state other than offline) / all machines.
- median_reason_min: median minutes from a downtime's start to its reason, over those classified.

One pass of a few grouped queries over the whole range, bucketed by the site's local day in Python.
"""

import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta

from pydantic import BaseModel
from sqlmodel import Session, col, func, select

from server.core.sitetime import SiteTime
from server.domain import oee, stops
from server.models.audit import AuditLog
from server.models.ingest import CountEvent
from server.models.plant import Line, Machine, Site, Station
from server.models.production import Operation, WorkReport

LineKey = int | None  # a line's id; None: machines and stations on no line
DEAD_STATES = frozenset({"offline", "unknown"})
QUARTER_MS = 15 * 60_000


class Figures(BaseModel):
    """One line's (or the site's) figures for one day; None where there was nothing to measure."""

    machine_share: float | None
    reason_share: float | None
    first_time_right: float | None
    live_share: float | None
    median_reason_min: float | None
    machine_good: int
    manual_good: int
    downtime_min: float
    reports: int


class DayCard(BaseModel):
    day: date
    site: Figures
    lines: dict[str, Figures]  # line code -> figures ("-" for no line)


class Scorecard(BaseModel):
    start: date
    end: date
    days: list[DayCard]


@dataclass
class _Tally:
    machine_good: int = 0
    manual_good: int = 0
    downtime_ms: int = 0
    reasoned_ms: int = 0
    reports: int = 0
    right: int = 0
    live: set[int] = field(default_factory=set)
    machines: int = 0
    to_reason_ms: list[int] = field(default_factory=list)

    def figures(self) -> Figures:
        counted = self.machine_good + self.manual_good
        median = statistics.median(self.to_reason_ms) / 60000 if self.to_reason_ms else None
        return Figures(
            machine_share=_share(self.machine_good, counted),
            reason_share=_share(self.reasoned_ms, self.downtime_ms),
            first_time_right=_share(self.right, self.reports),
            live_share=_share(len(self.live), self.machines),
            median_reason_min=round(median, 1) if median is not None else None,
            machine_good=self.machine_good, manual_good=self.manual_good,
            downtime_min=round(self.downtime_ms / 60000, 1), reports=self.reports,
        )  # fmt: skip

    def add(self, other: "_Tally") -> None:
        self.machine_good += other.machine_good
        self.manual_good += other.manual_good
        self.downtime_ms += other.downtime_ms
        self.reasoned_ms += other.reasoned_ms
        self.reports += other.reports
        self.right += other.right
        self.live |= other.live
        self.machines += other.machines
        self.to_reason_ms += other.to_reason_ms


Tallies = dict[tuple[date, LineKey], _Tally]


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


class _Range:
    def __init__(self, time: SiteTime, start: date, end: date) -> None:
        self.time, self.start, self.end = time, start, end
        self.low = time.day_start_ms(start)
        self.high = time.day_start_ms(end + timedelta(days=1))

    def day(self, ms: int) -> date:
        return self.time.local(ms).date()

    def days(self) -> list[date]:
        return [self.start + timedelta(days=i) for i in range((self.end - self.start).days + 1)]

    def spans(self, start: int, end: int) -> list[tuple[date, int]]:
        """(day, ms of [start, end) within that day) for each day of the range it touches."""
        found = []
        for day in self.days():
            low, high = self.time.day_span_ms(day)
            overlap = min(end, high) - max(start, low)
            if overlap > 0:
                found.append((day, overlap))
        return found


def scorecard(session: Session, site: Site, start: date, end: date, now: int) -> Scorecard:
    span = _Range(SiteTime.named(site.timezone), start, end)
    machines = {
        m.id or 0: m.line_id for m in session.exec(select(Machine).where(Machine.site_id == site.id)).all()
    }
    tallies: Tallies = defaultdict(_Tally)
    _machine_counts(session, span, machines, tallies)
    _hand_counts(session, span, machines, tallies)
    _downtime(session, span, machines, tallies, now)
    _live(session, span, machines, tallies, now)
    codes = {line.id: line.code for line in session.exec(select(Line).where(Line.site_id == site.id)).all()}
    per_line: dict[LineKey, int] = defaultdict(int)
    for line_id in machines.values():
        per_line[line_id] += 1
    cards = []
    for day in span.days():
        total = _Tally()
        lines = {}
        for line_id in sorted(set(codes) | set(per_line), key=lambda i: (i is None, i or 0)):
            tally = tallies[(day, line_id)]
            tally.machines = per_line.get(line_id, 0)
            total.add(tally)
            lines[codes.get(line_id, "-") if line_id is not None else "-"] = tally.figures()
        cards.append(DayCard(day=day, site=total.figures(), lines=lines))
    return Scorecard(start=start, end=end, days=cards)


def _machine_counts(session: Session, span: _Range, machines: dict[int, LineKey], tallies: Tallies) -> None:
    """Machine good parts, summed in the database per machine and quarter hour (every zone's offset is a
    whole number of quarter hours, so each bucket falls in one local day); a machine counting is live."""
    bucket = col(CountEvent.ts_ms) / QUARTER_MS
    stmt = (
        select(CountEvent.machine_id, bucket, func.sum(CountEvent.good))
        .where(CountEvent.ts_ms >= span.low, CountEvent.ts_ms < span.high)
        .where(col(CountEvent.machine_id).in_(list(machines)))
        .group_by(col(CountEvent.machine_id), bucket)
    )
    for machine_id, quarter, good in session.exec(stmt).all():
        tally = tallies[(span.day(int(quarter) * QUARTER_MS), machines[machine_id])]
        tally.machine_good += int(good or 0)
        tally.live.add(machine_id)


def _hand_counts(session: Session, span: _Range, machines: dict[int, LineKey], tallies: Tallies) -> None:
    """Work reports: hand counts where no machine counts the operation, and first-time-right for all."""
    stmt = (
        select(WorkReport, Operation, Station.line_id)
        .join(Operation, col(Operation.id) == WorkReport.operation_id)
        .outerjoin(Station, col(Station.id) == Operation.station_id)
        .where(WorkReport.ts_ms >= span.low, WorkReport.ts_ms < span.high)
    )
    rows = session.exec(stmt).all()
    reopened = _reopens(session, [op.id or 0 for _r, op, _l in rows])
    for report, op, station_line in rows:
        if op.machine_id is not None and op.machine_id not in machines:
            continue  # another site's machine
        line = machines[op.machine_id] if op.machine_id is not None else station_line
        tally = tallies[(span.day(report.ts_ms), line)]
        if op.machine_good + op.machine_scrap == 0:
            tally.manual_good += report.good
        tally.reports += 1
        created = int(report.created_at.timestamp() * 1000)
        if not any(ms > created for ms in reopened.get(op.id or 0, [])):
            tally.right += 1


def _reopens(session: Session, operation_ids: list[int]) -> dict[int, list[int]]:
    """Each operation's reopen times (ms), from the audit log."""
    if not operation_ids:
        return {}
    stmt = select(AuditLog.entity_id, AuditLog.ts).where(
        AuditLog.entity == "Operation", AuditLog.action == "reopen",
        col(AuditLog.entity_id).in_([str(i) for i in set(operation_ids)]),
    )  # fmt: skip
    found: dict[int, list[int]] = defaultdict(list)
    for entity_id, ts in session.exec(stmt).all():
        found[int(entity_id)].append(int(ts.timestamp() * 1000))
    return found


def _downtime(
    session: Session, span: _Range, machines: dict[int, LineKey], tallies: Tallies, now: int
) -> None:
    for event in stops.overlapping(session, span.low, span.high):
        if event.machine_id not in machines:
            continue  # another site's machine
        line = machines[event.machine_id]
        for day, ms in span.spans(event.start_ms, event.end_ms if event.end_ms is not None else now):
            tallies[(day, line)].downtime_ms += ms
            if event.reason_code:
                tallies[(day, line)].reasoned_ms += ms
        if event.reason_code and event.classified_ms is not None and span.low <= event.start_ms < span.high:
            tallies[(span.day(event.start_ms), line)].to_reason_ms.append(
                max(0, event.classified_ms - event.start_ms)
            )


def _live(session: Session, span: _Range, machines: dict[int, LineKey], tallies: Tallies, now: int) -> None:
    """Machines with data each day: a count (see _machine_counts), or a state other than offline that day."""
    for machine_id, state, start, end in oee.segment_rows(session, list(machines), span.low, span.high):
        if state in DEAD_STATES:
            continue
        for day, _ms in span.spans(start, end if end is not None else now):
            tallies[(day, machines[machine_id])].live.add(machine_id)


def last_days(session: Session, site: Site, days: int, now: int) -> Scorecard:
    """The scorecard of the `days` days up to today (the site's)."""
    today = SiteTime.named(site.timezone).local(now).date()
    return scorecard(session, site, today - timedelta(days=days - 1), today, now)

"""The boss's day at a glance: open orders with progress/ETA, machine tiles (state, counts, OEE or
availability so far today), top downtime reasons, scrap rate, pending inspections and nonconformances,
alerts; and the order and machine pages behind them (docs/pages.md)."""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func
from sqlmodel import Session, col, select

from server.core.sitetime import SiteTime
from server.domain import inspections, oee, progress, sites, spc, stops
from server.domain import workorders as wo
from server.domain.oee_calc import observed_availability
from server.domain.workorders import OPEN_STATUSES
from server.models.auth import User
from server.models.catalog import Product, ReasonCode
from server.models.ingest import CountEvent, DataLossEpisode, SignalState
from server.models.materials import LotConsumption, MaterialLot
from server.models.orders import WorkOrderProgress
from server.models.plant import Line, Machine, Site, Tag
from server.models.production import Operation, WorkOrder, WorkReport
from server.models.quality import InspectionPlan, InspectionRecord, Nonconformance
from server.models.types import now_ms

DOWN_STATES = frozenset({"fault", "offline", "idle", "setup", "blocked", "starved", "off"})


@dataclass(frozen=True)
class AlertLimits:
    """When a tile raises an alert: down this many minutes, or a scrap rate above this fraction."""

    down_minutes: float
    scrap_rate: float


@dataclass
class Tile:
    code: str
    name: str
    state: str
    since_ms: int | None
    good: int = 0
    scrap: int = 0
    oee: float | None = None
    availability: float | None = None
    job: str | None = None
    no_data_since_ms: int | None = None  # offline: its last sample's time (else since when it is offline)
    no_data_since: str | None = None  # the same as the site's local time of day


@dataclass
class OrderLine:
    number: str
    product: str
    progress: WorkOrderProgress


@dataclass
class Alert:
    kind: str  # machine_down | scrap_rate | order_late | data_loss
    subject: str
    value: float
    start: str | None = None  # data_loss: local times the dropped samples span ("HH:MM", or "MM-DD HH:MM")
    end: str | None = None
    link: str | None = None  # the page of the machine or order it is about


@dataclass
class SpcFlag:
    characteristic_id: int
    name: str
    rules: list[str]  # the Western Electric rules that fired ("1".."4", "R1"), see server/domain/spc.py


@dataclass
class LineScrap:
    """A line's scrap today against yesterday's, and the reason operators gave most often today."""

    line: str | None  # None: machines on no line
    good: int
    scrap: int
    yesterday: float | None  # yesterday's scrap rate (None: nothing made)
    top_reason: str | None = None

    @property
    def rate(self) -> float | None:
        total = self.good + self.scrap
        return self.scrap / total if total else None

    @property
    def worse(self) -> bool:
        """Clearly worse than yesterday: half as much again, and at least one point more."""
        if self.rate is None or self.yesterday is None:
            return False
        return self.rate >= 1.5 * self.yesterday and self.rate - self.yesterday >= 0.01


@dataclass
class BossView:
    site: Site | None
    day: date
    orders: list[OrderLine]
    tiles: list[Tile]
    downtime: list[tuple[str, int]]  # reason label, minutes
    good: int
    scrap: int
    inspections_due: int
    open_ncs: int
    alerts: list[Alert] = field(default_factory=list)
    spc_flags: list[SpcFlag] = field(default_factory=list)
    scrap_lines: list[LineScrap] = field(default_factory=list)
    time: SiteTime = field(
        default_factory=lambda: SiteTime.named(None)
    )  # every time shown, in the site's zone

    @property
    def scrap_rate(self) -> float | None:
        total = self.good + self.scrap
        return self.scrap / total if total else None


def day_start_ms(tz: ZoneInfo, now: int) -> tuple[date, int]:
    today = datetime.fromtimestamp(now / 1000, tz).date()
    return today, int(datetime.combine(today, time(0), tzinfo=tz).timestamp() * 1000)


def open_orders(session: Session, tz_name: str) -> list[OrderLine]:
    stmt = (
        select(WorkOrder, Product)
        .join(Product, col(Product.id) == WorkOrder.product_id)
        .where(col(WorkOrder.status).in_(OPEN_STATUSES))
    )
    rows = session.exec(stmt).all()
    done = progress.progress_many(session, [o for o, _ in rows], tz_name)
    lines = [OrderLine(o.number, p.name, prog) for (o, p), prog in zip(rows, done, strict=True)]
    lines.sort(key=lambda line: (not line.progress.late, line.progress.due_date or date.max, line.number))
    return lines


def _counts_today(session: Session, since: int) -> dict[int, tuple[int, int]]:
    stmt = (
        select(CountEvent.machine_id, func.sum(CountEvent.good), func.sum(CountEvent.scrap))
        .where(CountEvent.ts_ms >= since)
        .group_by(col(CountEvent.machine_id))
    )
    return {mid: (int(g or 0), int(s or 0)) for mid, g, s in session.exec(stmt).all()}


def _oee_today(session: Session, site: Site | None, today: date) -> dict[int, Any]:
    """The OEE figures per machine for today (the reports' own, shift plan and all)."""
    if site is None:
        return {}
    rows = oee.by_day(oee.oee_rows(session, site, today, today))
    return {row.machine_id: row.figures for row in rows}


def running_jobs(session: Session) -> dict[int | None, str]:
    """The work-order number each machine runs now (one query)."""
    stmt = select(Operation.machine_id, WorkOrder.number).join(
        WorkOrder, col(WorkOrder.id) == Operation.work_order_id
    ).where(Operation.status == "running")  # fmt: skip
    return dict(session.exec(stmt).all())


def _last_samples(session: Session, machine_ids: list[int]) -> dict[int, int]:
    """The time of each machine's last counter or state sample."""
    if not machine_ids:
        return {}
    stmt = (
        select(SignalState.machine_id, func.max(SignalState.ts_ms))
        .where(col(SignalState.machine_id).in_(machine_ids))
        .group_by(col(SignalState.machine_id))
    )
    return {int(m): int(ts) for m, ts in session.exec(stmt).all() if ts is not None}


def machine_tiles(session: Session, site: Site | None, today: date, since: int, now: int) -> list[Tile]:
    stmt = select(Machine).order_by(col(Machine.code))
    if site is not None:
        stmt = stmt.where(Machine.site_id == site.id)
    machines = session.exec(stmt).all()
    counts = _counts_today(session, since)
    figures = _oee_today(session, site, today)
    jobs = running_jobs(session)
    segments = oee.segments(session, [m.id or 0 for m in machines], since, None, now)
    tiles = []
    offline = [m.id or 0 for m in machines if segments[m.id or 0] and segments[m.id or 0][-1][0] == "offline"]
    last_samples = _last_samples(session, offline)
    for m in machines:
        segs = segments[m.id or 0]
        last = segs[-1] if segs else None
        tile = Tile(m.code, m.name, last[0] if last else "unknown", last[1] if last else None)
        if tile.state == "offline":
            tile.no_data_since_ms = ms = last_samples.get(m.id or 0) or tile.since_ms
            zone = ZoneInfo(site.timezone or "UTC") if site is not None else ZoneInfo("UTC")
            if ms is not None:
                tile.no_data_since = datetime.fromtimestamp(ms / 1000, zone).strftime("%H:%M:%S")
        tile.good, tile.scrap = counts.get(m.id or 0, (0, 0))
        fig = figures.get(m.id or 0)
        tile.oee = fig.oee if fig is not None and fig.planned_ms > 0 else None
        tile.availability = fig.availability if fig is not None and fig.planned_ms > 0 else None
        if tile.availability is None:
            tile.availability = observed_availability(segs, since, now)
        tile.job = jobs.get(m.id)
        tiles.append(tile)
    return tiles


def top_downtime(
    session: Session, since: int, now: int, locale: str, limit: int = 5
) -> list[tuple[str, int]]:
    labels = {r.code: (r.label_zh if locale == "zh_CN" else r.label_en)
              for r in session.exec(select(ReasonCode).where(ReasonCode.kind == "downtime"))}  # fmt: skip
    totals: dict[str, int] = {}
    for ev in stops.overlapping(session, since, now):
        span = max(0, min(ev.end_ms or now, now) - max(ev.start_ms, since))
        key = labels.get(ev.reason_code or "", ev.reason_code or "?")
        totals[key] = totals.get(key, 0) + span
    ranked = sorted(totals.items(), key=lambda kv: -kv[1])[:limit]
    return [(label, round(ms / 60000)) for label, ms in ranked]


def scrap_by_line(session: Session, site: Site | None, since: int, now: int, locale: str) -> list[LineScrap]:
    """Per line, worst first: today's good and scrap (machine counts, else operators' reports where a line's
    machines counted nothing that day), yesterday's rate over the whole day, today's top scrap reason."""
    machines = select(Machine.id, Machine.line_id)
    if site is not None:
        machines = machines.where(Machine.site_id == site.id)
    line_of = dict(session.exec(machines).all())
    names = dict(session.exec(select(Line.id, Line.name)).all())
    yesterday_since = since - 86_400_000  # near enough across a DST change: a comparison, not a report
    today = _line_totals(session, line_of, since, now)
    before = _line_totals(session, line_of, yesterday_since, since)
    reasons = _top_scrap_reasons(session, line_of, since, now, locale)
    found = []
    for line_id in sorted(set(today) | set(before), key=lambda i: (i is None, names.get(i or 0, ""))):
        good, scrap = today.get(line_id, (0, 0))
        old_good, old_scrap = before.get(line_id, (0, 0))
        yesterday = old_scrap / (old_good + old_scrap) if old_good + old_scrap else None
        name = names.get(line_id) if line_id is not None else None
        found.append(LineScrap(name, good, scrap, yesterday, reasons.get(line_id)))
    return sorted(found, key=lambda s: -(s.rate or 0.0))


def _line_totals(
    session: Session, line_of: dict[int | None, int | None], start: int, end: int
) -> dict[int | None, tuple[int, int]]:
    machine = session.exec(
        select(CountEvent.machine_id, func.sum(CountEvent.good), func.sum(CountEvent.scrap))
        .where(CountEvent.ts_ms >= start, CountEvent.ts_ms < end)
        .group_by(col(CountEvent.machine_id))
    ).all()
    manual = session.exec(
        select(Operation.machine_id, func.sum(WorkReport.good), func.sum(WorkReport.scrap))
        .join(Operation, col(Operation.id) == col(WorkReport.operation_id))
        .where(WorkReport.ts_ms >= start, WorkReport.ts_ms < end)
        .group_by(col(Operation.machine_id))
    ).all()
    by_machine = _sum_by_line(line_of, machine)
    by_hand = _sum_by_line(line_of, manual)
    return {line: by_machine.get(line) or by_hand[line] for line in set(by_machine) | set(by_hand)}


def _sum_by_line(
    line_of: dict[int | None, int | None], rows: Sequence[tuple[int | None, Any, Any]]
) -> dict[int | None, tuple[int, int]]:
    totals: dict[int | None, tuple[int, int]] = {}
    for machine_id, good, scrap in rows:
        if machine_id is not None and machine_id not in line_of:
            continue  # another site's machine
        line = line_of.get(machine_id)
        old_good, old_scrap = totals.get(line, (0, 0))
        if int(good or 0) + int(scrap or 0):
            totals[line] = (old_good + int(good or 0), old_scrap + int(scrap or 0))
    return totals


def _top_scrap_reasons(
    session: Session, line_of: dict[int | None, int | None], start: int, end: int, locale: str
) -> dict[int | None, str]:
    rows = session.exec(
        select(Operation.machine_id, WorkReport.scrap_reason, func.sum(WorkReport.scrap))
        .join(Operation, col(Operation.id) == col(WorkReport.operation_id))
        .where(WorkReport.ts_ms >= start, WorkReport.ts_ms < end, WorkReport.scrap > 0,
               col(WorkReport.scrap_reason).is_not(None))
        .group_by(col(Operation.machine_id), col(WorkReport.scrap_reason))
    ).all()  # fmt: skip
    labels = {r.code: (r.label_zh if locale == "zh_CN" else r.label_en)
              for r in session.exec(select(ReasonCode).where(ReasonCode.kind == "scrap"))}  # fmt: skip
    by_line: dict[int | None, dict[str, int]] = {}
    for machine_id, reason, scrap in rows:
        if reason is None or (machine_id is not None and machine_id not in line_of):
            continue
        counts = by_line.setdefault(line_of.get(machine_id), {})
        counts[reason] = counts.get(reason, 0) + int(scrap or 0)
    top = {line: max(counts, key=lambda code: counts[code]) for line, counts in by_line.items()}
    return {line: labels.get(code, code) for line, code in top.items()}


def _manual_today(session: Session, since: int) -> tuple[int, int]:
    stmt = select(func.sum(WorkReport.good), func.sum(WorkReport.scrap)).where(WorkReport.ts_ms >= since)
    good, scrap = session.exec(stmt).one()
    return int(good or 0), int(scrap or 0)


def spc_flags(session: Session) -> list[SpcFlag]:
    """Characteristics out of statistical control now (SPC's flag: a signal among the last subgroups)."""
    return [
        SpcFlag(char.id or 0, char.name, sorted({v.rule for v in chart.violations}))
        for char, chart in spc.out_of_control(session)
    ]


def alerts(view: BossView, limits: AlertLimits, now: int) -> list[Alert]:
    found: list[Alert] = []
    for tile in view.tiles:
        machine_page = f"/boss/machines/{tile.code}"
        if tile.state in DOWN_STATES and tile.since_ms is not None and (tile.state == "fault" or tile.job):
            minutes = (now - tile.since_ms) / 60000
            if minutes >= limits.down_minutes:
                found.append(Alert("machine_down", tile.name, round(minutes), link=machine_page))
        total = tile.good + tile.scrap
        if total and tile.scrap / total > limits.scrap_rate:
            rate = round(100 * tile.scrap / total, 1)
            found.append(Alert("scrap_rate", tile.name, rate, link=machine_page))
    found += [
        Alert("order_late", line.number, line.progress.percent, link=f"/boss/orders/{line.number}")
        for line in view.orders
        if line.progress.late
    ]
    return found


def data_loss_alerts(session: Session, site_code: str, since_ms: int, tz_name: str = "UTC") -> list[Alert]:
    """Edges that dropped samples from a full outbox today (machine data lost for good: never counts),
    with the span of the dropped samples' own times where the edge reported it."""
    stmt = select(DataLossEpisode).where(
        DataLossEpisode.site == site_code, DataLossEpisode.last_ms >= since_ms
    )
    lost: dict[str, int] = {}
    spans: dict[str, tuple[int, int]] = {}
    for episode in session.exec(stmt).all():
        edge = episode.edge_id
        lost[edge] = lost.get(edge, 0) + sum((episode.samples or {}).values())
        if episode.from_ms is not None and episode.to_ms is not None:
            low, high = spans.get(edge, (episode.from_ms, episode.to_ms))
            spans[edge] = (min(low, episode.from_ms), max(high, episode.to_ms))
    local = SiteTime.named(tz_name)
    today = local.local(since_ms).date()
    found = []
    for edge, samples in sorted(lost.items()):
        alert = Alert("data_loss", edge, samples)
        if edge in spans:
            alert.start, alert.end = (local.clock_text(ms, today) for ms in spans[edge])
        found.append(alert)
    return found


def boss_view(session: Session, site_code: str, limits: AlertLimits, locale: str) -> BossView:
    site = session.exec(select(Site).where(Site.code == site_code)).first()
    tz_name = site.timezone if site else "UTC"
    now = now_ms()
    today, since = oee.production_day(session, site, now) if site else day_start_ms(ZoneInfo(tz_name), now)
    tiles = machine_tiles(session, site, today, since, now)
    good, scrap = sum(t.good for t in tiles), sum(t.scrap for t in tiles)
    if good + scrap == 0:
        good, scrap = _manual_today(session, since)
    open_ncs = session.exec(
        select(func.count()).select_from(Nonconformance).where(Nonconformance.status != "closed")
    )
    view = BossView(
        site=site, day=today, orders=open_orders(session, tz_name), tiles=tiles,
        downtime=top_downtime(session, since, now, locale), good=good, scrap=scrap,
        inspections_due=inspections.pending_count(session), open_ncs=int(open_ncs.one()),
    )  # fmt: skip
    view.time = SiteTime.named(tz_name)
    view.alerts = alerts(view, limits, now) + data_loss_alerts(session, site_code, since, tz_name)
    view.spc_flags = spc_flags(session)
    view.scrap_lines = scrap_by_line(session, site, since, now, locale)
    return view


@dataclass
class OrderDetail:
    """An order as the boss's order page shows it: progress, reports, inspections, lots in and out."""

    order: WorkOrder
    progress: WorkOrderProgress
    op_steps: dict[int | None, int]
    reports: Sequence[tuple[WorkReport, User | None]]
    inspections: Sequence[tuple[InspectionRecord, InspectionPlan]]
    lots_in: Sequence[tuple[MaterialLot, LotConsumption]]
    lots_out: Sequence[MaterialLot]
    time: SiteTime


def order_detail(session: Session, number: str, site_code: str | None = None) -> OrderDetail:
    order = wo.get(session, number)
    ops = wo.operations(session, order.id or 0)
    op_ids = [op.id for op in ops]
    reports = session.exec(
        select(WorkReport, User).outerjoin(User, col(User.id) == WorkReport.operator_id)
        .where(WorkReport.work_order_id == order.id).order_by(col(WorkReport.ts_ms).desc()).limit(100)
    ).all()  # fmt: skip
    inspections = session.exec(
        select(InspectionRecord, InspectionPlan)
        .join(InspectionPlan, col(InspectionPlan.id) == InspectionRecord.plan_id)
        .where(InspectionRecord.work_order_id == order.id).order_by(col(InspectionRecord.created_at))
    ).all()  # fmt: skip
    lots_in = session.exec(
        select(MaterialLot, LotConsumption).join(LotConsumption, col(LotConsumption.lot_id) == MaterialLot.id)
        .where(col(LotConsumption.operation_id).in_(op_ids))
    ).all()  # fmt: skip
    lots_out = session.exec(
        select(MaterialLot).where(col(MaterialLot.produced_by_operation_id).in_(op_ids))
    ).all()
    local = sites.site_time(session, site_code)
    steps = {op.id: op.step_no for op in ops}
    return OrderDetail(order, progress.progress(session, order, local.name), steps,
                       reports, inspections, lots_in, lots_out, local)  # fmt: skip


@dataclass
class MachineDetail:
    """A machine's page: its trendable tags and its state timeline over the last hours (percent spans)."""

    machine: Machine
    tags: list[str]
    timeline: list[dict[str, Any]]


def machine_detail(session: Session, machine: Machine, since: int, now: int) -> MachineDetail:
    tags = session.exec(select(Tag).where(Tag.machine_id == machine.id).order_by(col(Tag.name))).all()
    segs = oee.segments(session, [machine.id or 0], since, None, now)[machine.id or 0]
    timeline = [
        {
            "state": state,
            "left": 100 * (max(start, since) - since) / (now - since),
            "width": 100 * (min(end, now) - max(start, since)) / (now - since),
        }
        for state, start, end in segs
    ]
    shown = [t.name for t in tags if t.role in ("analog", "counter", "scrap_counter")]
    return MachineDetail(machine, shown, timeline)

"""What each alert rule watches: `findings(session, rule, ctx)` lists the subjects for which the rule's
condition holds now (a machine down past its minutes, a late order, an open NC...). The engine
(server/domain/alert_engine.py) turns their coming and going into episodes and messages."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, func, select

from server.domain import boss_view as bv
from server.domain import inspections
from server.domain.oee import current_shift
from server.models.alerts import AlertRule
from server.models.ingest import CountEvent, DataLossEpisode, EdgeStatus, MachineStateSegment
from server.models.plant import Machine, Site
from server.models.quality import Nonconformance

DEFAULT_DOWN_MIN = 10.0
DEFAULT_OFFLINE_MIN = 5.0
DEFAULT_LOSS_WINDOW_MIN = 60.0
DEFAULT_SCRAP_RATE = 0.05
SCRAP_MIN_PARTS = 20  # a scrap rate over fewer parts says little (1 bad of 3 is not 33 %)


@dataclass(frozen=True)
class Context:
    site: Site | None
    now: int  # ms
    base_url: str  # links in messages point here (TAKT_PUBLIC_URL)
    brief_morning: str | None = None  # "07:30": the daily brief for yesterday (TAKT_BRIEF_MORNING)
    brief_shift_end: bool = True  # a brief at each shift's end (TAKT_BRIEF_AT_SHIFT_END)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.site.timezone if self.site and self.site.timezone else "UTC")


@dataclass(frozen=True)
class Finding:
    subject: str  # stable key of what the episode is about: "machine:M1"
    label: str  # how a message names it
    value: float | None  # minutes down, scrap rate, percent done, samples lost...
    link: str  # the page it comes from
    ready: bool = True  # False: the condition holds but not yet for the rule's minutes
    start_ms: int | None = None  # when the condition began (machines that stop together are grouped)


def _machines(session: Session, rule: AlertRule, ctx: Context) -> list[Machine]:
    stmt = select(Machine).order_by(col(Machine.code))
    if ctx.site is not None:
        stmt = stmt.where(Machine.site_id == ctx.site.id)
    if rule.line_id is not None:
        stmt = stmt.where(Machine.line_id == rule.line_id)
    if rule.machine_id is not None:
        stmt = stmt.where(Machine.id == rule.machine_id)
    return list(session.exec(stmt).all())


def machine_down(session: Session, rule: AlertRule, ctx: Context) -> list[Finding]:
    """In fault, or stopped while a job runs on it (the boss page's rule), at least `threshold` minutes; the
    ones down for less come back not `ready` (the engine groups them with machines that stopped with them)."""
    machines = {m.id: m for m in _machines(session, rule, ctx)}
    seg = MachineStateSegment
    stmt = select(seg.machine_id, seg.state, seg.start_ms).where(
        col(seg.end_ms).is_(None), col(seg.machine_id).in_(list(machines))
    )
    jobs = bv.running_jobs(session)
    limit_ms = 60000 * (rule.threshold if rule.threshold is not None else DEFAULT_DOWN_MIN)
    found = []
    for machine_id, state, start in session.exec(stmt).all():
        if state == "fault" or (state in bv.DOWN_STATES and jobs.get(machine_id) is not None):
            m, minutes = machines[machine_id], round((ctx.now - start) / 60000, 1)
            link = f"{ctx.base_url}/boss/machines/{m.code}"
            found.append(
                Finding(f"machine:{m.code}", m.name, minutes, link, ctx.now - start >= limit_ms, start)
            )
    return found


def scrap_rate(session: Session, rule: AlertRule, ctx: Context) -> list[Finding]:
    """Scrap above `threshold` (a fraction) of the parts a machine counted in the shift now running (since the
    site's midnight when no shift covers now). Each shift is an episode of its own: a shift over the limit
    alerts once, and its episode ends with it."""
    machines = {m.id: m for m in _machines(session, rule, ctx)}
    if ctx.site is not None:
        shift, since = current_shift(session, ctx.site, ctx.now)
    else:
        shift, since = None, bv.day_start_ms(ctx.zone, ctx.now)[1]
    stmt = (
        select(CountEvent.machine_id, func.sum(CountEvent.good), func.sum(CountEvent.scrap))
        .where(CountEvent.ts_ms >= since, col(CountEvent.machine_id).in_(list(machines)))
        .group_by(col(CountEvent.machine_id))
    )
    limit = rule.threshold if rule.threshold is not None else DEFAULT_SCRAP_RATE
    found = []
    for machine_id, good, scrap in session.exec(stmt).all():
        total = int(good or 0) + int(scrap or 0)
        if total >= SCRAP_MIN_PARTS and int(scrap or 0) / total > limit:
            m = machines[machine_id]
            rate = round(int(scrap or 0) / total, 3)
            label = f"{m.name} ({shift})" if shift else m.name
            link = f"{ctx.base_url}/boss/machines/{m.code}"
            found.append(Finding(f"machine:{m.code}:{since}", label, rate, link))
    return found


def _orders(session: Session, ctx: Context, late: bool) -> list[Finding]:
    """Open orders past their due day (`late`), or not yet but whose ETA falls after it (progress's `late`
    flag: the ETA, or now when there is none, after the due day)."""
    tz = ctx.site.timezone if ctx.site else "UTC"
    today = datetime.fromtimestamp(ctx.now / 1000, ctx.zone).date()
    found = []
    for line in bv.open_orders(session, tz):
        p = line.progress
        past_due = p.due_date is not None and today > p.due_date
        if past_due if late else (p.late and not past_due):
            link = f"{ctx.base_url}/boss/orders/{line.number}"
            found.append(Finding(f"order:{line.number}", f"{line.number} {line.product}", p.percent, link))
    return found


def order_late(session: Session, rule: AlertRule, ctx: Context) -> list[Finding]:
    return _orders(session, ctx, late=True)


def order_at_risk(session: Session, rule: AlertRule, ctx: Context) -> list[Finding]:
    """Not late yet, but its estimated end falls after its due day."""
    return _orders(session, ctx, late=False)


def nc_opened(session: Session, rule: AlertRule, ctx: Context) -> list[Finding]:
    stmt = select(Nonconformance).where(Nonconformance.status != "closed").order_by(col(Nonconformance.id))
    return [
        Finding(f"nc:{nc.id}", f"NC-{nc.id} {nc.description[:80]}", nc.quantity, f"{ctx.base_url}/boss")
        for nc in session.exec(stmt).all()
    ]


def spc_violation(session: Session, rule: AlertRule, ctx: Context) -> list[Finding]:
    return [
        Finding(f"spc:{flag.characteristic_id}", f"{flag.name} ({', '.join(flag.rules)})", None,
                f"{ctx.base_url}/reports/spc/{flag.characteristic_id}")
        for flag in bv.spc_flags(session)
    ]  # fmt: skip


def inspection_overdue(session: Session, rule: AlertRule, ctx: Context) -> list[Finding]:
    due = inspections.pending_count(session)
    return [Finding("inspections", "inspections due", due, f"{ctx.base_url}/boss")] if due else []


def edge_offline(session: Session, rule: AlertRule, ctx: Context) -> list[Finding]:
    limit_ms = 60000 * (rule.threshold if rule.threshold is not None else DEFAULT_OFFLINE_MIN)
    stmt = select(EdgeStatus).where(col(EdgeStatus.online).is_(False))
    if ctx.site is not None:
        stmt = stmt.where(EdgeStatus.site == ctx.site.code)
    return [
        Finding(
            f"edge:{e.edge_id}",
            e.edge_id,
            round((ctx.now - e.received_ms) / 60000, 1),
            f"{ctx.base_url}/admin/edges",
        )
        for e in session.exec(stmt).all()
        if ctx.now - e.received_ms >= limit_ms
    ]


def data_loss(session: Session, rule: AlertRule, ctx: Context) -> list[Finding]:
    """Edges that dropped samples within the last `threshold` minutes (data lost for good)."""
    window_ms = 60000 * (rule.threshold if rule.threshold is not None else DEFAULT_LOSS_WINDOW_MIN)
    stmt = select(DataLossEpisode).where(DataLossEpisode.last_ms >= ctx.now - window_ms)
    if ctx.site is not None:
        stmt = stmt.where(DataLossEpisode.site == ctx.site.code)
    lost: dict[str, int] = {}
    for episode in session.exec(stmt).all():
        lost[episode.edge_id] = lost.get(episode.edge_id, 0) + sum((episode.samples or {}).values())
    return [Finding(f"edge:{e}", e, n, f"{ctx.base_url}/admin/edges") for e, n in sorted(lost.items())]


CONDITIONS: dict[str, Callable[[Session, AlertRule, Context], list[Finding]]] = {
    "machine_down": machine_down,
    "scrap_rate": scrap_rate,
    "order_late": order_late,
    "order_at_risk": order_at_risk,
    "nc_opened": nc_opened,
    "spc_violation": spc_violation,
    "inspection_overdue": inspection_overdue,
    "edge_offline": edge_offline,
    "data_loss": data_loss,
}

"""The wage sheet: piece-rate pay per operator and day, and per pay period, from the operators' work reports.

Each report pays at the rate of its product and routing step in force on the report's local day for the
operator's skill level (else the rate for every level); a step without a rate shows its parts unpriced.
Scrap rules: `unpaid` (good parts only), `deduct` (scrap parts deducted at the rate), `material_share`
(scrap whose reason is one of the rate's material causes paid at `material_share_pct` of the rate). A `team`
rate pools the step's pay of a day (per work-order operation) and splits it among the operators who reported
on it by their hours on the station that day (equally when nobody was signed in). Line amounts are rounded
to 0.01 (half up); team shares by largest remainder, so they add up to the pool.

Reconciliation: on an operation whose machine counts parts itself (a counter tag), the hand-reported good
parts of a day are compared with the machine's count of that operation that day; above it, every operator
who reported is flagged (own report, everyone's, machine's), else the lines are marked machine-backed.

Everything is read with two grouped queries (reports, machine counts) whatever the number of reports;
pricing runs over the groups (operator x day x operation x scrap reason).
"""

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy import case, func
from sqlmodel import Session, col, select

from server.core.errors import Conflict
from server.core.sitetime import SiteTime
from server.domain import count_sums, pay_periods, station_hours
from server.domain.pay_periods import Period
from server.models.auth import User
from server.models.catalog import Product
from server.models.pay import OperatorSkill, PayPeriod, PieceRate, WageAdjustment
from server.models.plant import Tag
from server.models.production import Operation, WorkOrder, WorkReport
from server.models.types import now_ms
from shared.messages import COUNTER_ROLES

GOOD_COUNTERS = sorted(COUNTER_ROLES - {"scrap_counter"})  # machines that count good parts themselves
CENT_E4 = 100


@dataclass(frozen=True)
class Group:
    """Reports of one operator, day, operation and scrap reason."""

    user_id: int
    day: date
    operation_id: int
    work_order: str
    product_id: int
    step_no: int
    step_name: str
    machine_id: int | None
    reason: str | None
    good: int
    scrap: int


@dataclass
class WageLine:
    username: str
    name: str
    day: date
    product: str
    step_no: int
    step_name: str
    good: int
    scrap: int
    rate_e4: int | None
    amount_e4: int
    machine_backed: bool
    team: bool
    late: bool  # a report made after its period closed, paid here


@dataclass(frozen=True)
class Flag:
    username: str
    day: date
    work_order: str
    step_no: int
    reported: int  # this operator's good parts
    reported_all: int  # everyone's
    machine: int  # the machine's count


@dataclass
class DayTotal:
    username: str
    day: date
    pieces: int = 0
    amount_e4: int = 0
    hours: float = 0.0


@dataclass
class OperatorTotal:
    username: str
    name: str
    pieces: int = 0
    amount_e4: int = 0
    adjustments_e4: int = 0
    hours: float = 0.0

    @property
    def total_e4(self) -> int:
        return self.amount_e4 + self.adjustments_e4


@dataclass
class WageSheet:
    period: Period
    closed: PayPeriod | None
    lines: list[WageLine] = field(default_factory=list)
    adjustments: list[tuple[str, WageAdjustment]] = field(default_factory=list)  # (username, line)
    flags: list[Flag] = field(default_factory=list)
    days: list[DayTotal] = field(default_factory=list)
    operators: list[OperatorTotal] = field(default_factory=list)

    @property
    def total_e4(self) -> int:
        return sum(o.total_e4 for o in self.operators)


def round_cents(value_e4: Decimal | int) -> int:
    return int((Decimal(value_e4) / CENT_E4).quantize(Decimal(1), rounding=ROUND_HALF_UP)) * CENT_E4


def per_hour_e4(amount_e4: int, hours: float) -> int | None:
    return round_cents(Decimal(amount_e4) / Decimal(str(round(hours, 6)))) if hours > 0 else None


def _spans(local: SiteTime, days: Sequence[date]) -> list[tuple[date, int, int]]:
    return [(d, *local.day_span_ms(d)) for d in days]


def _groups(
    session: Session,
    period: Period,
    spans: list[tuple[date, int, int]],
    closed: PayPeriod | None,
    user_id: int | None,
) -> list[Group]:
    """The period's reports grouped by operator, day, operation and scrap reason, in one query."""
    day = case(*[(col(WorkReport.ts_ms) < end, n) for n, (_, _, end) in enumerate(spans)], else_=len(spans))
    inner = sa.select(
        col(WorkReport.operator_id).label("user_id"),
        day.label("day"),
        col(WorkReport.operation_id).label("op"),
        col(WorkReport.scrap_reason).label("reason"),
        col(WorkReport.good).label("good"),
        col(WorkReport.scrap).label("scrap"),
    ).where(
        col(WorkReport.ts_ms) >= period.start_ms,
        col(WorkReport.ts_ms) < period.end_ms,
        col(WorkReport.operator_id).is_not(None),
    )
    if closed is not None:
        inner = inner.where(col(WorkReport.created_at) <= closed.closed_at)
    if user_id is not None:  # the operator's operations, with everyone's reports on them (team pools)
        mine = select(WorkReport.operation_id).where(
            WorkReport.operator_id == user_id,
            col(WorkReport.ts_ms) >= period.start_ms,
            col(WorkReport.ts_ms) < period.end_ms,
        )
        inner = inner.where(col(WorkReport.operation_id).in_(mine))
    sub = inner.subquery()
    columns: list[Any] = [
        sub.c.user_id, sub.c.day, sub.c.op, sub.c.reason, func.sum(sub.c.good), func.sum(sub.c.scrap),
        WorkOrder.number, WorkOrder.product_id, Operation.step_no, Operation.name, Operation.machine_id,
    ]  # fmt: skip
    stmt = (
        sa.select(*columns)
        .join(Operation, col(Operation.id) == sub.c.op)
        .join(WorkOrder, col(WorkOrder.id) == Operation.work_order_id)
        .group_by(*columns[:4], *columns[6:])
    )
    return [
        Group(
            user_id=u,
            day=spans[d][0],
            operation_id=op,
            work_order=number,
            product_id=product,
            step_no=step,
            step_name=name,
            machine_id=machine,
            reason=reason,
            good=int(good),
            scrap=int(scrap),
        )
        for u, d, op, reason, good, scrap, number, product, step, name, machine in session.execute(stmt).all()
    ]


def _late_groups(session: Session, period: Period, local: SiteTime, user_id: int | None) -> list[Group]:
    """Reports made during `period` for days of a period closed before they were made (one group each)."""
    start, end = local.local(period.start_ms), local.local(period.end_ms)
    stmt = (
        select(WorkReport, WorkOrder, Operation)
        .join(Operation, col(Operation.id) == WorkReport.operation_id)
        .join(WorkOrder, col(WorkOrder.id) == WorkReport.work_order_id)
        .join(
            PayPeriod,
            (col(WorkReport.ts_ms) >= PayPeriod.start_ms) & (col(WorkReport.ts_ms) < PayPeriod.end_ms),
        )
        .where(
            col(WorkReport.created_at) > PayPeriod.closed_at,
            col(WorkReport.created_at) >= start,
            col(WorkReport.created_at) < end,
            col(WorkReport.operator_id).is_not(None),
        )
    )
    if user_id is not None:
        stmt = stmt.where(WorkReport.operator_id == user_id)
    return [
        Group(
            user_id=r.operator_id or 0,
            day=local.local(r.ts_ms).date(),
            operation_id=r.operation_id,
            work_order=order.number,
            product_id=order.product_id,
            step_no=op.step_no,
            step_name=op.name,
            machine_id=op.machine_id,
            reason=r.scrap_reason,
            good=r.good,
            scrap=r.scrap,
        )
        for r, order, op in session.exec(stmt).all()
    ]


def _machine_counts(
    session: Session, period: Period, spans: list[tuple[date, int, int]]
) -> dict[tuple[int, date], int]:
    """Good machine counts per (operation, day of `spans`) within `period`."""
    keyed = [(n, max(s, period.start_ms), min(e, period.end_ms)) for n, (_, s, e) in enumerate(spans)]
    sums = count_sums.by_operation(session, [k for k in keyed if k[1] < k[2]])
    return {(op, spans[n][0]): good for n, op, good, _ in sums if op is not None}


class Rates:
    """The piece rates in force, by product, step, skill level and day."""

    def __init__(self, session: Session) -> None:
        self.by_step: dict[tuple[int, int], list[PieceRate]] = defaultdict(list)
        stmt = select(PieceRate).order_by(col(PieceRate.effective_from).desc())
        for rate in session.exec(stmt).all():
            self.by_step[(rate.product_id, rate.step_no)].append(rate)
        self.levels = {s.user_id: s.level for s in session.exec(select(OperatorSkill)).all()}
        self._cache: dict[tuple[int, int, str, date], PieceRate | None] = {}

    def rate(self, product_id: int, step_no: int, user_id: int, day: date) -> PieceRate | None:
        level = self.levels.get(user_id, "")
        key = (product_id, step_no, level, day)
        if key not in self._cache:
            candidates = [r for r in self.by_step.get((product_id, step_no), []) if r.effective_from <= day]
            own = next((r for r in candidates if level and r.skill_level == level), None)
            self._cache[key] = own or next((r for r in candidates if r.skill_level == ""), None)
        return self._cache[key]


def amount_e4(rate: PieceRate, good: int, scrap: int, reason: str | None) -> Decimal:
    """What `good` and `scrap` parts (scrapped for `reason`) pay at `rate`, before rounding."""
    amount = Decimal(good * rate.rate_e4)
    if rate.scrap_rule == "deduct":
        amount -= scrap * rate.rate_e4
    elif rate.scrap_rule == "material_share" and reason and reason in rate.material_reasons.split(","):
        amount += Decimal(scrap * rate.rate_e4 * rate.material_share_pct) / 100
    return amount


def _split(pool_e4: int, weights: dict[int, float]) -> dict[int, int]:
    """`pool_e4` (whole cents) split by `weights` in whole cents, largest remainder first."""
    total = sum(weights.values())
    shares = {u: (w / total if total > 0 else 1 / len(weights)) for u, w in weights.items()}
    cents = pool_e4 // CENT_E4
    exact = {u: Decimal(cents) * Decimal(str(s)) for u, s in shares.items()}
    out = {u: int(v) for u, v in exact.items()}
    for u in sorted(exact, key=lambda u: exact[u] - out[u], reverse=True)[: cents - sum(out.values())]:
        out[u] += 1
    return {u: c * CENT_E4 for u, c in out.items()}


@dataclass
class _Context:
    rates: Rates
    hours: dict[tuple[int, date], float]
    counting: set[int]  # machines with a counter tag
    machine: dict[tuple[int, date], int]
    users: dict[int, User]
    products: dict[int, str]


def _price(groups: Iterable[Group], ctx: _Context, late: bool) -> tuple[list[WageLine], list[Flag]]:
    groups = list(groups)
    hand: dict[tuple[int, date], int] = defaultdict(int)
    for g in groups:
        hand[(g.operation_id, g.day)] += g.good
    own: dict[tuple[int, int, date], int] = defaultdict(int)
    for g in groups:
        own[(g.user_id, g.operation_id, g.day)] += g.good
    flags: dict[tuple[int, int, date], Flag] = {}
    merged: dict[tuple[object, ...], WageLine] = {}
    exact: dict[tuple[object, ...], Decimal] = defaultdict(Decimal)
    pools: dict[tuple[int, date, int], tuple[Decimal, dict[int, float], Group]] = {}
    for g in groups:
        user = ctx.users[g.user_id]
        counted = g.machine_id in ctx.counting
        machine = ctx.machine.get((g.operation_id, g.day), 0)
        over = counted and hand[(g.operation_id, g.day)] > machine
        if over and not late:
            flags[(g.user_id, g.operation_id, g.day)] = Flag(
                user.username,
                g.day,
                g.work_order,
                g.step_no,
                own[(g.user_id, g.operation_id, g.day)],
                hand[(g.operation_id, g.day)],
                machine,
            )
        rate = ctx.rates.rate(g.product_id, g.step_no, g.user_id, g.day)
        key = (g.user_id, g.day, g.product_id, g.step_no, rate.id if rate else None, counted and not over)
        line = merged.get(key)
        if line is None:
            line = merged[key] = WageLine(
                user.username,
                user.display_name,
                g.day,
                ctx.products[g.product_id],
                g.step_no,
                g.step_name,
                0,
                0,
                rate.rate_e4 if rate else None,
                0,
                counted and not over,
                bool(rate and rate.team),
                late,
            )
        line.good += g.good
        line.scrap += g.scrap
        if rate is None:
            continue
        if rate.team:
            pool_key = (g.operation_id, g.day, rate.id or 0)
            amount, members, _ = pools.get(pool_key, (Decimal(0), {}, g))
            members[g.user_id] = ctx.hours.get((g.user_id, g.day), 0.0)
            pools[pool_key] = (amount + amount_e4(rate, g.good, g.scrap, g.reason), members, g)
        else:
            exact[key] += amount_e4(rate, g.good, g.scrap, g.reason)
    for line_key, amount in exact.items():
        merged[line_key].amount_e4 = round_cents(amount)
    for (_, day, rate_id), (amount, members, g) in pools.items():
        counted = g.machine_id in ctx.counting
        over = counted and hand[(g.operation_id, day)] > ctx.machine.get((g.operation_id, day), 0)
        for user_id, share in _split(round_cents(amount), members).items():
            merged[(user_id, day, g.product_id, g.step_no, rate_id, counted and not over)].amount_e4 += share
    return list(merged.values()), list(flags.values())


def _context(
    session: Session,
    groups: list[Group],
    spans: list[tuple[date, int, int]],
    machine: dict[tuple[int, date], int],
) -> _Context:
    user_ids = {g.user_id for g in groups}
    users = {u.id or 0: u for u in session.exec(select(User).where(col(User.id).in_(user_ids))).all()}
    products = {p.id or 0: p.code for p in session.exec(select(Product)).all()}
    counting = set(session.exec(select(Tag.machine_id).where(col(Tag.role).in_(GOOD_COUNTERS))).all())
    hours = station_hours.hours_by_day(session, spans, now_ms(), sorted(user_ids))
    return _Context(Rates(session), hours, counting, machine, users, products)


def sheet(session: Session, period: Period, local: SiteTime, username: str | None = None) -> WageSheet:
    """The wage sheet of `period` (of one operator with `username`)."""
    closed = pay_periods.closed(session, period.start)
    user = session.exec(select(User).where(User.username == username)).first() if username else None
    user_id = (user.id or 0) if user else (None if username is None else -1)
    spans = _spans(local, period.days)
    groups = _groups(session, period, spans, closed, user_id)
    late = _late_groups(session, period, local, user_id)
    late_spans = _spans(local, sorted({g.day for g in late}))
    ctx = _context(
        session, groups + late, sorted(set(spans + late_spans)), _machine_counts(session, period, spans)
    )
    lines, flags = _price(groups, ctx, late=False)
    late_lines, _ = _price(late, ctx, late=True)
    if user_id is not None:
        lines = [ln for ln in lines if user and ln.username == user.username]
        flags = [f for f in flags if user and f.username == user.username]
    adjust = select(WageAdjustment).where(WageAdjustment.period_start == period.start)
    if user_id is not None:
        adjust = adjust.where(WageAdjustment.user_id == user_id)
    adjustments = list(session.exec(adjust.order_by(col(WageAdjustment.id))).all())
    result = WageSheet(
        period,
        closed,
        sorted(lines + late_lines, key=_line_order),
        [],
        sorted(flags, key=lambda f: (f.username, f.day, f.work_order)),
    )
    _totals(session, result, ctx, adjustments)
    return result


def _line_order(line: WageLine) -> tuple[object, ...]:
    return (line.username, line.late, line.day, line.product, line.step_no)


def _totals(session: Session, result: WageSheet, ctx: _Context, adjustments: list[WageAdjustment]) -> None:
    days: dict[tuple[str, date], DayTotal] = {}
    operators: dict[str, OperatorTotal] = {}
    for line in result.lines:
        operator = operators.setdefault(line.username, OperatorTotal(line.username, line.name))
        operator.pieces += line.good
        operator.amount_e4 += line.amount_e4
        if not line.late:
            day = days.setdefault((line.username, line.day), DayTotal(line.username, line.day))
            day.pieces += line.good
            day.amount_e4 += line.amount_e4
    by_id = {u.username: i for i, u in ctx.users.items()}
    for day in days.values():
        day.hours = round(ctx.hours.get((by_id[day.username], day.day), 0.0), 2)
        operators[day.username].hours += day.hours
    for operator in operators.values():
        operator.hours = round(operator.hours, 2)
    others = {a.user_id for a in adjustments} - set(ctx.users)
    people = {u.id: u for u in session.exec(select(User).where(col(User.id).in_(others))).all()} | ctx.users
    for adj in adjustments:
        person = people[adj.user_id]
        result.adjustments.append((person.username, adj))
        operator = operators.setdefault(person.username, OperatorTotal(person.username, person.display_name))
        operator.adjustments_e4 += adj.amount_e4
    result.days = sorted(days.values(), key=lambda d: (d.username, d.day))
    result.operators = sorted(operators.values(), key=lambda o: o.username)


@dataclass(frozen=True)
class OwnFigure:
    """An operator's pieces and pay today and in the pay period so far (adjustments included)."""

    today: date
    pieces_today: int
    amount_today_e4: int
    period: Period
    pieces_period: int
    amount_period_e4: int


def own_figure(session: Session, username: str, start_day: int, local: SiteTime) -> OwnFigure:
    today = local.today()
    period = pay_periods.period_of(today, start_day, local)
    mine = sheet(session, period, local, username)
    days = [d for d in mine.days if d.day == today]
    total = next(iter(mine.operators), None)
    return OwnFigure(
        today, sum(d.pieces for d in days), sum(d.amount_e4 for d in days), period,
        total.pieces if total else 0, total.total_e4 if total else 0,
    )  # fmt: skip


def close_period(session: Session, actor: str, period: Period, local: SiteTime, confirm_flags: bool) -> None:
    """Lock `period` (pay_periods.close); while reports exceed machine counts only with `confirm_flags`, else
    a Conflict whose API answer carries the `flags`."""
    pay_periods.ensure_ended(period, local)
    flags = sheet(session, period, local).flags
    if flags and not confirm_flags:
        err = Conflict(
            "%(count)s reports are above the machines' counts: check them, then confirm to close",
            count=len(flags),
        )
        err.details = {"flags": [{**f.__dict__, "day": f.day.isoformat()} for f in flags]}
        raise err
    pay_periods.close(session, actor, period, local)

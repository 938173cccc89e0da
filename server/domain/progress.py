"""Work-order progress: counts per operation from both sources, percent, rate, ETA and lateness.

The order's count is its last operation's count from the order's source of truth (`count_source`).
The rate is parts per hour of run time over the last hour (runs overlapping it), or over all the
operation's runs when it did not run in the last hour. ETA = now + remaining / rate.
"""

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func
from sqlmodel import Session, col, select

from server.models.ingest import CountEvent
from server.models.orders import CountPair, OperationProgress, WorkOrderProgress
from server.models.plant import Machine
from server.models.production import Operation, OperationRun, WorkOrder, WorkReport
from server.models.types import now_ms

HOUR_MS = 3_600_000


def _run_ms(runs: list[OperationRun], since: int, now: int) -> int:
    return sum(max(0, min(r.end_ms or now, now) - max(r.start_ms, since)) for r in runs)


def _good_since(session: Session, ops: dict[str, list[int]], since: int) -> dict[int, int]:
    """Good parts per operation since `since`, from each operation's source (source -> operation ids)."""
    out: dict[int, int] = {}
    for source, ids in ops.items():
        model = WorkReport if source == "manual" else CountEvent
        if ids:
            stmt = (
                select(model.operation_id, func.sum(model.good))
                .where(col(model.operation_id).in_(ids), col(model.ts_ms) >= since)
                .group_by(col(model.operation_id))
            )
            out.update((op_id or 0, int(good or 0)) for op_id, good in session.exec(stmt).all())
    return out


def _good(op: Operation, source: str) -> tuple[int, int]:
    return (op.good, op.scrap) if source == "manual" else (op.machine_good, op.machine_scrap)


def _rates(session: Session, ops: list[tuple[Operation, str]], now: int) -> dict[int, float | None]:
    """Parts per hour of each started operation (module docstring), in three queries for all of them."""
    started = {op.id or 0: (op, source) for op, source in ops if op.started_ms}
    runs: dict[int, list[OperationRun]] = defaultdict(list)
    if started:
        for run in session.exec(select(OperationRun).where(col(OperationRun.operation_id).in_(started))):
            runs[run.operation_id].append(run)
    recent = {op_id: _run_ms(runs[op_id], now - HOUR_MS, now) for op_id in started}
    by_source: dict[str, list[int]] = defaultdict(list)
    for op_id, ms in recent.items():
        if ms > 0:
            by_source["manual" if started[op_id][1] == "manual" else "machine"].append(op_id)
    last_hour = _good_since(session, by_source, now - HOUR_MS)
    rates: dict[int, float | None] = {}
    for op_id, (op, source) in started.items():
        if recent[op_id] > 0:
            rates[op_id] = last_hour.get(op_id, 0) * HOUR_MS / recent[op_id]
        else:
            total_ms = _run_ms(runs[op_id], 0, now)
            rates[op_id] = _good(op, source)[0] * HOUR_MS / total_ms if total_ms > 0 else None
    return rates


def _op_progress(
    op: Operation, source: str, machines: dict[int, str], rate: float | None
) -> OperationProgress:
    good, scrap = _good(op, source)
    return OperationProgress(
        step_no=op.step_no, name=op.name, status=op.status,
        machine=machines.get(op.machine_id) if op.machine_id else None, planned_qty=op.planned_qty,
        manual=CountPair(good=op.good, scrap=op.scrap),
        machine_counts=CountPair(good=op.machine_good, scrap=op.machine_scrap), source=source, good=good,
        scrap=scrap, percent=round(100.0 * good / op.planned_qty, 1) if op.planned_qty else 0.0,
        rate_per_hour=rate,
    )  # fmt: skip


def _late(order: WorkOrder, eta: datetime | None, tz: ZoneInfo, now: datetime) -> bool:
    if order.due_date is None:
        return False
    if order.status in {"completed", "closed"} and order.completed_at is not None:
        return order.completed_at.astimezone(tz).date() > order.due_date
    if order.status == "cancelled":
        return False
    finish = eta if eta is not None else now
    return finish.astimezone(tz).date() > order.due_date


def progress(session: Session, order: WorkOrder, timezone: str = "UTC") -> WorkOrderProgress:
    return progress_many(session, [order], timezone)[0]


def progress_many(
    session: Session, orders: list[WorkOrder], timezone: str = "UTC"
) -> list[WorkOrderProgress]:
    """The progress of each order, in a handful of queries however many orders (the boss's list)."""
    now = now_ms()
    ops: dict[int, list[Operation]] = defaultdict(list)
    if orders:
        stmt = select(Operation).where(col(Operation.work_order_id).in_([o.id for o in orders]))
        for op in session.exec(stmt.order_by(col(Operation.work_order_id), col(Operation.step_no))):
            ops[op.work_order_id].append(op)
    machine_ids = {
        op.machine_id for order_ops in ops.values() for op in order_ops if op.machine_id is not None
    }
    machines = (
        {m.id: m.code for m in session.exec(select(Machine).where(col(Machine.id).in_(machine_ids)))}
        if machine_ids
        else {}
    )
    source = {order.id: order.count_source for order in orders}
    rates = _rates(
        session, [(op, source[op.work_order_id]) for order_ops in ops.values() for op in order_ops], now
    )
    tz = ZoneInfo(timezone)
    out = []
    for order in orders:
        per_op = [
            _op_progress(op, order.count_source, machines, rates.get(op.id or 0))  # type: ignore[arg-type]
            for op in ops[order.id or 0]
        ]
        out.append(_order_progress(order, per_op, tz, now))
    return out


def _order_progress(
    order: WorkOrder, per_op: list[OperationProgress], tz: ZoneInfo, now: int
) -> WorkOrderProgress:
    last = per_op[-1] if per_op else None
    good, scrap = (last.good, last.scrap) if last else (0, 0)
    rate = last.rate_per_hour if last and last.rate_per_hour else _running_rate(per_op)
    now_dt = datetime.fromtimestamp(now / 1000, UTC)
    remaining = max(0, order.quantity - good)
    eta = now_dt if remaining == 0 else (now_dt + timedelta(hours=remaining / rate) if rate else None)
    if order.status in {"completed", "closed"}:
        eta = order.completed_at
    return WorkOrderProgress(
        number=order.number, status=order.status, quantity=order.quantity, source=order.count_source,
        good=good, scrap=scrap, percent=round(100.0 * good / order.quantity, 1), rate_per_hour=rate, eta=eta,
        due_date=order.due_date, late=_late(order, eta, tz, now_dt), operations=per_op,
    )  # fmt: skip


def _running_rate(per_op: list[OperationProgress]) -> float | None:
    return next((p.rate_per_hour for p in per_op if p.status == "running" and p.rate_per_hour), None)

"""Work-order progress: counts per operation from both sources, percent, rate, ETA and lateness.

The order's count is its last operation's count from the order's source of truth (`count_source`).
The rate is parts per hour of run time over the last hour (runs overlapping it), or over all the
operation's runs when it did not run in the last hour. ETA = now + remaining / rate.
"""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func
from sqlmodel import Session, col, select

from server.domain import workorders as wo
from server.models.ingest import CountEvent
from server.models.orders import CountPair, OperationProgress, WorkOrderProgress
from server.models.plant import Machine
from server.models.production import Operation, OperationRun, WorkOrder, WorkReport
from server.models.types import now_ms

HOUR_MS = 3_600_000


def _run_ms(runs: list[OperationRun], since: int, now: int) -> int:
    return sum(max(0, min(r.end_ms or now, now) - max(r.start_ms, since)) for r in runs)


def _good_since(session: Session, op: Operation, source: str, since: int) -> int:
    if source == "manual":
        stmt = select(func.coalesce(func.sum(WorkReport.good), 0)).where(
            WorkReport.operation_id == op.id, col(WorkReport.ts_ms) >= since
        )
        return int(session.exec(stmt).one())
    stmt = select(func.coalesce(func.sum(CountEvent.good), 0)).where(
        CountEvent.operation_id == op.id, col(CountEvent.ts_ms) >= since
    )
    return int(session.exec(stmt).one())


def rate_per_hour(session: Session, op: Operation, source: str, good: int, now: int) -> float | None:
    runs = list(session.exec(select(OperationRun).where(OperationRun.operation_id == op.id)).all())
    recent_ms = _run_ms(runs, now - HOUR_MS, now)
    if recent_ms > 0:
        return _good_since(session, op, source, now - HOUR_MS) * HOUR_MS / recent_ms
    total_ms = _run_ms(runs, 0, now)
    return good * HOUR_MS / total_ms if total_ms > 0 else None


def _op_progress(
    session: Session, op: Operation, source: str, machines: dict[int, str], now: int
) -> OperationProgress:
    good, scrap = (op.good, op.scrap) if source == "manual" else (op.machine_good, op.machine_scrap)
    return OperationProgress(
        step_no=op.step_no, name=op.name, status=op.status,
        machine=machines.get(op.machine_id) if op.machine_id else None, planned_qty=op.planned_qty,
        manual=CountPair(good=op.good, scrap=op.scrap),
        machine_counts=CountPair(good=op.machine_good, scrap=op.machine_scrap), source=source, good=good,
        scrap=scrap, percent=round(100.0 * good / op.planned_qty, 1) if op.planned_qty else 0.0,
        rate_per_hour=rate_per_hour(session, op, source, good, now) if op.started_ms else None,
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
    now = now_ms()
    ops = wo.operations(session, order.id or 0)
    machine_ids = {op.machine_id for op in ops if op.machine_id is not None}
    machines = {m.id: m.code for m in session.exec(select(Machine).where(col(Machine.id).in_(machine_ids)))}
    per_op = [_op_progress(session, op, order.count_source, machines, now) for op in ops]  # type: ignore[arg-type]
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
        due_date=order.due_date, late=_late(order, eta, ZoneInfo(timezone), now_dt), operations=per_op,
    )  # fmt: skip


def _running_rate(per_op: list[OperationProgress]) -> float | None:
    return next((p.rate_per_hour for p in per_op if p.status == "running" and p.rate_per_hour), None)

"""Manual work reports and the over-quantity rule.

A report's good parts may not take its operation's manual good count beyond
floor(planned_qty * (1 + tolerance)); such a report is refused with Conflict. The check and the
increment happen under a lock on the operation row (BEGIN IMMEDIATE on SQLite, SELECT ... FOR UPDATE
on PostgreSQL), so concurrent reports never exceed the limit together.
"""

import logging
import math
from collections.abc import Callable

from sqlmodel import Session, select

from server.core.errors import Conflict, InvalidInput, NotFound
from server.domain import audit, backflush
from server.domain import workorders as wo
from server.domain.principals import Principal
from server.models.catalog import ReasonCode
from server.models.orders import WorkReportCreate, WorkReportPublic
from server.models.production import Operation, WorkReport
from server.models.types import now_ms

log = logging.getLogger(__name__)
REPORTABLE = frozenset({"released", "in_progress", "paused", "completed"})


def limit_for(op: Operation, tolerance: float) -> int:
    return math.floor(op.planned_qty * (1 + tolerance) + 1e-9)


def _operation(session: Session, order_id: int, step_no: int | None) -> Operation:
    ops = wo.operations(session, order_id)
    if step_no is not None:
        chosen = next((op for op in ops if op.step_no == step_no), None)
        if chosen is None:
            raise NotFound("no operation with step %(step)s", step=step_no)
    else:
        chosen = next((op for op in ops if op.status == "running"), None) or next(
            (op for op in reversed(ops) if op.started_ms is not None), ops[0]
        )
    stmt = select(Operation).where(Operation.id == chosen.id).with_for_update()
    return session.exec(stmt.execution_options(populate_existing=True)).one()


def _check_reason(session: Session, body: WorkReportCreate) -> None:
    if body.scrap == 0:
        return
    if not body.scrap_reason:
        raise InvalidInput("scrap_reason is required when scrap > 0")
    stmt = select(ReasonCode).where(
        ReasonCode.kind == "scrap",
        ReasonCode.code == body.scrap_reason,
        ReasonCode.active == True,  # noqa: E712
    )
    if session.exec(stmt).first() is None:
        raise InvalidInput(
            "scrap_reason %(reason)s is not an active scrap reason code", reason=repr(body.scrap_reason)
        )


def create_report(
    session: Session,
    who: Principal,
    number: str,
    body: WorkReportCreate,
    tolerance: float,
    key: str | None = None,
    before_commit: Callable[[Session, WorkReportPublic], None] | None = None,
) -> WorkReportPublic:
    order = wo.get_locked(session, number)
    if order.status not in REPORTABLE:
        raise Conflict(
            "work order %(number)s is %(status)s; reports are not accepted",
            number=number,
            status=order.status,
        )
    _check_reason(session, body)
    op = _operation(session, order.id or 0, body.step_no)
    limit = limit_for(op, tolerance)
    if op.good + body.good > limit:
        raise Conflict(
            "report of %(good)s good would bring step %(step)s to %(total)s, over the limit of %(limit)s "
            "(%(planned)s planned + %(tolerance)s)",
            good=body.good, step=op.step_no, total=op.good + body.good, limit=limit, planned=op.planned_qty,
            tolerance=format(tolerance, ".0%"),
        )  # fmt: skip
    op.good += body.good
    op.scrap += body.scrap
    report = WorkReport(
        work_order_id=order.id or 0, operation_id=op.id or 0, operator_id=who.user_id, good=body.good,
        scrap=body.scrap, scrap_reason=body.scrap_reason if body.scrap else None, source="manual",
        idempotency_key=key, ts_ms=body.ts_ms or now_ms(),
    )  # fmt: skip
    session.add_all([op, report])
    session.flush()
    audit.record(session, who.username, "WorkReport", report.id, "create", audit.snapshot(report))
    result = WorkReportPublic(
        id=report.id or 0, work_order=number, step_no=op.step_no, good=report.good, scrap=report.scrap,
        scrap_reason=report.scrap_reason, source=report.source, operator=who.username, ts_ms=report.ts_ms,
        operation_good=op.good, operation_scrap=op.scrap,
    )  # fmt: skip
    backflush.run(session, order)
    if before_commit is not None:
        before_commit(session, result)
    session.commit()
    return result

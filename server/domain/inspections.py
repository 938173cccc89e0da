"""The inspection-due rule: inspections due on a running operation, from its product's inspection plans and
the records so far (the station tablet prompts them, the boss page counts them; docs/pages.md).

- `first_article`: due once the operation has started and the plan has no record for this order's step.
- `every_n_parts`: due when the parts made (the larger of machine and manual good + scrap) reached
  (records + 1) * n.
- `every_n_minutes`: due when n minutes passed since the last record (or the operation's start).
Other frequencies (e.g. final) are not prompted on the tablet.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, or_, select

from server.domain import workorders as wo
from server.models.production import Operation, WorkOrder
from server.models.quality import Characteristic, InspectionPlan, InspectionRecord
from server.models.types import now_ms


@dataclass
class Due:
    plan_id: int
    name: str
    frequency: str
    frequency_n: int | None
    characteristics: list[dict[str, Any]]

    def to_json(self) -> dict[str, Any]:
        return {"plan_id": self.plan_id, "name": self.name, "frequency": self.frequency,
                "frequency_n": self.frequency_n, "characteristics": self.characteristics}  # fmt: skip


def _made(op: Operation) -> int:
    return max(op.machine_good + op.machine_scrap, op.good + op.scrap)


def _records(
    session: Session, plan: InspectionPlan, order: WorkOrder, op: Operation
) -> tuple[int, int | None]:
    """(count, newest epoch ms) of this plan's records for the order's operation."""
    stmt = select(func.count(), func.max(InspectionRecord.created_at)).where(
        InspectionRecord.plan_id == plan.id, InspectionRecord.work_order_id == order.id,
        or_(InspectionRecord.operation_id == op.id, col(InspectionRecord.operation_id).is_(None)),
    )  # fmt: skip
    count, newest = session.exec(stmt).one()
    return int(count), _ms(newest)


def _ms(value: datetime | None) -> int | None:
    return int(value.timestamp() * 1000) if value is not None else None


def due_by_records(plan: InspectionPlan, op: Operation, count: int, newest: int | None, now: int) -> bool:
    """The rule itself: is `plan` due on `op`, given its `count` records so far, the `newest` (epoch ms)?"""
    if plan.frequency == "first_article":
        return count == 0 and op.started_ms is not None
    if plan.frequency == "every_n_parts" and plan.frequency_n:
        return _made(op) >= (count + 1) * plan.frequency_n
    if plan.frequency == "every_n_minutes" and plan.frequency_n:
        since = newest or op.started_ms
        return since is not None and now - since >= plan.frequency_n * 60_000
    return False


def is_due(session: Session, plan: InspectionPlan, order: WorkOrder, op: Operation) -> bool:
    count, newest = _records(session, plan, order, op)
    return due_by_records(plan, op, count, newest, now_ms())


def pending_count(session: Session) -> int:
    """How many running or paused operations have an inspection due (the boss's figure), in three queries
    whatever the number of operations and plans."""
    active = session.exec(
        select(Operation, WorkOrder).join(WorkOrder, col(WorkOrder.id) == Operation.work_order_id)
        .where(col(Operation.status).in_(("running", "paused")))
    ).all()  # fmt: skip
    if not active:
        return 0
    products = sorted({order.product_id for _op, order in active})
    plans = session.exec(
        select(InspectionPlan).where(col(InspectionPlan.product_id).in_(products)).order_by(col(InspectionPlan.id))
    ).all()  # fmt: skip
    rec = InspectionRecord
    keys = (col(rec.plan_id), col(rec.work_order_id), col(rec.operation_id))
    stmt = sa_select(*keys, func.count(), func.max(rec.created_at)).where(
        col(rec.work_order_id).in_([order.id for _op, order in active])
    ).group_by(*keys)  # fmt: skip
    records = {
        (plan_id, order_id, op_id): (int(count), _ms(newest))
        for plan_id, order_id, op_id, count, newest in session.execute(stmt).all()
    }
    now = now_ms()

    def due(plan: InspectionPlan, order: WorkOrder, op: Operation) -> bool:
        own = records.get((plan.id or 0, order.id or 0, op.id), (0, None))
        shared = records.get((plan.id or 0, order.id or 0, None), (0, None))  # records of no operation
        newest = max((t for t in (own[1], shared[1]) if t is not None), default=None)
        return due_by_records(plan, op, own[0] + shared[0], newest, now)

    return sum(
        1
        for op, order in active
        if any(
            due(plan, order, op)
            for plan in plans
            if plan.product_id == order.product_id and plan.step_no in (None, op.step_no)
        )
    )


def _characteristics(session: Session, plan_id: int) -> list[dict[str, Any]]:
    stmt = select(Characteristic).where(Characteristic.plan_id == plan_id).order_by(col(Characteristic.id))
    return [{"id": c.id, "name": c.name, "kind": c.kind, "nominal": c.nominal, "lsl": c.lsl, "usl": c.usl,
             "unit": c.unit or ""} for c in session.exec(stmt).all()]  # fmt: skip


def inspections_due(session: Session, number: str, step_no: int) -> list[Due]:
    order = wo.get(session, number)
    op = session.exec(
        select(Operation).where(Operation.work_order_id == order.id, Operation.step_no == step_no)
    ).first()
    if op is None:
        return []
    plans = session.exec(
        select(InspectionPlan)
        .where(
            InspectionPlan.product_id == order.product_id,
            or_(col(InspectionPlan.step_no).is_(None), InspectionPlan.step_no == step_no),
        )
        .order_by(col(InspectionPlan.id))
    ).all()
    return [
        Due(
            plan.id or 0, plan.name, plan.frequency, plan.frequency_n, _characteristics(session, plan.id or 0)
        )
        for plan in plans
        if is_due(session, plan, order, op)
    ]

"""Inspections checked against their plan's limits, and the nonconformance flow.

A numeric value passes when LSL <= value <= USL (a missing limit is open); an attribute passes when
it is ok. A record passes when every value passes and every characteristic has at least one value.
A failed record opens a nonconformance linked to it. Nonconformances go open -> dispositioned
(rework, scrap, use_as_is or return) -> closed.
"""

from collections.abc import Callable

from sqlmodel import Field, Session, SQLModel, col, select

from server.core import events
from server.core.errors import Conflict, InvalidInput
from server.domain import audit, crud
from server.domain import workorders as wo
from server.models.production import Operation
from server.models.quality import (
    Characteristic,
    InspectionPlan,
    InspectionPlanCreate,
    InspectionRecord,
    InspectionValue,
    Nonconformance,
)
from server.models.types import utcnow

NC_FLOW = {"dispositioned": "open", "closed": "dispositioned"}
DISPOSITIONS = frozenset({"rework", "scrap", "use_as_is", "return"})


class ValueIn(SQLModel):
    characteristic_id: int
    sample_no: int = Field(default=1, ge=1)
    value: float | None = None
    ok: bool | None = None


class InspectionIn(SQLModel):
    plan_id: int
    work_order: str = Field(max_length=40)
    step_no: int | None = None
    lot_code: str | None = Field(default=None, max_length=64)
    notes: str | None = Field(default=None, max_length=2000)
    values: list[ValueIn] = Field(min_length=1)


def create_plan(session: Session, actor: str, body: InspectionPlanCreate) -> InspectionPlan:
    if body.frequency in {"every_n_parts", "every_n_minutes"} and not body.frequency_n:
        raise InvalidInput("frequency %(frequency)s needs frequency_n", frequency=body.frequency)
    plan = crud.create(session, actor, InspectionPlan.model_validate(body))
    for char in body.characteristics:
        if char.kind == "numeric" and char.lsl is not None and char.usl is not None and char.lsl > char.usl:
            raise InvalidInput("characteristic %(name)s: LSL above USL", name=char.name)
        session.add(Characteristic.model_validate(char, update={"plan_id": plan.id}))
    session.commit()
    return plan


def characteristics(session: Session, plan_id: int) -> list[Characteristic]:
    stmt = select(Characteristic).where(Characteristic.plan_id == plan_id).order_by(col(Characteristic.id))
    return list(session.exec(stmt).all())


def check(char: Characteristic, value: ValueIn) -> bool:
    if char.kind == "attribute":
        if value.ok is None:
            raise InvalidInput("characteristic %(name)s is pass/fail: give 'ok'", name=char.name)
        return value.ok
    if value.value is None:
        raise InvalidInput("characteristic %(name)s is numeric: give 'value'", name=char.name)
    return (char.lsl is None or value.value >= char.lsl) and (char.usl is None or value.value <= char.usl)


def record_inspection(
    session: Session, inspector: str, body: InspectionIn,
    before_commit: Callable[[Session, InspectionRecord], None] | None = None,
) -> InspectionRecord:  # fmt: skip
    """Check and store the values; `before_commit` runs in the same transaction (e.g. an Idempotency-Key's
    stored answer)."""
    plan = crud.get_by(session, InspectionPlan, id=body.plan_id)
    order = wo.get(session, body.work_order)
    if order.product_id != plan.product_id:
        raise InvalidInput("the plan is for another product than the work order")
    chars = {c.id: c for c in characteristics(session, plan.id or 0)}
    unknown = {v.characteristic_id for v in body.values} - set(chars)
    missing = set(chars) - {v.characteristic_id for v in body.values}
    if unknown or missing:
        raise InvalidInput(
            "values must cover the plan's characteristics (unknown %(unknown)s, missing %(missing)s)",
            unknown=unknown, missing=missing,
        )  # fmt: skip
    results = [(v, check(chars[v.characteristic_id], v)) for v in body.values]
    record = InspectionRecord(
        plan_id=plan.id or 0,
        work_order_id=order.id or 0,
        operation_id=_operation_id(session, order.id, body.step_no),
        lot_code=body.lot_code,
        inspector=inspector,
        passed=all(ok for _, ok in results),
        notes=body.notes,
    )
    session.add(record)
    session.flush()
    for value, ok in results:
        row = InspectionValue(
            record_id=record.id or 0,
            characteristic_id=value.characteristic_id,
            sample_no=value.sample_no,
            value=value.value,
            attribute_ok=value.ok,
            passed=ok,
        )
        session.add(row)
    audit.record(session, inspector, "InspectionRecord", record.id, "create", {"passed": record.passed})
    if not record.passed:
        failed = [chars[v.characteristic_id].name for v, ok in results if not ok]
        description = f"inspection {record.id} failed: {', '.join(sorted(set(failed)))}"
        session.add(Nonconformance(work_order_id=order.id, lot_code=body.lot_code, inspection_id=record.id,
                                   description=description, opened_by=inspector))  # fmt: skip
    if before_commit is not None:
        before_commit(session, record)
    session.commit()
    session.refresh(record)
    events.bus.publish(events.InspectionRecorded(order.number, record.passed))  # live pages refresh
    return record


def _operation_id(session: Session, order_id: int | None, step_no: int | None) -> int | None:
    if step_no is None:
        return None
    stmt = select(Operation.id).where(Operation.work_order_id == order_id, Operation.step_no == step_no)
    found = session.exec(stmt).first()
    if found is None:
        raise InvalidInput("the work order has no step %(step)s", step=step_no)
    return found


def values_of(session: Session, record_id: int) -> list[InspectionValue]:
    stmt = (
        select(InspectionValue)
        .where(InspectionValue.record_id == record_id)
        .order_by(col(InspectionValue.id))
    )
    return list(session.exec(stmt).all())


def advance_nc(session: Session, actor: str, nc: Nonconformance, to: str, disposition: str | None = None,
               note: str | None = None) -> Nonconformance:  # fmt: skip
    """Move a nonconformance along open -> dispositioned -> closed."""
    if NC_FLOW.get(to) != nc.status:
        raise Conflict(
            "nonconformance %(id)s is %(status)s; cannot become %(to)s", id=nc.id, status=nc.status, to=to
        )
    if to == "dispositioned":
        if disposition not in DISPOSITIONS:
            raise InvalidInput(
                "disposition must be one of %(allowed)s", allowed=", ".join(sorted(DISPOSITIONS))
            )
        nc.disposition, nc.disposition_note, nc.dispositioned_by = disposition, note, actor
    else:
        nc.closed_by, nc.closed_at = actor, utcnow()
    old, nc.status = nc.status, to
    session.add(nc)
    audit.record(
        session, actor, "Nonconformance", nc.id, to, {"status": [old, to], "disposition": disposition}
    )
    session.commit()
    session.refresh(nc)
    return nc

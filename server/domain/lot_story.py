"""A lot's whole story for a customer complaint: the lot itself (material, supplier, supplier lot), its
backward genealogy (what went into it) and forward genealogy (where it went), and for every work order on
the way: its product, the machines that ran each step, the operators who reported parts, the inspections
and their result. One page (`/lots/{code}`), printable, zh and en."""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from sqlmodel import Session, col, select

from server.domain import crud, trace
from server.models.auth import User
from server.models.catalog import Product
from server.models.materials import MaterialLot
from server.models.plant import Machine
from server.models.production import Operation, OperationRun, WorkOrder, WorkReport
from server.models.quality import InspectionPlan, InspectionRecord
from server.models.stock import LotReceipt


@dataclass(frozen=True)
class StepStory:
    step_no: int
    name: str
    machines: list[str]
    operators: list[str]


@dataclass(frozen=True)
class InspectionStory:
    plan: str
    lot: str | None
    inspector: str
    passed: bool
    at: datetime


@dataclass(frozen=True)
class OrderStory:
    number: str
    product: str
    status: str
    steps: list[StepStory]
    inspections: list[InspectionStory]


@dataclass(frozen=True)
class LotStory:
    lot: MaterialLot
    supplier_lot: str | None
    has_certificate: bool
    backward: trace.TraceOut
    forward: trace.TraceOut
    produced_by: str | None  # the order that made this lot
    orders: dict[str, OrderStory] = field(default_factory=dict)


def _steps(session: Session, order_ids: list[int]) -> dict[int, list[StepStory]]:
    ops = session.exec(
        select(Operation).where(col(Operation.work_order_id).in_(order_ids)).order_by(col(Operation.step_no))
    ).all()
    op_ids = [op.id for op in ops]
    machines: dict[int, set[str]] = defaultdict(set)
    runs = select(OperationRun.operation_id, Machine.code).join(
        Machine, col(Machine.id) == OperationRun.machine_id
    )
    for op_id, code in session.exec(runs.where(col(OperationRun.operation_id).in_(op_ids))).all():
        machines[op_id].add(code)
    people: dict[int, set[str]] = defaultdict(set)
    reports = select(WorkReport.operation_id, User.display_name).join(
        User, col(User.id) == WorkReport.operator_id
    )
    for op_id, name in session.exec(reports.where(col(WorkReport.operation_id).in_(op_ids))).all():
        people[op_id].add(name)
    out: dict[int, list[StepStory]] = defaultdict(list)
    for op in ops:
        key = op.id or 0
        out[op.work_order_id].append(
            StepStory(op.step_no, op.name, sorted(machines[key]), sorted(people[key]))
        )
    return out


def _inspections(session: Session, order_ids: list[int]) -> dict[int, list[InspectionStory]]:
    stmt = (
        select(InspectionRecord, InspectionPlan.name)
        .join(InspectionPlan, col(InspectionPlan.id) == InspectionRecord.plan_id)
        .where(col(InspectionRecord.work_order_id).in_(order_ids)).order_by(col(InspectionRecord.created_at))
    )  # fmt: skip
    out: dict[int, list[InspectionStory]] = defaultdict(list)
    for record, plan in session.exec(stmt).all():
        out[record.work_order_id].append(
            InspectionStory(plan, record.lot_code, record.inspector, record.passed, record.created_at)
        )
    return out


def _orders(session: Session, numbers: set[str]) -> dict[str, OrderStory]:
    rows = session.exec(
        select(WorkOrder, Product.code).join(Product, col(Product.id) == WorkOrder.product_id)
        .where(col(WorkOrder.number).in_(numbers))
    ).all()  # fmt: skip
    ids = [order.id or 0 for order, _ in rows]
    steps, checks = _steps(session, ids), _inspections(session, ids)
    return {
        order.number: OrderStory(
            order.number, product, order.status, steps[order.id or 0], checks[order.id or 0]
        )
        for order, product in rows
    }


def story(session: Session, code: str) -> LotStory:
    lot = crud.get_by(session, MaterialLot, code=code)
    receipt = session.get(LotReceipt, lot.id)
    backward = trace.trace(session, code, "backward")
    forward = trace.trace(session, code, "forward")
    producer = None
    if lot.produced_by_operation_id is not None:
        op = session.get(Operation, lot.produced_by_operation_id)
        order = session.get(WorkOrder, op.work_order_id) if op is not None else None
        producer = order.number if order is not None else None
    numbers = set(backward.work_orders) | set(forward.work_orders) | ({producer} if producer else set())
    return LotStory(
        lot=lot, supplier_lot=receipt.supplier_lot if receipt else None,
        has_certificate=bool(receipt and receipt.certificate), backward=backward, forward=forward,
        produced_by=producer, orders=_orders(session, numbers),
    )  # fmt: skip

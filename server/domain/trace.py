"""Traceability: lots consumed and produced by operations, and genealogy queries.

Forward from a lot: the work orders whose operations consumed it, then the lots those orders
produced, and on (where did this material go?). Backward: the order that produced the lot, the
lots that order consumed, and on (what went into this?). Breadth-first, each lot visited once.
"""

from sqlmodel import Field, Session, SQLModel, col, select

from server.core.errors import Conflict, InvalidInput
from server.domain import audit, crud
from server.domain import workorders as wo
from server.models.materials import LotConsumption, MaterialLot
from server.models.production import Operation, WorkOrder

MAX_DEPTH = 50


class LotMove(SQLModel):
    lot_code: str = Field(max_length=64)
    step_no: int | None = None
    quantity: float = Field(default=0, ge=0)
    material: str | None = Field(default=None, max_length=200, description="for produced lots")
    unit: str = Field(default="pcs", max_length=16)


class TraceNode(SQLModel):
    lot: str
    material: str
    depth: int
    via_work_order: str | None


class TraceOut(SQLModel):
    lot: str
    direction: str
    lots: list[TraceNode]
    work_orders: list[str]


def _operation(session: Session, number: str, step_no: int | None) -> tuple[WorkOrder, Operation]:
    order = wo.get(session, number)
    ops = wo.operations(session, order.id or 0)
    op = ops[0] if step_no is None else next((o for o in ops if o.step_no == step_no), None)
    if op is None:
        raise InvalidInput("work order %(number)s has no step %(step)s", number=number, step=step_no)
    if order.status in {"cancelled", "draft"}:
        raise Conflict("work order %(number)s is %(status)s", number=number, status=order.status)
    return order, op


def consume(session: Session, actor: str, number: str, move: LotMove) -> LotConsumption:
    _, op = _operation(session, number, move.step_no)
    lot = crud.get_by(session, MaterialLot, code=move.lot_code)
    row = LotConsumption(lot_id=lot.id or 0, operation_id=op.id or 0, quantity=move.quantity)
    session.add(row)
    session.flush()
    audit.record(session, actor, "LotConsumption", row.id, "create", {"lot": lot.code, "work_order": number})
    session.commit()
    return row


def produce(session: Session, actor: str, number: str, move: LotMove) -> MaterialLot:
    order, op = _operation(session, number, move.step_no)
    product = order.product_id
    lot = MaterialLot(
        code=move.lot_code,
        material=move.material or f"product {product}",
        quantity=move.quantity,
        unit=move.unit,
        produced_by_operation_id=op.id,
    )
    return crud.create(session, actor, lot)


def _consumers(session: Session, lot_ids: list[int]) -> list[tuple[int, WorkOrder]]:
    """(lot id, order) for each order whose operations consumed one of the lots."""
    stmt = (
        select(LotConsumption.lot_id, WorkOrder)
        .join(Operation, col(Operation.id) == col(LotConsumption.operation_id))
        .join(WorkOrder, col(WorkOrder.id) == col(Operation.work_order_id))
        .where(col(LotConsumption.lot_id).in_(lot_ids)).distinct()
        .order_by(col(LotConsumption.lot_id), col(WorkOrder.id))
    )  # fmt: skip
    return [(lot_id, order) for lot_id, order in session.exec(stmt).all()]


def _producers(session: Session, lots: list[MaterialLot]) -> list[tuple[int, WorkOrder]]:
    """(lot id, order) for the order that produced each of the lots (where known)."""
    by_op = {lot.produced_by_operation_id: lot.id or 0 for lot in lots if lot.produced_by_operation_id}
    if not by_op:
        return []
    stmt = (
        select(Operation.id, WorkOrder).join(WorkOrder, col(WorkOrder.id) == col(Operation.work_order_id))
        .where(col(Operation.id).in_(list(by_op)))
    )  # fmt: skip
    rows = session.exec(stmt).all()
    return sorted(((by_op[op_id], order) for op_id, order in rows if op_id is not None), key=lambda p: p[0])


def _lots_of(session: Session, order_ids: list[int], direction: str) -> dict[int, list[MaterialLot]]:
    """Per order: the lots it produced (forward) or consumed (backward)."""
    if direction == "forward":
        stmt = (
            select(Operation.work_order_id, MaterialLot)
            .join(Operation, col(Operation.id) == col(MaterialLot.produced_by_operation_id))
            .where(col(Operation.work_order_id).in_(order_ids))
        )  # fmt: skip
    else:
        stmt = (
            select(Operation.work_order_id, MaterialLot)
            .join(LotConsumption, col(LotConsumption.lot_id) == col(MaterialLot.id))
            .join(Operation, col(Operation.id) == col(LotConsumption.operation_id))
            .where(col(Operation.work_order_id).in_(order_ids)).distinct()
        )  # fmt: skip
    out: dict[int, list[MaterialLot]] = {}
    for order_id, lot in session.exec(stmt.order_by(col(MaterialLot.id))).all():
        out.setdefault(order_id, []).append(lot)
    return out


def trace(session: Session, code: str, direction: str) -> TraceOut:
    """Breadth-first, one level per step with two queries each (orders of the frontier, then their lots),
    so a deep genealogy costs a few queries per level, not per lot."""
    if direction not in {"forward", "backward"}:
        raise InvalidInput("direction must be forward or backward")
    start = crud.get_by(session, MaterialLot, code=code)
    seen_lots: set[int | None] = {start.id}
    seen_orders: dict[int | None, str] = {}
    nodes: list[TraceNode] = []
    frontier = [start]
    for depth in range(1, MAX_DEPTH + 1):
        if direction == "forward":
            links = _consumers(session, [lot.id or 0 for lot in frontier])
        else:
            links = _producers(session, frontier)
        order_lots = _lots_of(session, list({o.id or 0 for _, o in links}), direction)
        following: list[MaterialLot] = []
        for _lot_id, order in links:
            seen_orders.setdefault(order.id, order.number)
            for other in order_lots.get(order.id or 0, []):
                if other.id not in seen_lots:
                    seen_lots.add(other.id)
                    following.append(other)
                    nodes.append(TraceNode(lot=other.code, material=other.material, depth=depth,
                                           via_work_order=order.number))  # fmt: skip
        if not following:
            break
        frontier = following
    return TraceOut(lot=start.code, direction=direction, lots=nodes, work_orders=list(seen_orders.values()))

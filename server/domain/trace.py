"""Traceability: lots consumed and produced by operations, and genealogy queries.

Forward from a lot: the work orders whose operations consumed it, then the lots those orders
produced, and on (where did this material go?). Backward: the order that produced the lot, the
lots that order consumed, and on (what went into this?). Breadth-first, each lot visited once.
"""

from typing import NamedTuple

from sqlalchemy import select as sa_select
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


class _Lot(NamedTuple):
    id: int
    code: str
    material: str
    produced_by: int | None


def _consumers(session: Session, lots: list[_Lot]) -> list[tuple[int, str]]:
    """(order id, number) of each order whose operations consumed one of the lots, by lot."""
    stmt = (
        select(LotConsumption.lot_id, WorkOrder.id, WorkOrder.number)
        .join(Operation, col(Operation.id) == col(LotConsumption.operation_id))
        .join(WorkOrder, col(WorkOrder.id) == col(Operation.work_order_id))
        .where(col(LotConsumption.lot_id).in_([lot.id for lot in lots])).distinct()
        .order_by(col(LotConsumption.lot_id), col(WorkOrder.id))
    )  # fmt: skip
    return [(order_id or 0, number) for _, order_id, number in session.exec(stmt).all()]


def _producers(session: Session, lots: list[_Lot]) -> list[tuple[int, str]]:
    """(order id, number) of the order that produced each of the lots (where known), by lot."""
    rank = {lot.produced_by: i for i, lot in reversed(list(enumerate(lots))) if lot.produced_by is not None}
    if not rank:
        return []
    stmt = (
        select(Operation.id, WorkOrder.id, WorkOrder.number)
        .join(WorkOrder, col(WorkOrder.id) == col(Operation.work_order_id))
        .where(col(Operation.id).in_(list(rank)))
    )  # fmt: skip
    rows = sorted(session.exec(stmt).all(), key=lambda row: rank[row[0]])
    return [(order_id or 0, number) for _, order_id, number in rows]


def _lots_of(session: Session, order_ids: list[int], direction: str) -> dict[int, list[_Lot]]:
    """Per order: the lots it produced (forward) or consumed (backward)."""
    columns = sa_select(  # five columns: more than sqlmodel's typed select takes
        col(Operation.work_order_id), col(MaterialLot.id), col(MaterialLot.code), col(MaterialLot.material),
        col(MaterialLot.produced_by_operation_id),
    )  # fmt: skip
    if direction == "forward":
        stmt = columns.join(Operation, col(Operation.id) == col(MaterialLot.produced_by_operation_id))
    else:
        stmt = (
            columns.join(LotConsumption, col(LotConsumption.lot_id) == col(MaterialLot.id))
            .join(Operation, col(Operation.id) == col(LotConsumption.operation_id)).distinct()
        )  # fmt: skip
    stmt = stmt.where(col(Operation.work_order_id).in_(order_ids)).order_by(col(MaterialLot.id))
    out: dict[int, list[_Lot]] = {}
    for order_id, lot_id, code, material, produced_by in session.execute(stmt).all():
        out.setdefault(order_id, []).append(_Lot(lot_id or 0, code, material, produced_by))
    return out


def trace(session: Session, code: str, direction: str) -> TraceOut:
    """Breadth-first, one level per step with two queries each (orders of the frontier, then their lots),
    so a deep genealogy costs a few queries per level, not per lot."""
    if direction not in {"forward", "backward"}:
        raise InvalidInput("direction must be forward or backward")
    first = crud.get_by(session, MaterialLot, code=code)
    start = _Lot(first.id or 0, first.code, first.material, first.produced_by_operation_id)
    seen_lots = {start.id}
    seen_orders: dict[int, str] = {}
    nodes: list[TraceNode] = []
    frontier = [start]
    for depth in range(1, MAX_DEPTH + 1):
        links = _consumers(session, frontier) if direction == "forward" else _producers(session, frontier)
        order_lots = _lots_of(session, list({order_id for order_id, _ in links}), direction)
        following: list[_Lot] = []
        for order_id, number in links:
            seen_orders.setdefault(order_id, number)
            for other in order_lots.get(order_id, []):
                if other.id not in seen_lots:
                    seen_lots.add(other.id)
                    following.append(other)
                    nodes.append(TraceNode(lot=other.code, material=other.material, depth=depth,
                                           via_work_order=number))  # fmt: skip
        if not following:
            break
        frontier = following
    return TraceOut(lot=start.code, direction=direction, lots=nodes, work_orders=list(seen_orders.values()))

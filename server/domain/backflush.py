"""Backflush: the parts a work order has made consume its components from the lots issued to it.

For each component (a line of the order's BOM copy) the target consumption is the parts counted at its
routing step (from the order's count source; scrap parts too when the line says `with_scrap`) x
quantity_per_part. What the ledger already shows consumed is subtracted, and the difference is taken from
the order's issued stock (location `wo:{number}`), oldest lot first: a `consume` move and a `LotConsumption`
(the genealogy: consumed lot -> the order -> its finished lot) per lot. Because it works from totals,
running it again, or after a replayed count, consumes nothing twice. What is not there is left for the next
run (it shows as a shortage) unless the material allows negative stock, when the newest issued lot goes
below zero.

The order's finished lot, `FG-{number}`, is created when the order first consumes or makes something,
produced by its last operation, its quantity the good parts of that step; when the product is itself a
stock material (a subassembly), those parts are received into the location `FG`, ready to be issued to the
next order.

Called in the transaction that changed the counts: manual reports (`work_reports`) and machine counts
(`server/ingest/effects.py`; there a refusal, such as a lot whose material is no stock material, is logged
and skips that order's backflush until its next count, never the counts). Locks: the order's component
rows, then the lots' rows.
"""

import logging
from collections.abc import Collection

from sqlmodel import Session, col, func, select

from server.core.errors import ServerError
from server.domain import audit, ledger
from server.models.bom import OrderComponent
from server.models.catalog import Product
from server.models.materials import LotConsumption, Material, MaterialLot
from server.models.production import Operation, WorkOrder
from server.models.stock import StockBalance, StockMove

log = logging.getLogger(__name__)
ACTOR = "backflush"
FINISHED_LOCATION = "FG"


def finished_lot_code(number: str) -> str:
    return f"FG-{number}"


def after_counts(session: Session, operation_ids: Collection[int]) -> None:
    """Backflush the orders of these operations that have components (machine counts just changed)."""
    if not operation_ids:
        return
    stmt = (
        select(WorkOrder).join(Operation, col(Operation.work_order_id) == col(WorkOrder.id))
        .where(col(Operation.id).in_(list(operation_ids)))
        .where(col(WorkOrder.id).in_(select(OrderComponent.work_order_id))).distinct()
    )  # fmt: skip
    for order in session.exec(stmt).all():
        try:
            with session.begin_nested():  # a refusal undoes this order's backflush only, never the counts
                run(session, order)
        except ServerError as err:
            log.warning("backflush of %s skipped until its next count: %s", order.number, err)


def _counted(order: WorkOrder, op: Operation, with_scrap: bool) -> int:
    good, scrap = (
        (op.good, op.scrap) if order.count_source == "manual" else (op.machine_good, op.machine_scrap)
    )
    return good + (scrap if with_scrap else 0)


def _operations(session: Session, order: WorkOrder) -> dict[int, Operation]:
    stmt = select(Operation).where(Operation.work_order_id == order.id).order_by(col(Operation.step_no))
    return {op.step_no: op for op in session.exec(stmt.execution_options(populate_existing=True)).all()}


def _consumed(session: Session, order: WorkOrder, material_id: int) -> float:
    stmt = select(func.coalesce(func.sum(StockMove.quantity), 0.0)).where(
        StockMove.work_order_id == order.id, StockMove.material_id == material_id, StockMove.kind == "consume"
    )
    return -float(session.exec(stmt).one())


def lock_components(session: Session, order: WorkOrder) -> list[OrderComponent]:
    """The order's component rows, locked (taken before any lot's row, by every caller)."""
    locked = select(OrderComponent).where(OrderComponent.work_order_id == order.id).with_for_update()
    return list(session.exec(locked.order_by(col(OrderComponent.id))).all())


def _consumed_any(session: Session, order: WorkOrder) -> bool:
    stmt = select(StockMove.id).where(StockMove.work_order_id == order.id, StockMove.kind == "consume")
    return session.exec(stmt.limit(1)).first() is not None


def run(session: Session, order: WorkOrder) -> None:
    """Consume what the order's counts call for and is not yet consumed (no commit)."""
    components = lock_components(session, order)
    if not components:
        return
    ops = _operations(session, order)
    for component in components:
        op = ops.get(component.step_no)
        if op is None:
            continue
        target = ledger.qty(_counted(order, op, component.with_scrap) * component.quantity_per_part)
        missing = ledger.qty(target - _consumed(session, order, component.material_id))
        if missing > ledger.EPSILON:
            _consume(session, order, op, component.material_id, missing)
    _finished(session, order, list(ops.values()))


def _issued_lots(session: Session, order: WorkOrder, material_id: int) -> list[tuple[MaterialLot, float]]:
    stmt = (
        select(MaterialLot, StockBalance.quantity)
        .join(StockBalance, col(StockBalance.lot_id) == col(MaterialLot.id))
        .where(StockBalance.location == ledger.order_location(order.number))
        .where(StockBalance.material_id == material_id)
        .order_by(col(MaterialLot.created_at), col(MaterialLot.id))
    )  # fmt: skip
    return [(lot, quantity) for lot, quantity in session.exec(stmt).all()]


def _consume(session: Session, order: WorkOrder, op: Operation, material_id: int, missing: float) -> None:
    where = ledger.order_location(order.number)
    lots = _issued_lots(session, order, material_id)
    for lot, available in lots:
        take = min(available, missing)
        if take <= ledger.EPSILON:
            continue
        _take(session, order, op, lot, where, take)
        missing = ledger.qty(missing - take)
        if missing <= ledger.EPSILON:
            return
    material = session.get(Material, material_id)
    if lots and material is not None and material.allow_negative:
        _take(session, order, op, lots[-1][0], where, missing)


def _take(
    session: Session, order: WorkOrder, op: Operation, lot: MaterialLot, where: str, amount: float
) -> None:
    locked = ledger.locked_lot(session, lot.code)
    ledger.move(session, ACTOR, locked, where, -amount, "consume", order, operation_id=op.id)
    session.add(LotConsumption(lot_id=locked.id or 0, operation_id=op.id or 0, quantity=amount))


def _finished(session: Session, order: WorkOrder, ops: list[Operation]) -> None:
    """The order's finished lot, its quantity the last step's good parts (booked into stock when the
    product is a stock material)."""
    last = ops[-1]
    made = _counted(order, last, with_scrap=False)
    code = finished_lot_code(order.number)
    lot = session.exec(select(MaterialLot).where(MaterialLot.code == code)).first()
    product = session.get(Product, order.product_id)
    assert product is not None
    if lot is None:
        if made <= 0 and not _consumed_any(session, order):
            return
        lot = MaterialLot(code=code, material=product.code, quantity=0, unit=product.unit,
                          produced_by_operation_id=last.id)  # fmt: skip
        session.add(lot)
        session.flush()
        audit.record(session, ACTOR, "MaterialLot", lot.id, "create", audit.snapshot(lot))
    lot.quantity = made
    session.add(lot)
    if session.exec(select(Material).where(Material.code == product.code)).first() is None:
        return
    booked = select(func.coalesce(func.sum(StockMove.quantity), 0.0)).where(
        StockMove.lot_id == lot.id, StockMove.kind == "receipt"
    )
    more = ledger.qty(made - float(session.exec(booked).one()))
    if more > ledger.EPSILON:
        ledger.move(
            session, ACTOR, ledger.locked_lot(session, code), FINISHED_LOCATION, more, "receipt", order
        )

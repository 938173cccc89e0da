"""The stock ledger: receipts, issues to work orders (领料), returns (退料), transfers and adjustments.

Every movement appends `StockMove` rows (a transfer two: out of one location, into another) and updates the
`StockBalance` of the lot at each location in the same transaction, under a lock on the lot's row (BEGIN
IMMEDIATE on SQLite, SELECT ... FOR UPDATE on PostgreSQL), so concurrent moves of a lot never lose an
update. A move that would take a balance below zero is refused (Conflict, with the numbers) unless the
material allows negative stock. Stock issued to a work order sits at the location `wo:{number}`; backflush
(`server/domain/backflush.py`) consumes it from there.
"""

from collections.abc import Callable, Sequence

from sqlalchemy import case, func
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from server.core.db import lock_for_write
from server.core.errors import Conflict, InvalidInput
from server.domain import audit, backflush, crud, ledger
from server.domain import workorders as wo
from server.models.materials import Material, MaterialLot
from server.models.production import WorkOrder
from server.models.stock import (
    AdjustIn,
    BalanceOut,
    IssueIn,
    LotReceipt,
    MaterialTotal,
    MoveOut,
    OnHandOut,
    ReceiptIn,
    ReturnIn,
    StockBalance,
    StockMove,
    TransferIn,
)

BeforeCommit = Callable[[Session, list[MoveOut]], None] | None
ISSUABLE = frozenset({"draft", "released", "in_progress", "paused"})


def _finish(session: Session, rows: list[StockMove], before_commit: BeforeCommit) -> list[MoveOut]:
    out = describe(session, rows)
    if before_commit is not None:
        before_commit(session, out)
    session.commit()
    return out


def receive(
    session: Session, actor: str, body: ReceiptIn, before_commit: BeforeCommit = None
) -> list[MoveOut]:
    """A new lot arrives: create it and book its quantity into `location`."""
    lock_for_write(session)
    material = crud.get_by(session, Material, code=body.material)
    if session.exec(select(MaterialLot).where(MaterialLot.code == body.lot_code)).first() is not None:
        raise Conflict("lot %(lot)s was already received", lot=body.lot_code)
    lot = MaterialLot(
        code=body.lot_code,
        material=material.code,
        quantity=body.quantity,
        unit=material.unit,
        supplier=body.supplier,
    )
    session.add(lot)
    session.flush()
    audit.record(session, actor, "MaterialLot", lot.id, "create", audit.snapshot(lot))
    session.add(LotReceipt(lot_id=lot.id or 0, supplier_lot=body.supplier_lot))
    rows = [ledger.move(session, actor, lot, body.location, body.quantity, "receipt")]
    return _finish(session, rows, before_commit)


def _balance(session: Session, lot: MaterialLot, location: str) -> float:
    balance = session.get(StockBalance, (lot.id, location))
    return balance.quantity if balance is not None else 0.0


def _where(session: Session, lot: MaterialLot) -> str:
    """The one stock location (not a work order's) holding some of the lot."""
    stmt = select(StockBalance.location).where(
        StockBalance.lot_id == lot.id, col(StockBalance.work_order_id).is_(None), StockBalance.quantity > 0
    )
    places = sorted(session.exec(stmt).all())
    if not places:
        raise Conflict("lot %(lot)s has no stock to issue", lot=lot.code)
    if len(places) > 1:
        raise Conflict(
            "lot %(lot)s is at several locations (%(places)s): name one",
            lot=lot.code,
            places=", ".join(places),
        )
    return places[0]


def _open_order(session: Session, number: str) -> WorkOrder:
    order = wo.get(session, number)
    if order.status not in ISSUABLE:
        raise Conflict("work order %(number)s is %(status)s", number=number, status=order.status)
    return order


def _between(
    session: Session,
    actor: str,
    lot: MaterialLot,
    source: str,
    target: str,
    quantity: float | None,
    kind: str,
    order: WorkOrder | None = None,
    reason: str | None = None,
) -> list[StockMove]:
    """Move `quantity` (None: all there is) of `lot` from `source` to `target`."""
    amount = quantity if quantity is not None else _balance(session, lot, source)
    if amount <= ledger.EPSILON:
        raise Conflict("lot %(lot)s has nothing at %(location)s", lot=lot.code, location=source)
    out = ledger.move(session, actor, lot, source, -amount, kind, order, reason=reason)
    return [out, ledger.move(session, actor, lot, target, amount, kind, order, reason=reason)]


def issue(session: Session, actor: str, body: IssueIn, before_commit: BeforeCommit = None) -> list[MoveOut]:
    """Issue (领料) a lot to a work order: from `location` to the order's own location; then backflush what
    its counts already call for (parts made before the material was issued)."""
    lock_for_write(session)
    order = _open_order(session, body.work_order)
    backflush.lock_components(session, order)
    lot = ledger.locked_lot(session, body.lot_code)
    target = ledger.order_location(order.number)
    source = body.location or _where(session, lot)
    rows = _between(session, actor, lot, source, target, body.quantity, "issue", order)
    backflush.run(session, order)
    return _finish(session, rows, before_commit)


def return_(
    session: Session, actor: str, body: ReturnIn, before_commit: BeforeCommit = None
) -> list[MoveOut]:
    """Return (退料) what a work order did not use, back to `location`."""
    lock_for_write(session)
    order = wo.get(session, body.work_order)
    lot = ledger.locked_lot(session, body.lot_code)
    rows = _between(
        session,
        actor,
        lot,
        ledger.order_location(order.number),
        body.location,
        body.quantity,
        "return",
        order,
    )
    return _finish(session, rows, before_commit)


def transfer(
    session: Session, actor: str, body: TransferIn, before_commit: BeforeCommit = None
) -> list[MoveOut]:
    if body.from_location == body.to_location:
        raise InvalidInput("a transfer needs two different locations")
    lock_for_write(session)
    lot = ledger.locked_lot(session, body.lot_code)
    rows = _between(session, actor, lot, body.from_location, body.to_location, body.quantity, "transfer")
    return _finish(session, rows, before_commit)


def adjust(session: Session, actor: str, body: AdjustIn, before_commit: BeforeCommit = None) -> list[MoveOut]:
    """A stock count's correction (signed), with its reason."""
    if abs(body.quantity) <= ledger.EPSILON:
        raise InvalidInput("an adjustment needs a quantity other than zero")
    lock_for_write(session)
    lot = ledger.locked_lot(session, body.lot_code)
    rows = [ledger.move(session, actor, lot, body.location, body.quantity, "adjust", reason=body.reason)]
    return _finish(session, rows, before_commit)


def describe(session: Session, rows: Sequence[StockMove]) -> list[MoveOut]:
    """Movements as the API shows them (codes, not ids)."""
    lots = _codes(session, MaterialLot, {r.lot_id for r in rows})
    materials = _codes(session, Material, {r.material_id for r in rows})
    orders = {o.id: o.number for o in _by_ids(session, {r.work_order_id for r in rows if r.work_order_id})}
    return [
        MoveOut(
            id=r.id or 0,
            ts=r.ts,
            kind=r.kind,
            material=materials[r.material_id],
            lot=lots[r.lot_id],
            location=r.location,
            quantity=r.quantity,
            work_order=orders.get(r.work_order_id),
            reason=r.reason,
            actor=r.actor,
        )
        for r in rows
    ]


def _codes(session: Session, model: type[Material] | type[MaterialLot], ids: set[int]) -> dict[int, str]:
    rows = session.exec(select(model.id, model.code).where(col(model.id).in_(ids))).all()
    return {i: c for i, c in rows if i is not None}


def _by_ids(session: Session, ids: set[int | None]) -> Sequence[WorkOrder]:
    return session.exec(select(WorkOrder).where(col(WorkOrder.id).in_(ids))).all() if ids else []


def on_hand(session: Session, code: str) -> OnHandOut:
    """A material's stock: per lot and location (non-zero balances), the total at stock locations and the
    total issued to work orders. Reads only the balance summary (one row per lot and location)."""
    material = crud.get_by(session, Material, code=code)
    stmt = (
        select(MaterialLot.code, StockBalance.location, WorkOrder.number, StockBalance.quantity)
        .join(MaterialLot, col(MaterialLot.id) == col(StockBalance.lot_id))
        .outerjoin(WorkOrder, col(WorkOrder.id) == col(StockBalance.work_order_id))
        .where(StockBalance.material_id == material.id, StockBalance.quantity != 0)
        .order_by(col(StockBalance.lot_id), col(StockBalance.location))
    )  # fmt: skip
    lots = [
        BalanceOut(material=code, lot=lot, location=where, work_order=number, quantity=quantity)
        for lot, where, number, quantity in session.exec(stmt).all()
    ]
    issued = ledger.qty(sum(b.quantity for b in lots if b.work_order is not None))
    total = ledger.qty(sum(b.quantity for b in lots if b.work_order is None))
    return OnHandOut(material=code, unit=material.unit, on_hand=total, issued=issued, lots=lots)


def totals(session: Session) -> list[MaterialTotal]:
    """Every material's stock at stock locations and issued to orders: one GROUP BY over the balances."""
    issued = col(StockBalance.work_order_id).is_not(None)
    stmt = (
        select(
            Material.code, Material.unit,
            func.coalesce(func.sum(case((issued, 0.0), else_=StockBalance.quantity)), 0.0),
            func.coalesce(func.sum(case((issued, StockBalance.quantity), else_=0.0)), 0.0),
        )
        .outerjoin(StockBalance, col(StockBalance.material_id) == col(Material.id))
        .group_by(col(Material.id), col(Material.code), col(Material.unit)).order_by(col(Material.code))
    )  # fmt: skip
    return [
        MaterialTotal(material=code, unit=unit, on_hand=ledger.qty(on), issued=ledger.qty(out))
        for code, unit, on, out in session.exec(stmt).all()
    ]


def lot_balances(session: Session, code: str) -> list[BalanceOut]:
    lot = crud.get_by(session, MaterialLot, code=code)
    stmt = select(StockBalance).where(StockBalance.lot_id == lot.id).order_by(col(StockBalance.location))
    rows = session.exec(stmt).all()
    orders = {o.id: o.number for o in _by_ids(session, {b.work_order_id for b in rows if b.work_order_id})}
    return [
        BalanceOut(
            material=lot.material,
            lot=lot.code,
            location=b.location,
            work_order=orders.get(b.work_order_id),
            quantity=b.quantity,
        )
        for b in rows
    ]


def ledger_on_hand(session: Session, lot_id: int, location: str) -> float:
    """The balance recomputed from the ledger (the summary must always equal it)."""
    rows = session.exec(
        select(StockMove.quantity).where(StockMove.lot_id == lot_id, StockMove.location == location)
    ).all()
    return ledger.qty(sum(rows))


def moves_query(lot: str | None, work_order: str | None) -> SelectOfScalar[StockMove]:
    """The ledger, oldest first, of one lot and/or one work order."""
    stmt = select(StockMove).order_by(col(StockMove.id))
    if lot is not None:
        stmt = stmt.where(col(StockMove.lot_id).in_(select(MaterialLot.id).where(MaterialLot.code == lot)))
    if work_order is not None:
        orders = select(WorkOrder.id).where(WorkOrder.number == work_order)
        stmt = stmt.where(col(StockMove.work_order_id).in_(orders))
    return stmt

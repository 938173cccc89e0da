"""The ledger's one primitive: a movement of a lot at a location (`move`), with the balance it updates and
the negative-stock rule; and the small helpers every stock writer shares (`server/domain/stock.py` for the
moves people make, `server/domain/backflush.py` for consumption)."""

from sqlmodel import Session, select

from server.core.errors import Conflict, InvalidInput, NotFound
from server.domain import audit
from server.models.materials import Material, MaterialLot
from server.models.production import WorkOrder
from server.models.stock import StockBalance, StockMove

EPSILON = 1e-9


def order_location(number: str) -> str:
    """Where stock issued to work order `number` sits until consumed or returned."""
    return f"wo:{number}"


def qty(value: float) -> float:
    """Quantities are kept to 6 decimals, so sums of issued parts come out exact."""
    return round(value + 0.0, 6)


def material_of(session: Session, lot: MaterialLot) -> Material:
    material = session.exec(select(Material).where(Material.code == lot.material)).first()
    if material is None:
        raise InvalidInput(
            "lot %(lot)s: %(material)s is not a stock material", lot=lot.code, material=lot.material
        )
    return material


def locked_lot(session: Session, code: str) -> MaterialLot:
    stmt = select(MaterialLot).where(MaterialLot.code == code).with_for_update()
    lot = session.exec(stmt.execution_options(populate_existing=True)).first()
    if lot is None:
        raise NotFound("unknown lot code %(code)s", code=repr(code))
    return lot


def move(
    session: Session,
    actor: str,
    lot: MaterialLot,
    location: str,
    quantity: float,
    kind: str,
    order: WorkOrder | None = None,
    operation_id: int | None = None,
    reason: str | None = None,
) -> StockMove:
    """Append one movement of `lot` at `location` and update its balance (the lot's row is locked)."""
    material = material_of(session, lot)
    key = (lot.id, location)
    balance = session.get(StockBalance, key) or StockBalance(
        lot_id=lot.id or 0,
        location=location,
        material_id=material.id or 0,
        work_order_id=order.id if order is not None and location.startswith("wo:") else None,
    )
    after = qty(balance.quantity + quantity)
    if after < -EPSILON and not material.allow_negative:
        raise Conflict(
            "not enough stock: lot %(lot)s has %(have)s %(unit)s at %(location)s, %(need)s needed",
            lot=lot.code,
            have=qty(balance.quantity),
            unit=material.unit,
            location=location,
            need=qty(-quantity),
        )
    balance.quantity = after
    row = StockMove(
        kind=kind,
        material_id=material.id or 0,
        lot_id=lot.id or 0,
        location=location,
        quantity=qty(quantity),
        work_order_id=order.id if order is not None else None,
        operation_id=operation_id,
        reason=reason,
        actor=actor,
    )
    session.add_all([balance, row])
    session.flush()
    audit.record(session, actor, "StockMove", row.id, "create", audit.snapshot(row))
    return row

"""What goes on a label: a lot's (material, quantity, supplier lot, date), a work order's finished goods
(product, quantity, date, order) and its job traveler. Each QR holds a URL under the server's public
address that any tablet opens: `/l/{lot}` (the lot's trace page) or `/station/go/{number}` (the job)."""

from urllib.parse import quote

from sqlmodel import Session, select

from server.domain import backflush, crud, sites
from server.domain import workorders as wo
from server.domain.labels import Label
from server.models.catalog import Product
from server.models.materials import MaterialLot
from server.models.production import WorkOrder
from server.models.stock import LotReceipt


def lot_url(base: str, code: str) -> str:
    return f"{base.rstrip('/')}/l/{quote(code, safe='')}"


def traveler_url(base: str, number: str) -> str:
    return f"{base.rstrip('/')}/station/go/{quote(number, safe='')}"


def _qty(value: float) -> str:
    return f"{value:g}"


def lot_label(session: Session, base: str, code: str) -> Label:
    lot = crud.get_by(session, MaterialLot, code=code)
    receipt = session.get(LotReceipt, lot.id)
    day = sites.site_time(session).text(lot.created_at, "%Y-%m-%d")
    lines = [lot.material, f"{_qty(lot.quantity)} {lot.unit}"]
    if receipt is not None and receipt.supplier_lot:
        lines.append(f"供应商批号 {receipt.supplier_lot}")
    lines.append(day)
    return Label(title="批次 Lot", code=lot.code, qr=lot_url(base, lot.code), lines=lines)


def finished_label(session: Session, base: str, number: str) -> Label:
    """The order's finished-goods lot (FG-{number}): product, quantity made, date, work order."""
    order = wo.get(session, number)
    product = session.get(Product, order.product_id)
    assert product is not None
    code = backflush.finished_lot_code(order.number)
    lot = crud.get_by(session, MaterialLot, code=code)
    day = sites.site_time(session).text(lot.created_at, "%Y-%m-%d")
    lines = [
        f"{product.code} {product.name}",
        f"{_qty(lot.quantity)} {product.unit}",
        day,
        f"工单 WO {order.number}",
    ]
    return Label(title="成品 Finished goods", code=code, qr=lot_url(base, code), lines=lines)


def traveler_label(session: Session, base: str, number: str) -> Label:
    order = wo.get(session, number)
    product = session.get(Product, order.product_id)
    assert product is not None
    due = order.due_date.isoformat() if order.due_date else "—"
    lines = [f"{product.code} {product.name}", f"{order.quantity} {product.unit}", f"交期 Due {due}"]
    return Label(title="流转卡 Traveler", code=order.number, qr=traveler_url(base, order.number), lines=lines)


def for_lot(session: Session, base: str, code: str) -> Label:
    """The label a lot's page prints: its order's finished-goods label for a finished lot, else the lot's."""
    lot = crud.get_by(session, MaterialLot, code=code)
    if lot.produced_by_operation_id is not None and code.startswith("FG-"):
        number = code.removeprefix("FG-")
        if (
            backflush.finished_lot_code(number) == code
            and session.exec(select(WorkOrder.id).where(WorkOrder.number == number)).first() is not None
        ):
            return finished_label(session, base, number)
    return lot_label(session, base, code)

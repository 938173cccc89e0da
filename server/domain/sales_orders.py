"""Sales orders: a customer's PO with lines, work orders made from a line, status and progress rolled up.

A line's status comes from its live (not cancelled) work orders: `open` without any, `planned` while
they are draft or released, `in_production` once one runs, `completed` when all are completed or closed
and they cover the line's quantity. The order's status is its lines': `completed` when all are,
`in_production` when any is in production or completed, `planned` when none is open, else `open`.
A line's good count is the sum of its work orders' (each its last step's, from its count source).
"""

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from server.core.errors import Conflict, InvalidInput, NotFound
from server.domain import audit, crud, progress
from server.domain import workorders as wo
from server.models.catalog import Customer, Product
from server.models.orders import WorkOrderCreate, WorkOrderProgress
from server.models.production import WorkOrder
from server.models.sales import (
    MONEY_SCALE,
    LineSplit,
    LineWorkOrder,
    SalesLineCreate,
    SalesLinePublic,
    SalesLineWorkOrder,
    SalesOrder,
    SalesOrderCreate,
    SalesOrderLine,
    SalesOrderPublic,
)

RUNNING = frozenset({"in_progress", "paused", "completed", "closed"})
DONE = frozenset({"completed", "closed"})


def to_e4(value: Decimal | None) -> int | None:
    return None if value is None else int((value * MONEY_SCALE).to_integral_value())


def from_e4(value: int | None) -> Decimal | None:
    return None if value is None else Decimal(value) / MONEY_SCALE


def _line(session: Session, order: SalesOrder, line_no: int, body: SalesLineCreate) -> SalesOrderLine:
    product = crud.get_by(session, Product, code=body.product)
    return SalesOrderLine(
        sales_order_id=order.id or 0, line_no=line_no, product_id=product.id or 0, quantity=body.quantity,
        due_date=body.due_date, unit_price_e4=to_e4(body.unit_price),
    )  # fmt: skip


def build(session: Session, actor: str, body: SalesOrderCreate) -> SalesOrder:
    """Add the order and its lines (numbered 1, 2, ... in the given order) without committing."""
    customer = crud.get_by(session, Customer, code=body.customer)
    order = SalesOrder(
        customer_id=customer.id or 0, po_number=body.po_number, po_date=body.po_date, notes=body.notes,
        created_by=actor,
    )  # fmt: skip
    session.add(order)
    session.flush()
    session.add_all([_line(session, order, n, line) for n, line in enumerate(body.lines, start=1)])
    audit.record(session, actor, "SalesOrder", order.id, "create", body.model_dump(mode="json"))
    return order


def create_many(session: Session, actor: str, bodies: Sequence[SalesOrderCreate]) -> list[SalesOrder]:
    """Create sales orders in one transaction: all or none; a PO the customer already has is a Conflict."""
    try:
        orders = [build(session, actor, body) for body in bodies]
        session.flush()
        session.commit()
    except IntegrityError as err:
        session.rollback()
        raise Conflict("this customer already has a sales order with this PO number") from err
    return orders


def get(session: Session, order_id: int) -> SalesOrder:
    order = session.get(SalesOrder, order_id)
    if order is None:
        raise NotFound("sales order %(id)s not found", id=order_id)
    return order


def lines(session: Session, order_id: int) -> list[SalesOrderLine]:
    stmt = select(SalesOrderLine).where(SalesOrderLine.sales_order_id == order_id)
    return list(session.exec(stmt.order_by(col(SalesOrderLine.line_no))).all())


def line(session: Session, order_id: int, line_no: int) -> SalesOrderLine:
    found = next((ln for ln in lines(session, order_id) if ln.line_no == line_no), None)
    if found is None:
        raise NotFound("sales order %(id)s has no line %(line)s", id=order_id, line=line_no)
    return found


def work_orders_of(session: Session, line_ids: Sequence[int]) -> dict[int, list[WorkOrder]]:
    """Each line's work orders (cancelled ones included), oldest first."""
    stmt = (
        select(SalesLineWorkOrder.line_id, WorkOrder)
        .join(WorkOrder, col(WorkOrder.id) == SalesLineWorkOrder.work_order_id)
        .where(col(SalesLineWorkOrder.line_id).in_(line_ids))
        .order_by(col(WorkOrder.id))
    )
    out: dict[int, list[WorkOrder]] = {i: [] for i in line_ids}
    for line_id, order in session.exec(stmt).all():
        out[line_id].append(order)
    return out


def split(session: Session, actor: str, order_id: int, line_no: int, body: LineSplit) -> list[WorkOrder]:
    """Draft work orders for a line; their quantities must add up to what its live orders do not cover."""
    so = get(session, order_id)
    target = line(session, order_id, line_no)
    existing = work_orders_of(session, [target.id or 0])[target.id or 0]
    remaining = target.quantity - sum(o.quantity for o in existing if o.status != "cancelled")
    total = sum(p.quantity for p in body.orders)
    if total != remaining:
        raise InvalidInput(
            "the work orders' quantities add up to %(total)s, but line %(line)s still needs %(remaining)s",
            total=total, line=line_no, remaining=remaining,
        )  # fmt: skip
    product = session.get(Product, target.product_id)
    customer = session.get(Customer, so.customer_id)
    assert product is not None and customer is not None
    bodies = [
        WorkOrderCreate(
            number=p.number or f"SO{order_id}-{line_no}-{len(existing) + n}", product=product.code,
            customer=customer.code, quantity=p.quantity, due_date=target.due_date, priority=body.priority,
            count_source=body.count_source, notes=f"PO {so.po_number} / {line_no}",
        )
        for n, p in enumerate(body.orders, start=1)
    ]  # fmt: skip
    try:
        made = [wo.build(session, actor, b) for b in bodies]
        session.add_all([SalesLineWorkOrder(line_id=target.id or 0, work_order_id=o.id or 0) for o in made])
        audit.record(session, actor, "SalesOrder", so.id, "split",
                     {"line": line_no, "work_orders": [o.number for o in made]})  # fmt: skip
        session.commit()
    except IntegrityError as err:
        session.rollback()
        raise Conflict("a work order with this number already exists") from err
    return made


@dataclass(frozen=True)
class LineProgress:
    line: SalesOrderLine
    product: Product
    status: str
    planned: int
    good: int
    percent: float
    orders: list[tuple[WorkOrder, WorkOrderProgress]]


def line_status(line: SalesOrderLine, live: Sequence[WorkOrder]) -> str:
    if not live:
        return "open"
    if all(o.status in DONE for o in live) and sum(o.quantity for o in live) >= line.quantity:
        return "completed"
    if any(o.status in RUNNING for o in live):
        return "in_production"
    return "planned"


def order_status(statuses: Sequence[str]) -> str:
    if statuses and all(s == "completed" for s in statuses):
        return "completed"
    if any(s in {"in_production", "completed"} for s in statuses):
        return "in_production"
    if statuses and all(s == "planned" for s in statuses):
        return "planned"
    return "open"


def line_progress(session: Session, order: SalesOrder, timezone: str = "UTC") -> list[LineProgress]:
    """Every line of `order` with its work orders' progress and the rolled-up status."""
    order_lines = lines(session, order.id or 0)
    by_line = work_orders_of(session, [ln.id or 0 for ln in order_lines])
    ids = {ln.product_id for ln in order_lines}
    products = {p.id: p for p in session.exec(select(Product).where(col(Product.id).in_(ids))).all()}
    out: list[LineProgress] = []
    for ln in order_lines:
        live = [o for o in by_line[ln.id or 0] if o.status != "cancelled"]
        orders = list(zip(live, progress.progress_many(session, live, timezone), strict=True))
        good = sum(p.good for _, p in orders)
        out.append(
            LineProgress(
                line=ln, product=products[ln.product_id], status=line_status(ln, live),
                planned=sum(o.quantity for o in live), good=good,
                percent=round(min(100.0, 100.0 * good / ln.quantity), 1), orders=orders,
            )
        )  # fmt: skip
    return out


def public(session: Session, order: SalesOrder) -> SalesOrderPublic:
    customer = session.get(Customer, order.customer_id)
    per_line = line_progress(session, order)
    return SalesOrderPublic(
        id=order.id or 0, customer=customer.code if customer else "",
        customer_name=customer.name if customer else "", po_number=order.po_number,
        po_date=order.po_date, notes=order.notes, created_by=order.created_by, created_at=order.created_at,
        status=order_status([lp.status for lp in per_line]),
        lines=[
            SalesLinePublic(
                line_no=lp.line.line_no, product=lp.product.code, quantity=lp.line.quantity,
                due_date=lp.line.due_date, unit_price=from_e4(lp.line.unit_price_e4), status=lp.status,
                planned=lp.planned, good=lp.good, percent=lp.percent,
                work_orders=[
                    LineWorkOrder(number=o.number, quantity=o.quantity, status=o.status, good=p.good,
                                  percent=p.percent)
                    for o, p in lp.orders
                ],
            )
            for lp in per_line
        ],
    )  # fmt: skip


def list_query(customer: str | None) -> SelectOfScalar[SalesOrder]:
    """Sales orders, newest first, of one customer (code) or all."""
    stmt = select(SalesOrder).order_by(col(SalesOrder.id).desc())
    if customer:
        stmt = stmt.join(Customer, col(Customer.id) == SalesOrder.customer_id).where(
            Customer.code == customer
        )
    return stmt

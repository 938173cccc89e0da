"""Work orders: create (routing copied into operations, BOM into components), update, list, transitions.

Statuses: draft -> released -> in_progress <-> paused -> completed -> closed; draft, released,
in_progress and paused may be cancelled. Every other change is refused with Conflict.
"""

from collections.abc import Sequence
from typing import Any

from sqlalchemy import false
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, or_, select
from sqlmodel.sql.expression import SelectOfScalar

from server.core.db import lock_for_write
from server.core.errors import Conflict, NotFound
from server.domain import audit, bom, crud
from server.domain.catalog import routing_of
from server.models.catalog import Customer, Product
from server.models.orders import (
    OperationPublic,
    WorkOrderCreate,
    WorkOrderPublic,
    WorkOrderSummary,
    WorkOrderUpdate,
)
from server.models.production import Operation, WorkOrder
from server.models.types import utcnow

TRANSITIONS: dict[str, frozenset[str]] = {
    "draft": frozenset({"released", "cancelled"}),
    "released": frozenset({"in_progress", "cancelled"}),
    "in_progress": frozenset({"paused", "completed", "cancelled"}),
    "paused": frozenset({"in_progress", "completed", "cancelled"}),
    "completed": frozenset({"closed"}),
    "closed": frozenset(),
    "cancelled": frozenset(),
}
OPEN_STATUSES = frozenset({"released", "in_progress", "paused"})


def set_status(session: Session, actor: str, order: WorkOrder, new: str) -> None:
    """Move `order` to `new` if the transition is legal (no-op when already there)."""
    if order.status == new:
        return
    if new not in TRANSITIONS[order.status]:
        raise Conflict(
            "work order %(number)s cannot go from %(from_status)s to %(to_status)s",
            number=order.number,
            from_status=order.status,
            to_status=new,
        )
    old, order.status, order.updated_at = order.status, new, utcnow()
    if new == "released":
        order.released_at = order.updated_at
    if new == "completed":
        order.completed_at = order.updated_at
    session.add(order)
    audit.record(session, actor, "WorkOrder", order.id, "status", {"status": [old, new]})


def reopen(session: Session, actor: str, order: WorkOrder) -> None:
    """A completed order back to paused: a supervisor reopened one of its operations (the one way back
    from completed, not a transition anyone else may take)."""
    if order.status != "completed":
        raise Conflict(
            "work order %(number)s is %(status)s, not completed", number=order.number, status=order.status
        )
    order.status, order.completed_at, order.updated_at = "paused", None, utcnow()
    session.add(order)
    audit.record(session, actor, "WorkOrder", order.id, "status", {"status": ["completed", "paused"]})


def get(session: Session, number: str) -> WorkOrder:
    return crud.get_by(session, WorkOrder, number=number)


def get_locked(session: Session, number: str) -> WorkOrder:
    """The order, its row locked for this transaction (BEGIN IMMEDIATE on SQLite, FOR UPDATE elsewhere)."""
    lock_for_write(session)
    stmt = select(WorkOrder).where(WorkOrder.number == number).with_for_update()
    order = session.exec(stmt.execution_options(populate_existing=True)).first()
    if order is None:
        raise NotFound("work order %(number)s not found", number=repr(number))
    return order


def operations(session: Session, order_id: int) -> list[Operation]:
    stmt = select(Operation).where(Operation.work_order_id == order_id).order_by(col(Operation.step_no))
    return list(session.exec(stmt).all())


def _customer_id(session: Session, code: str | None) -> int | None:
    return None if code is None else crud.get_by(session, Customer, code=code).id


def build(session: Session, actor: str, body: WorkOrderCreate) -> WorkOrder:
    """Add a draft order and its operations (copied from the routing) without committing."""
    product = crud.get_by(session, Product, code=body.product)
    assert product.id is not None
    fields = body.model_dump(exclude={"product", "customer"})
    order = WorkOrder(**fields, product_id=product.id, customer_id=_customer_id(session, body.customer))
    session.add(order)
    session.flush()
    audit.record(session, actor, "WorkOrder", order.id, "create", audit.snapshot(order))
    copy_routing(session, order)
    bom.copy_to_order(session, order)
    return order


def create(session: Session, actor: str, body: WorkOrderCreate) -> WorkOrder:
    """Create a draft order and copy the product's routing into its operations."""
    return create_many(session, actor, [body])[0]


def create_many(session: Session, actor: str, bodies: list[WorkOrderCreate]) -> list[WorkOrder]:
    """Create orders in one transaction: all or none."""
    try:
        orders = [build(session, actor, body) for body in bodies]
        session.commit()
    except IntegrityError as err:
        session.rollback()
        raise Conflict("a work order with this number already exists") from err
    return orders


def copy_routing(session: Session, order: WorkOrder) -> None:
    """Operations from the routing (one "produce" step when the product has none)."""
    assert order.id is not None
    steps = routing_of(session, order.product_id)
    if not steps:
        session.add(Operation(work_order_id=order.id, step_no=1, name="produce", planned_qty=order.quantity))
    for step in steps:
        session.add(
            Operation(
                work_order_id=order.id,
                step_no=step.step_no,
                name=step.name,
                station_id=step.station_id,
                machine_kind=step.machine_kind,
                ideal_cycle_s=step.ideal_cycle_s,
                planned_qty=order.quantity,
            )
        )
    session.flush()


def update(session: Session, actor: str, number: str, body: WorkOrderUpdate) -> WorkOrder:
    order = get_locked(session, number)
    if order.status in {"closed", "cancelled", "completed"}:
        raise Conflict(
            "work order %(number)s is %(status)s and can no longer change", number=number, status=order.status
        )
    before = audit.snapshot(order)
    patch: dict[str, Any] = body.model_dump(exclude_unset=True, exclude={"customer"})
    if "customer" in body.model_fields_set:
        patch["customer_id"] = _customer_id(session, body.customer)
    order.sqlmodel_update(patch)
    order.updated_at = utcnow()
    if "quantity" in patch:
        for op in operations(session, order.id or 0):
            op.planned_qty = order.quantity
            session.add(op)
    session.add(order)
    audit.record(
        session, actor, "WorkOrder", order.id, "update", audit.changes(before, audit.snapshot(order))
    )
    session.commit()
    return order


def list_query(status: str | None, customer: str | None, q: str | None) -> SelectOfScalar[WorkOrder]:
    """Work orders filtered by status, customer code and a search on number/product (parameterised)."""
    stmt = select(WorkOrder).order_by(col(WorkOrder.priority).desc(), col(WorkOrder.id))
    if any("\x00" in text for text in (status, customer, q) if text):
        return stmt.where(false())  # no stored text holds NUL; PostgreSQL would refuse the parameter
    if status:
        stmt = stmt.where(WorkOrder.status == status)
    if customer:
        stmt = stmt.join(Customer, col(Customer.id) == col(WorkOrder.customer_id)).where(
            Customer.code == customer
        )
    if q:
        matching_products = select(Product.id).where(crud.search(q, Product.code, Product.name))
        stmt = stmt.where(
            or_(crud.search(q, WorkOrder.number), col(WorkOrder.product_id).in_(matching_products))
        )
    return stmt


def _codes(session: Session, orders: Sequence[WorkOrder]) -> tuple[dict[int, str], dict[int, str]]:
    product_ids = {o.product_id for o in orders}
    customer_ids = {o.customer_id for o in orders if o.customer_id is not None}
    products = session.exec(select(Product.id, Product.code).where(col(Product.id).in_(product_ids))).all()
    customers = session.exec(
        select(Customer.id, Customer.code).where(col(Customer.id).in_(customer_ids))
    ).all()
    return {i: c for i, c in products if i is not None}, {i: c for i, c in customers if i is not None}


def summaries(session: Session, orders: Sequence[WorkOrder]) -> list[WorkOrderSummary]:
    products, customers = _codes(session, orders)
    return [
        WorkOrderSummary.model_validate(
            o,
            update={
                "product": products[o.product_id],
                "customer": customers.get(o.customer_id) if o.customer_id else None,
            },
        )
        for o in orders
    ]


def public(session: Session, order: WorkOrder) -> WorkOrderPublic:
    summary = summaries(session, [order])[0]
    ops = [OperationPublic.model_validate(op) for op in operations(session, order.id or 0)]
    return WorkOrderPublic.model_validate(summary, update={"operations": ops})

"""Shortages: a work order's components against what it was issued and what is in stock.

For each component: required (order quantity x quantity per part x (1 + scrap allowance)), consumed so
far (the ledger's backflush), issued and not consumed (the order's location), and available at stock
locations. Still needed = required - consumed - issued; `short` is what stock cannot cover. An order is
`not_issued` while still-needed material is not at its location (the station shows it before start).
The planner's list takes the open orders due in the next N days, earliest first, and charges each
material's available stock to them in that order, so two orders are not both covered by the same lot.
"""

from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlmodel import Session, col, func, select

from server.domain import bom, ledger
from server.domain import workorders as wo
from server.models.bom import ComponentStatus, OrderComponent
from server.models.materials import Material
from server.models.production import WorkOrder
from server.models.stock import StockBalance, StockMove

PLANNED = ("draft", "released", "in_progress", "paused")


@dataclass(frozen=True)
class OrderShortage:
    number: str
    due_date: date | None
    status: str
    components: list[ComponentStatus]

    @property
    def short(self) -> list[ComponentStatus]:
        return [c for c in self.components if c.short > ledger.EPSILON]

    @property
    def not_issued(self) -> list[ComponentStatus]:
        return [c for c in self.components if c.required - c.consumed - c.issued > ledger.EPSILON]


@dataclass
class _Facts:
    """An order's components with what was issued to it and consumed by it, per material id."""

    components: list[tuple[OrderComponent, Material]] = field(default_factory=list)
    issued: dict[int, float] = field(default_factory=dict)
    consumed: dict[int, float] = field(default_factory=dict)


def _facts(session: Session, orders: list[WorkOrder]) -> dict[int, _Facts]:
    """The facts of every order, in three queries however many orders (the planner's list)."""
    out = {order.id or 0: _Facts() for order in orders}
    if not orders:
        return out
    for comp, material in session.exec(bom.components_stmt(list(out))).all():
        out[comp.work_order_id].components.append((comp, material))
    by_location = {ledger.order_location(order.number): order.id or 0 for order in orders}
    issued = session.exec(
        select(StockBalance.location, StockBalance.material_id, func.sum(StockBalance.quantity))
        .where(col(StockBalance.location).in_(by_location))
        .group_by(col(StockBalance.location), col(StockBalance.material_id))
    ).all()
    for location, material_id, qty in issued:
        out[by_location[location]].issued[material_id] = float(qty)
    consumed = session.exec(
        select(StockMove.work_order_id, StockMove.material_id, func.sum(StockMove.quantity))
        .where(col(StockMove.work_order_id).in_(list(out)), StockMove.kind == "consume")
        .group_by(col(StockMove.work_order_id), col(StockMove.material_id))
    ).all()
    for order_id, material_id, qty in consumed:
        out[order_id or 0].consumed[material_id] = -float(qty)
    return out


def available(session: Session, material_ids: set[int]) -> dict[int, float]:
    """Stock at stock locations (not `wo:`) per material."""
    rows = session.exec(
        select(StockBalance.material_id, func.sum(StockBalance.quantity))
        .where(col(StockBalance.material_id).in_(material_ids), col(StockBalance.work_order_id).is_(None))
        .group_by(col(StockBalance.material_id))
    ).all()
    return {m: max(float(q), 0.0) for m, q in rows}


def order_status(session: Session, order: WorkOrder, pool: dict[int, float] | None = None) -> OrderShortage:
    """The order's components; `pool` (material id -> available stock) is drawn down when given."""
    facts = _facts(session, [order])[order.id or 0]
    if pool is None:
        pool = available(session, {m.id or 0 for _, m in facts.components})
    return _status(order, facts, pool)


def _status(order: WorkOrder, facts: _Facts, pool: dict[int, float]) -> OrderShortage:
    out: list[ComponentStatus] = []
    issued, consumed = facts.issued, facts.consumed
    for comp, material in facts.components:
        mid = material.id or 0
        required = bom.required(comp, order.quantity)
        need = ledger.qty(required - consumed.get(mid, 0.0) - issued.get(mid, 0.0))
        have = pool.get(mid, 0.0)
        pool[mid] = max(ledger.qty(have - max(need, 0.0)), 0.0)
        out.append(ComponentStatus(
            material=material.code, step_no=comp.step_no, quantity_per_part=comp.quantity_per_part,
            unit=comp.unit, scrap_allowance=comp.scrap_allowance, with_scrap=comp.with_scrap,
            bom_version=comp.bom_version, required=required, consumed=ledger.qty(consumed.get(mid, 0.0)),
            issued=ledger.qty(issued.get(mid, 0.0)), available=ledger.qty(have),
            short=max(ledger.qty(need - have), 0.0), unit_of_stock=material.unit,
        ))  # fmt: skip
    return OrderShortage(order.number, order.due_date, order.status, out)


def for_order(session: Session, number: str) -> OrderShortage:
    return order_status(session, wo.get(session, number))


def for_orders(session: Session, numbers: Collection[str]) -> dict[str, OrderShortage]:
    """The material state of each of these orders that has components (the station's queue)."""
    stmt = select(WorkOrder).where(col(WorkOrder.number).in_(list(numbers)))
    stmt = stmt.where(col(WorkOrder.id).in_(select(OrderComponent.work_order_id)))
    orders = list(session.exec(stmt).all())
    facts = _facts(session, orders)
    pool = available(session, {m.id or 0 for f in facts.values() for _, m in f.components})
    # each order against the whole stock, as the station shows it (not drawn down by the others)
    return {o.number: _status(o, facts[o.id or 0], dict(pool)) for o in orders}


def upcoming(session: Session, today: date, days: int) -> list[OrderShortage]:
    """Orders due within `days` (or without a due date), not finished, that lack something; stock is
    allotted to them by due date, then priority."""
    stmt = (
        select(WorkOrder).where(col(WorkOrder.status).in_(PLANNED))
        .where((col(WorkOrder.due_date) <= today + timedelta(days=days)) | col(WorkOrder.due_date).is_(None))
        .order_by(col(WorkOrder.due_date).is_(None), col(WorkOrder.due_date), col(WorkOrder.priority).desc(),
                  col(WorkOrder.id))
    )  # fmt: skip
    stmt = stmt.where(col(WorkOrder.id).in_(select(OrderComponent.work_order_id)))  # others lack nothing
    orders = list(session.exec(stmt).all())
    facts = _facts(session, orders)
    pool: dict[int, float] = defaultdict(float)
    pool.update(available(session, {m.id or 0 for f in facts.values() for _, m in f.components}))
    result = [_status(order, facts[order.id or 0], pool) for order in orders]
    return [r for r in result if r.short or r.not_issued]

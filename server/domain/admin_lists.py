"""What the planner and admin pages list: master data in display order, one query per kind (docs/pages.md)."""

from collections.abc import Sequence

from sqlmodel import Session, col, select

from server.domain import catalog
from server.domain import workorders as wo
from server.models.auth import Tablet, User
from server.models.catalog import Customer, Product, ProductPublic, ReasonCode
from server.models.orders import WorkOrderSummary
from server.models.plant import Line, Machine, Station, Tag
from server.models.production import WorkOrder
from server.models.quality import InspectionPlan


def orders(session: Session, status: str | None, limit: int = 300) -> list[WorkOrderSummary]:
    return wo.summaries(session, session.exec(wo.list_query(status, None, None).limit(limit)).all())


def products(session: Session) -> Sequence[Product]:
    return session.exec(select(Product).order_by(col(Product.code))).all()


def public_products(session: Session) -> list[ProductPublic]:
    return [catalog.public(session, p) for p in products(session)]


def customers(session: Session) -> Sequence[Customer]:
    return session.exec(select(Customer).order_by(col(Customer.code))).all()


def machines(session: Session) -> Sequence[Machine]:
    return session.exec(select(Machine).order_by(col(Machine.code))).all()


def lines(session: Session) -> Sequence[Line]:
    return session.exec(select(Line).order_by(col(Line.code))).all()


def tags_by_machine(session: Session, machine_ids: Sequence[int | None]) -> dict[int | None, list[Tag]]:
    """Each machine's tags by name (every listed machine has a list, maybe empty)."""
    found: dict[int | None, list[Tag]] = {mid: [] for mid in machine_ids}
    stmt = select(Tag).where(col(Tag.machine_id).in_(machine_ids)).order_by(col(Tag.name))
    for tag in session.exec(stmt).all():
        found.setdefault(tag.machine_id, []).append(tag)
    return found


def stations(session: Session) -> Sequence[Station]:
    return session.exec(select(Station).order_by(col(Station.code))).all()


def reason_codes(session: Session) -> Sequence[ReasonCode]:
    return session.exec(select(ReasonCode).order_by(col(ReasonCode.kind), col(ReasonCode.code))).all()


def plans(session: Session) -> Sequence[tuple[InspectionPlan, Product]]:
    return session.exec(
        select(InspectionPlan, Product).join(Product, col(Product.id) == InspectionPlan.product_id)
    ).all()


def users(session: Session) -> Sequence[User]:
    return session.exec(select(User).order_by(col(User.username))).all()


def tablets(session: Session) -> Sequence[tuple[Tablet, Station]]:
    return session.exec(select(Tablet, Station).join(Station, col(Station.id) == Tablet.station_id)).all()


def order_of(session: Session, work_order_id: int | None) -> WorkOrder | None:
    return None if work_order_id is None else session.get(WorkOrder, work_order_id)


def product_of(session: Session, product_id: int) -> Product | None:
    return session.get(Product, product_id)

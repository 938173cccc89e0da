"""Share links: capabilities for one work order (>= 256-bit token, stored as SHA-256, expiring, revocable)."""

from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from sqlmodel import Session, col, select

from server.domain import audit
from server.domain.security import new_token, token_hash
from server.models.auth import ShareLink
from server.models.production import WorkOrder
from server.models.sales import SalesOrder
from server.models.types import utcnow


@dataclass(frozen=True)
class NewLink:
    link: ShareLink
    token: str


def create(
    session: Session,
    actor: str,
    order: WorkOrder | SalesOrder,
    days: int,
    show: dict[str, object] | None = None,
) -> NewLink:
    """A link to a work order's page, or to a whole sales order's (every line's progress, the PO on top)."""
    token = new_token()
    link = ShareLink(
        token_hash=token_hash(token), expires_at=utcnow() + timedelta(days=days), created_by=actor
    )
    what: dict[str, object]
    if isinstance(order, SalesOrder):
        link.sales_order_id, what = order.id, {"sales_order": order.id}
    else:
        link.work_order_id, what = order.id, {"work_order": order.number}
    link.sqlmodel_update(show or {})
    session.add(link)
    session.flush()
    audit.record(session, actor, "ShareLink", link.id, "create", what | {"days": days})
    session.commit()
    session.refresh(link)
    return NewLink(link=link, token=token)


def for_order(session: Session, order: WorkOrder | SalesOrder) -> list[ShareLink]:
    column = ShareLink.sales_order_id if isinstance(order, SalesOrder) else ShareLink.work_order_id
    stmt = select(ShareLink).where(column == order.id).order_by(col(ShareLink.id))
    return list(session.exec(stmt).all())


def revoke(session: Session, actor: str, link: ShareLink) -> ShareLink:
    link.revoked = True
    session.add(link)
    audit.record(session, actor, "ShareLink", link.id, "revoke", None)
    session.commit()
    session.refresh(link)
    return link


def release_certificate(session: Session, actor: str, link: ShareLink, released: bool) -> ShareLink:
    """Show (or withdraw) the order's inspection certificate on this link's page; audit-logged."""
    if link.show_certificate != released:
        link.show_certificate = released
        session.add(link)
        action = "release_certificate" if released else "withdraw_certificate"
        audit.record(session, actor, "ShareLink", link.id, action, None)
        session.commit()
        session.refresh(link)
    return link


_BY_HASH = sa.select(ShareLink.__table__).where(  # type: ignore[attr-defined]
    ShareLink.__table__.c.token_hash == sa.bindparam("h")  # type: ignore[attr-defined]
)


def live_link(conn: sa.Connection, token: str) -> ShareLink | None:
    """The live link for `token`; missing, expired and revoked all give None. In Core, without a
    Session: the customer share page asks this on every request (a fraction of the ORM's cost)."""
    if not token or len(token) > 200:
        return None
    row = conn.execute(_BY_HASH, {"h": token_hash(token)}).first()
    if row is None:
        return None
    link = ShareLink(**row._mapping)  # detached, read only
    return None if link.revoked or link.expires_at <= utcnow() else link


def resolve_share_token(session: Session, token: str) -> WorkOrder | None:
    """The work order a share token opens; missing, expired and revoked (and sales-order links) give None."""
    link = live_link(session.connection(), token)
    return None if link is None or link.work_order_id is None else session.get(WorkOrder, link.work_order_id)

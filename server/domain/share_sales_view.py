"""What a sales order's share link shows: the customer's PO number on top and every line's product,
quantity, due date, status and (per the link's choices) progress, expected completion and inspections. Built
field by field like the work-order view (server/domain/share_view.py): no work-order numbers, prices,
operators, database ids or anything of other customers."""

from datetime import datetime
from typing import Any

from sqlmodel import Session

from server.core.sitetime import SiteTime
from server.domain import sales_orders
from server.domain.share_view import inspections, share_view
from server.domain.sites import site_of
from server.models.auth import ShareLink
from server.models.sales import SalesOrder

LINE_STATUS = {
    "open": "planned",
    "planned": "planned",
    "in_production": "in_production",
    "completed": "completed",
}


def view_of(session: Session, link: ShareLink, site_code: str) -> dict[str, Any]:
    """The customer's view of the link: a whole sales order's, or one work order's."""
    if link.sales_order_id is not None:
        return sales_share_view(session, link, site_code)
    return share_view(session, link, site_code)


def _eta(lp: sales_orders.LineProgress) -> datetime | None:
    """The line is done when its last work order is: the latest ETA (unknown while any is unknown)."""
    etas = [p.eta for _, p in lp.orders]
    return None if not etas or any(e is None for e in etas) else max(e for e in etas if e is not None)


def _line(
    lp: sales_orders.LineProgress, link: ShareLink, local: SiteTime, session: Session
) -> dict[str, Any]:
    line: dict[str, Any] = {
        "line": lp.line.line_no,
        "product": lp.product.name,
        "product_code": lp.product.code,
        "unit": lp.product.unit,
        "quantity": lp.line.quantity,
        "due_date": lp.line.due_date.isoformat() if lp.line.due_date else None,
        "status": LINE_STATUS[lp.status],
    }
    if link.show_progress:
        line |= {"good": lp.good, "percent": lp.percent}
    if link.show_eta:
        line |= {"eta": local.iso(_eta(lp)), "late": any(p.late for _, p in lp.orders)}
    if link.show_inspections:
        line["inspections"] = [i for order, _ in lp.orders for i in inspections(session, order, local)]
    return line


def sales_share_view(session: Session, link: ShareLink, site_code: str) -> dict[str, Any]:
    order = session.get(SalesOrder, link.sales_order_id)
    assert order is not None
    site = site_of(session, site_code)
    local = SiteTime.named(site.timezone if site else None)
    per_line = sales_orders.line_progress(session, order, local.name)
    status = sales_orders.order_status([lp.status for lp in per_line])
    return {
        "factory": site.name if site else "",
        "po_number": order.po_number,
        "reference": link.customer_ref or order.po_number,
        "po_date": order.po_date.isoformat() if order.po_date else None,
        "status": LINE_STATUS[status],
        "expires": local.date_text(link.expires_at),
        "lines": [_line(lp, link, local, session) for lp in per_line],
    }

"""What a share link shows: a whitelist built field by field (never a model dump), so nothing internal leaks:
no operator names, costs, customers, other orders, database ids or work-order numbers; scrap only when the
factory chose to show it (`ShareLink.show_scrap`); on top the customer's own reference (the link's, else
the PO of the sales order the work order belongs to). The inspection
certificate is added only when a planner released it on the link (`ShareLink.show_certificate`); see
docs/pages.md."""

from typing import Any

from sqlmodel import Session, col, select

from server.core.sitetime import SiteTime
from server.domain import certificates, progress
from server.domain.sites import site_of
from server.models.auth import ShareLink
from server.models.catalog import Product
from server.models.production import WorkOrder
from server.models.quality import InspectionPlan, InspectionRecord
from server.models.sales import SalesLineWorkOrder, SalesOrder, SalesOrderLine

PUBLIC_STATUS = {"draft": "planned", "released": "planned", "in_progress": "in_production",
                 "paused": "in_production", "completed": "completed", "closed": "completed",
                 "cancelled": "cancelled"}  # fmt: skip


def inspections(session: Session, order: WorkOrder, local: SiteTime) -> list[dict[str, Any]]:
    stmt = (
        select(InspectionRecord, InspectionPlan)
        .join(InspectionPlan, col(InspectionPlan.id) == InspectionRecord.plan_id)
        .where(InspectionRecord.work_order_id == order.id)
        .order_by(col(InspectionRecord.created_at))
    )
    return [
        {
            "name": plan.name,
            "kind": plan.frequency,
            "passed": record.passed,
            "date": local.date_text(record.created_at),
        }
        for record, plan in session.exec(stmt).all()
    ]


def po_number(session: Session, order: WorkOrder) -> str | None:
    """The customer's PO of the sales order the work order makes a line of, if any."""
    return session.exec(
        select(SalesOrder.po_number)
        .join(SalesOrderLine, col(SalesOrderLine.sales_order_id) == col(SalesOrder.id))
        .join(SalesLineWorkOrder, col(SalesLineWorkOrder.line_id) == col(SalesOrderLine.id))
        .where(SalesLineWorkOrder.work_order_id == order.id)
    ).first()


def share_view(session: Session, link: ShareLink, site_code: str) -> dict[str, Any]:
    """The customer's view of the link's order, as plain JSON-able values."""
    order = session.get(WorkOrder, link.work_order_id)
    assert order is not None
    product = session.get(Product, order.product_id)
    site = site_of(session, site_code)
    local = SiteTime.named(site.timezone if site else None)
    prog = progress.progress(session, order, local.name)
    view: dict[str, Any] = {
        "factory": site.name if site else "",
        "reference": link.customer_ref or po_number(session, order),
        "product": product.name if product else "",
        "product_code": product.code if product else "",
        "unit": product.unit if product else "pcs",
        "quantity": order.quantity,
        "status": PUBLIC_STATUS.get(order.status, "planned"),
        "due_date": order.due_date.isoformat() if order.due_date else None,
        "expires": local.date_text(link.expires_at),
    }
    if link.show_progress:
        view |= {"good": prog.good, "percent": prog.percent,
                 "steps": [{"step": op.step_no, "name": op.name, "status": op.status, "good": op.good,
                            "planned": op.planned_qty, "percent": op.percent}
                           | ({"scrap": op.scrap} if link.show_scrap else {})
                           for op in prog.operations]}  # fmt: skip
        if link.show_scrap:
            view["scrap"] = prog.scrap
    if link.show_eta:
        view |= {"eta": local.iso(prog.eta), "late": prog.late}  # the site's offset: eta[:10] is its date
    if link.show_inspections:
        view["inspections"] = inspections(session, order, local)
    if link.show_certificate:
        cert = certificates.certificate_for_share(session, order, link)
        if cert is not None:  # whitelisted already: no ids, order number or names (inspector by role)
            view["certificate"] = {k: cert[k] for k in ("passed", "records")}
    return view

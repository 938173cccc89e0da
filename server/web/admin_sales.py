"""Planner pages for sales orders: the list with CSV/XLSX import, one order with each line's status and
progress, a line split into work orders, and the customer's share link for the whole order."""

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, Response, UploadFile

from server.core.db import SessionDep
from server.core.i18n import N_
from server.core.services import SettingsDep
from server.domain import admin_lists, crud, sales_import, sales_orders, sharelinks, sites
from server.models.sales import LineSplit, SalesOrderCreate
from server.web.admin_orders import ConfirmedUpload, Upload, import_page, upload_format
from server.web.auth import PlannerUser, SameOrigin
from server.web.forms import done, validated
from server.web.routing import PageRoute
from server.web.share import qr_svg
from server.web.templates import templates

router = APIRouter(route_class=PageRoute)


@router.get("/admin/sales-orders")
def sales_orders_page(request: Request, session: SessionDep, who: PlannerUser) -> Response:
    rows, _total = crud.page(session, sales_orders.list_query(None), 200, 0)
    context = {
        "rows": [sales_orders.public(session, o) for o in rows], "who": who,
        "customers": admin_lists.customers(session),
    }  # fmt: skip
    return templates.TemplateResponse(request, "admin/sales_orders.html", context)


@router.post("/admin/sales-orders/import")
def import_sales_orders(
    request: Request,
    session: SessionDep,
    who: PlannerUser,
    _origin: SameOrigin,
    file: Annotated[UploadFile, File()],
) -> Response:
    """The preview: every line checked, nothing written; the page offers to confirm (below)."""
    data, fmt = file.file.read(), upload_format(file)
    result = sales_import.import_sales_orders(session, who.username, data, fmt, dry_run=True)
    return import_page(request, result, "/admin/sales-orders", Upload(data, fmt))


@router.post("/admin/sales-orders/import/confirm")
def confirm_import_sales_orders(
    request: Request, session: SessionDep, who: PlannerUser, _origin: SameOrigin, upload: ConfirmedUpload
) -> Response:
    result = sales_import.import_sales_orders(session, who.username, upload.data, upload.fmt, dry_run=False)
    return import_page(request, result, "/admin/sales-orders")


@router.get("/admin/sales-orders/{order_id}")
def sales_order_page(
    order_id: int, request: Request, session: SessionDep, settings: SettingsDep, who: PlannerUser
) -> Response:
    order = sales_orders.get(session, order_id)
    context: dict[str, Any] = {
        "so": sales_orders.public(session, order),
        "links": sharelinks.for_order(session, order),
        "who": who,
        "time": sites.site_time(session, settings.site),
    }
    return templates.TemplateResponse(request, "admin/sales_order.html", context)


@router.post("/admin/sales-orders/{order_id}/lines/{line_no}/split")
def split_line(
    order_id: int,
    line_no: int,
    session: SessionDep,
    who: PlannerUser,
    _origin: SameOrigin,
    quantities: Annotated[str, Form(max_length=400)],
    count_source: Annotated[str, Form(max_length=16)] = "machine",
) -> Response:
    """Work orders for the line from "300, 200" (one quantity per work order)."""
    parts = [p.strip() for p in quantities.replace("，", ",").split(",") if p.strip()]
    body = validated(LineSplit, {"orders": [{"quantity": p} for p in parts], "count_source": count_source})
    sales_orders.split(session, who.username, order_id, line_no, body)
    return done(f"/admin/sales-orders/{order_id}", N_("Work orders created"))


@router.post("/admin/sales-orders/{order_id}/share-links")
def create_share_link(
    order_id: int,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    who: PlannerUser,
    _origin: SameOrigin,
    days: Annotated[int, Form(ge=1, le=366)] = 30,
    show_progress: Annotated[bool, Form()] = False,
    show_eta: Annotated[bool, Form()] = False,
    show_inspections: Annotated[bool, Form()] = False,
    customer_ref: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    order = sales_orders.get(session, order_id)
    show: dict[str, object] = {
        "show_progress": show_progress, "show_eta": show_eta, "show_inspections": show_inspections,
        "customer_ref": customer_ref.strip() or None,
    }  # fmt: skip
    new = sharelinks.create(session, who.username, order, days, show)
    url = f"{str(settings.public_url).rstrip('/')}/s/{new.token}"
    context = {
        "label": order.po_number,
        "back": f"/admin/sales-orders/{order_id}",
        "url": url,
        "token": new.token,
        "qr": qr_svg(url, scale=5).decode(),
        "link": new.link,
        "time": sites.site_time(session, settings.site),
        "who": who,
    }
    return templates.TemplateResponse(request, "admin/share_created.html", context, status_code=201)


@router.post("/admin/sales-orders")
def create_sales_order(
    session: SessionDep,
    who: PlannerUser,
    _origin: SameOrigin,
    customer: Annotated[str, Form(max_length=64)],
    po_number: Annotated[str, Form(max_length=64)],
    lines: Annotated[str, Form(max_length=20_000)],
    po_date: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    """A sales order typed in: one line per row, "product, quantity, due date, unit price" (the last two
    optional; Chinese commas too)."""
    rows = [
        [c.strip() for c in row.replace("，", ",").split(",")] for row in lines.splitlines() if row.strip()
    ]
    keys = ("product", "quantity", "due_date", "unit_price")
    body = validated(
        SalesOrderCreate,
        {"customer": customer, "po_number": po_number.strip(), "po_date": po_date,
         "lines": [{k: v for k, v in zip(keys, row, strict=False) if v} for row in rows]},
    )  # fmt: skip
    order = sales_orders.create_many(session, who.username, [body])[0]
    return done(f"/admin/sales-orders/{order.id}", N_("Sales order created"))

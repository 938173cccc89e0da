"""Planner pages: work orders (list, create, CSV/XLSX import, release, reprioritise), a printable job
traveler with a QR code that opens the order on a station tablet, and share links with QR codes."""

import base64
import binascii
import logging
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, File, Form, Request, Response, UploadFile
from sqlmodel import Session

from server.core.db import SessionDep
from server.core.errors import ServerError
from server.core.i18n import N_, get_locale, request_error_text
from server.core.services import ServicesDep, SettingsDep
from server.domain import admin_lists, crud, importexport, operations, progress, share_view, sharelinks, sites
from server.domain import workorders as wo
from server.domain.principals import Principal
from server.models.auth import ShareLink
from server.models.orders import WorkOrderCreate, WorkOrderUpdate
from server.web.auth import PlannerUser, SameOrigin
from server.web.errors import PageError
from server.web.forms import FormInvalid, done, validated
from server.web.routing import PageRoute
from server.web.share import qr_svg
from server.web.templates import templates
from server.web.validation import row_problem

log = logging.getLogger(__name__)
PREVIEW_ROWS = 200  # rows shown on an import's preview (all are checked)
PREVIEW_MAX_CHARS = 14 * 1024 * 1024  # the confirmed file, base64: a 10 MB upload
router = APIRouter(route_class=PageRoute)


@dataclass(frozen=True)
class Upload:
    """An uploaded import file, carried from the preview to its confirmation in a hidden form field."""

    data: bytes
    fmt: str

    @property
    def encoded(self) -> str:
        return base64.b64encode(self.data).decode()


def _confirmed_upload(
    data: Annotated[str, Form(max_length=PREVIEW_MAX_CHARS)], fmt: Annotated[Literal["csv", "xlsx"], Form()]
) -> Upload:
    try:
        return Upload(base64.b64decode(data, validate=True), fmt)
    except binascii.Error as err:
        raise FormInvalid(N_("The upload was damaged on the way; upload the file again.")) from err


ConfirmedUpload = Annotated[Upload, Depends(_confirmed_upload)]


@router.get("/admin")
@router.get("/admin/orders")
def orders(request: Request, session: SessionDep, who: PlannerUser, status: str | None = None) -> Response:
    return _orders_page(request, session, who, status or "")


def _orders_page(
    request: Request,
    session: Session,
    who: Principal,
    status: str,
    form: dict[str, object] | None = None,
    error: str | None = None,
    code: int = 200,
) -> Response:
    """The list with the new-order form; after a refused create, the form with what was typed and why."""
    rows = admin_lists.orders(session, status or None)
    products = admin_lists.products(session)
    customers = admin_lists.customers(session)
    context = {"rows": rows, "products": products, "customers": customers, "who": who, "status": status,
               "f": form or {}, "error": error}  # fmt: skip
    return templates.TemplateResponse(request, "admin/orders.html", context, status_code=code)


@router.post("/admin/orders")
def create_order(
    request: Request,
    session: SessionDep,
    who: PlannerUser,
    _origin: SameOrigin,
    number: Annotated[str, Form(max_length=40)],
    product: Annotated[str, Form(max_length=64)],
    quantity: Annotated[int, Form(gt=0)],
    customer: Annotated[str, Form(max_length=64)] = "",
    due_date: Annotated[str, Form(max_length=10)] = "",
    priority: Annotated[int, Form(ge=0, le=1000)] = 0,
    count_source: Annotated[str, Form(max_length=16)] = "machine",
) -> Response:
    data: dict[str, object] = {"number": number.strip(), "product": product, "customer": customer,
                               "quantity": quantity, "due_date": due_date, "priority": priority,
                               "count_source": count_source}  # fmt: skip
    try:
        order = wo.create(session, who.username, validated(WorkOrderCreate, data))
    except (ServerError, PageError) as err:  # a duplicate number, an unknown product: the form stays filled
        session.rollback()
        text = request_error_text(request, err)
        return _orders_page(request, session, who, "", data, text, getattr(err, "status", 422))
    return done(f"/admin/orders/{order.number}", N_("Work order created"))


@router.post("/admin/orders/import")
def import_orders(
    request: Request,
    session: SessionDep,
    who: PlannerUser,
    _origin: SameOrigin,
    file: Annotated[UploadFile, File()],
) -> Response:
    """The preview: every row checked, nothing written; the page offers to confirm (below)."""
    data, fmt = file.file.read(), upload_format(file)
    result = importexport.import_orders(session, who.username, data, fmt, dry_run=True)
    return import_page(request, result, "/admin/orders", Upload(data, fmt))


@router.post("/admin/orders/import/confirm")
def confirm_import_orders(
    request: Request, session: SessionDep, who: PlannerUser, _origin: SameOrigin, upload: ConfirmedUpload
) -> Response:
    result = importexport.import_orders(session, who.username, upload.data, upload.fmt, dry_run=False)
    return import_page(request, result, "/admin/orders")


def upload_format(file: UploadFile) -> str:
    return "xlsx" if (file.filename or "").lower().endswith(".xlsx") else "csv"


def import_page(
    request: Request,
    result: importexport.ImportResult,
    back: str,
    preview: Upload | None = None,
    confirm: str | None = None,
    imported: str | None = None,
) -> Response:
    """What an import did or would do: the row errors in the page's language (422, nothing imported), the
    preview of a clean file with its rows and a confirm button (nothing written yet), or how many rows."""
    locale = get_locale(request)
    problems = [(e.row, e.field, row_problem(locale, e)) for e in result.errors]
    rows = importexport.read_rows(preview.data, preview.fmt) if preview and not problems else []
    header = list(rows[0]) if rows else []
    context = {"r": result, "problems": problems, "back": back, "preview": preview, "header": header,
               "confirm": confirm or f"{back}/import/confirm", "imported": imported,
               "rows": [[row.get(h) for h in header] for row in rows[:PREVIEW_ROWS]]}  # fmt: skip
    return templates.TemplateResponse(
        request, "admin/import.html", context, status_code=422 if problems else 200
    )


@router.get("/admin/orders/{number}")
def order_page(
    number: str, request: Request, session: SessionDep, settings: SettingsDep, who: PlannerUser
) -> Response:
    order = wo.get(session, number)
    links = sharelinks.for_order(session, order)
    local = sites.site_time(session, settings.site)
    prog = progress.progress(session, order, local.name)
    context: dict[str, Any] = {"o": wo.public(session, order), "p": prog, "links": links, "who": who,
                               "time": local, "po_number": share_view.po_number(session, order)}  # fmt: skip
    return templates.TemplateResponse(request, "admin/order.html", context)


@router.post("/admin/orders/{number}/release")
def release(number: str, session: SessionDep, who: PlannerUser, _origin: SameOrigin) -> Response:
    operations.release(session, who.username, number)
    return done(f"/admin/orders/{number}", N_("Released"))


@router.post("/admin/orders/{number}/priority")
def reprioritise(
    number: str,
    session: SessionDep,
    who: PlannerUser,
    _origin: SameOrigin,
    priority: Annotated[int, Form(ge=0, le=1000)],
    due_date: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    patch: dict[str, object] = {"priority": priority, "due_date": due_date}
    wo.update(session, who.username, number, validated(WorkOrderUpdate, patch))
    return done(f"/admin/orders/{number}", N_("Saved"))


@router.get("/admin/orders/{number}/traveler")
def traveler(
    number: str, request: Request, session: SessionDep, settings: SettingsDep, _who: PlannerUser
) -> Response:
    order = wo.get(session, number)
    base = str(settings.public_url).rstrip("/")
    url = f"{base}/station/go/{order.number}"
    product = admin_lists.product_of(session, order.product_id)
    qr = qr_svg(url, scale=5).decode()
    context = {
        "o": wo.public(session, order),
        "product": product,
        "qr": qr,
        "url": url,
        "today": date.today(),
    }
    return templates.TemplateResponse(request, "admin/traveler.html", context)


@router.post("/admin/orders/{number}/share-links")
def create_share_link(
    number: str,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    who: PlannerUser,
    _origin: SameOrigin,
    days: Annotated[int, Form(ge=1, le=366)] = 30,
    show_progress: Annotated[bool, Form()] = False,
    show_scrap: Annotated[bool, Form()] = False,
    show_eta: Annotated[bool, Form()] = False,
    show_inspections: Annotated[bool, Form()] = False,
    show_certificate: Annotated[bool, Form()] = False,
    customer_ref: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    order = wo.get(session, number)
    show: dict[str, object] = {"show_progress": show_progress, "show_scrap": show_scrap, "show_eta": show_eta,
            "show_inspections": show_inspections, "show_certificate": show_certificate,
            "customer_ref": customer_ref.strip() or None}  # fmt: skip
    new = sharelinks.create(session, who.username, order, days, show)
    base = str(settings.public_url).rstrip("/")
    url = f"{base}/s/{new.token}"
    context = {
        "label": order.number,
        "back": f"/admin/orders/{order.number}",
        "url": url,
        "token": new.token,
        "qr": qr_svg(url, scale=5).decode(),
        "link": new.link,
        "time": sites.site_time(session, settings.site),
    }
    return templates.TemplateResponse(request, "admin/share_created.html", context, status_code=201)


@router.post("/admin/share-links/{link_id}/certificate")
def release_certificate(
    link_id: int,
    services: ServicesDep,
    session: SessionDep,
    who: PlannerUser,
    _origin: SameOrigin,
    release: Annotated[bool, Form()] = False,
) -> Response:
    """Release (release=true) or withdraw the inspection certificate on one customer share link."""
    link = crud.get_by(session, ShareLink, id=link_id)
    sharelinks.release_certificate(session, who.username, link, release)
    services.forget_rendered_shares()
    order = admin_lists.order_of(session, link.work_order_id)
    message = N_("Certificate released") if release else N_("Certificate withdrawn")
    return done(f"/admin/orders/{order.number if order else ''}", message)


@router.post("/admin/share-links/{link_id}/revoke")
def revoke_share_link(link_id: int, session: SessionDep, who: PlannerUser, _origin: SameOrigin) -> Response:
    link = crud.get_by(session, ShareLink, id=link_id)
    sharelinks.revoke(session, who.username, link)
    if link.sales_order_id is not None:
        return done(f"/admin/sales-orders/{link.sales_order_id}", N_("Share link revoked"))
    order = admin_lists.order_of(session, link.work_order_id)
    return done(f"/admin/orders/{order.number if order else ''}", N_("Share link revoked"))

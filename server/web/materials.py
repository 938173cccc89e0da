"""The planner's material page (`/admin/materials`: stock totals and the shortage list for the next N days),
and the material parts of the station tablet (issue by scan, the current order's components, shortages in
the queue) and the boss page's shortages (`templates/boss/_shortages.html`)."""

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, File, Form, Query, Request, Response, UploadFile
from sqlmodel import Session

from server.core.db import SessionDep
from server.core.i18n import N_
from server.core.services import SettingsDep
from server.domain import lot_files, shortages, sites, stock
from server.domain.station_view import StationView
from server.models.stock import ReceiptIn
from server.web.auth import SameOrigin, SupervisorUser
from server.web.forms import done, validated
from server.web.routing import PageRoute
from server.web.templates import templates

router = APIRouter(route_class=PageRoute)


def station_materials(session: Session, view: StationView) -> dict[str, shortages.OrderShortage]:
    """Material state of the orders in the station's queue (those with a BOM), by order number."""
    numbers = {job.number for job in view.queue} | ({view.current.number} if view.current else set())
    return shortages.for_orders(session, numbers)


SHORTAGE_DAYS = 7  # the boss page looks a week ahead; the planner's list (`/api/v1/shortages`) takes any N


def upcoming_shortages(session: Session, site: str | None) -> list[shortages.OrderShortage]:
    """Orders due within a week (or undated) that lack material, before or while they run."""
    return shortages.upcoming(session, sites.site_time(session, site).today(), SHORTAGE_DAYS)


@router.get("/admin/materials")
def materials_page(
    request: Request, session: SessionDep, settings: SettingsDep, who: SupervisorUser,
    days: Annotated[int, Query(ge=0, le=366)] = SHORTAGE_DAYS,
) -> Response:  # fmt: skip
    today = sites.site_time(session, settings.site).today()
    context = {"who": who, "days": days, "totals": stock.totals(session),
               "shortages": shortages.upcoming(session, today, days)}  # fmt: skip
    return templates.TemplateResponse(request, "admin/materials.html", context)


@router.post("/admin/materials/receipts")
def receive_lot(
    session: SessionDep, settings: SettingsDep, who: SupervisorUser, _origin: SameOrigin,
    lot_code: Annotated[str, Form(max_length=64)], material: Annotated[str, Form(max_length=64)],
    quantity: Annotated[str, Form(max_length=20)], location: Annotated[str, Form(max_length=80)] = "WH",
    supplier: Annotated[str, Form(max_length=200)] = "",
    supplier_lot: Annotated[str, Form(max_length=100)] = "",
    certificate: Annotated[UploadFile | None, File()] = None,
) -> Response:  # fmt: skip
    """Receive a lot (its certificate checked before anything is booked), then show its page (its labels)."""
    fields: dict[str, object] = {"lot_code": lot_code, "material": material, "quantity": quantity}
    fields |= {"location": location, "supplier": supplier, "supplier_lot": supplier_lot}
    body = validated(ReceiptIn, fields)
    limit = settings.upload_max_bytes
    name = certificate.filename if certificate is not None else None
    data = certificate.file.read(limit + 1) if certificate is not None and name else None
    if data is not None and name:
        lot_files.check_certificate(body.lot_code, name, data, limit)
    stock.receive(session, who.username, body)
    if data is not None and name:
        lot_files.store_certificate(session, who.username, body.lot_code, name, data, limit)
    return done(f"/lots/{quote(body.lot_code)}", N_("Received"))

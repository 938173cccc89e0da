"""The planner's material page (`/admin/materials`: stock totals and the shortage list for the next N days),
and the material parts of the station tablet (issue by scan, the current order's components, shortages in
the queue) and the boss page's shortages (`templates/boss/_shortages.html`)."""

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from sqlmodel import Session

from server.core.db import SessionDep
from server.core.services import SettingsDep
from server.domain import shortages, sites, stock
from server.domain.station_view import StationView
from server.web.auth import PlannerUser
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
    request: Request, session: SessionDep, settings: SettingsDep, who: PlannerUser,
    days: Annotated[int, Query(ge=0, le=366)] = SHORTAGE_DAYS,
) -> Response:  # fmt: skip
    today = sites.site_time(session, settings.site).today()
    context = {"who": who, "days": days, "totals": stock.totals(session),
               "shortages": shortages.upcoming(session, today, days)}  # fmt: skip
    return templates.TemplateResponse(request, "admin/materials.html", context)

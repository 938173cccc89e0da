"""A lot's traceability page: `/lots/{code}` (backward and forward genealogy with the orders' machines,
operators and inspections; printable), and `/l/{code}`, what a lot label's QR code holds, which opens it.
Signed-in users and enrolled station tablets may open it (a scan on any tablet)."""

from urllib.parse import quote

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse

from server.core.db import SessionDep
from server.domain import lot_story, sites, tokens
from server.web.auth import DEVICE_COOKIE, page_user
from server.web.routing import PageRoute
from server.web.templates import templates

router = APIRouter(route_class=PageRoute)


@router.get("/l/{code}")
def lot_label_link(code: str) -> Response:
    return RedirectResponse(f"/lots/{quote(code, safe='')}", status_code=303)


@router.get("/lots/{code}")
def lot_page(code: str, request: Request, session: SessionDep) -> Response:
    if tokens.enrolled_tablet(session, request.cookies.get(DEVICE_COOKIE)) is None:
        page_user(request, session)  # not a tablet: sign in first
    context = {"s": lot_story.story(session, code), "time": sites.site_time(session)}
    return templates.TemplateResponse(request, "lots/trace.html", context)

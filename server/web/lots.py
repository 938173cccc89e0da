"""A lot's traceability page: `/lots/{code}` (backward and forward genealogy with the orders' machines,
operators and inspections; printable; its label as PDF), and `/l/{code}`, what a lot label's QR code holds.
Signed-in users and enrolled station tablets may open it (a scan on any tablet)."""

from urllib.parse import quote

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from server.core.db import SessionDep
from server.core.services import SettingsDep
from server.domain import label_data, labels, lot_story, sites, tokens
from server.web.auth import DEVICE_COOKIE, page_user
from server.web.routing import PageRoute
from server.web.templates import templates

router = APIRouter(route_class=PageRoute)


@router.get("/l/{code}")
def lot_label_link(code: str) -> Response:
    return RedirectResponse(f"/lots/{quote(code, safe='')}", status_code=303)


def _may_view(request: Request, session: Session) -> None:
    if tokens.enrolled_tablet(session, request.cookies.get(DEVICE_COOKIE)) is None:
        page_user(request, session)  # not a tablet: sign in first


@router.get("/lots/{code}")
def lot_page(code: str, request: Request, session: SessionDep) -> Response:
    _may_view(request, session)
    context = {"s": lot_story.story(session, code), "time": sites.site_time(session)}
    return templates.TemplateResponse(request, "lots/trace.html", context)


@router.get("/lots/{code}/label.pdf")
async def lot_label_pdf(
    code: str,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    format: labels.LabelFormat = "thermal",
) -> Response:
    """The lot's label (a finished lot's: its order's finished-goods label) to print from the lot's page."""
    _may_view(request, session)
    label = label_data.for_lot(session, str(settings.public_url), code)
    body = await run_in_threadpool(labels.render, [label], format)
    return Response(body, media_type="application/pdf", headers={"Content-Disposition": "inline"})

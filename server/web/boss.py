"""The boss's phone: `/boss` (today at a glance, live), `/boss/orders/{number}`, `/boss/machines/{code}`.

The page applies live events (`/live/events`, JSON) to its machine tiles at once and re-reads the figures they
imply from `/boss/fragment`, at most every 10 s after a change of state (not per count) and every
`live_refresh_s` seconds.
"""

import logging
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, Query, Request, Response
from fastapi.responses import JSONResponse
from sqlmodel import Session

from server.api.deps import HistorianDep, SettingsDep
from server.core.db import SessionDep
from server.core.i18n import N_, get_locale
from server.core.settings import Settings
from server.domain import boss_view as bv
from server.domain import crud, operations, reopen_window, scorecard, sites
from server.models.plant import Machine
from server.models.types import now_ms
from server.web.auth import REOPENERS, BossUser, SameOrigin, SupervisorUser
from server.web.forms import done
from server.web.materials import upcoming_shortages
from server.web.routing import PageRoute
from server.web.templates import templates

log = logging.getLogger(__name__)
router = APIRouter(route_class=PageRoute)
HOUR_MS = 3_600_000
SCORECARD_DAYS = 30


def _context(request: Request, session: Session, web: Settings) -> dict[str, Any]:
    limits = bv.AlertLimits(web.alert_down_minutes, web.alert_scrap_rate)
    view = bv.boss_view(session, web.site, limits, get_locale(request))
    return {
        "v": view,
        "now_ms": now_ms(),
        "refresh_s": web.live_refresh_s,
        "scrap_alert": web.alert_scrap_rate,
        "shortages": upcoming_shortages(session, web.site),
    }


@router.get("/boss")
def boss(request: Request, session: SessionDep, settings: SettingsDep, who: BossUser) -> Response:
    context = _context(request, session, settings) | {"who": who, "card": _scorecard(session, settings, 1)}
    return templates.TemplateResponse(request, "boss/page.html", context)


def _scorecard(session: Session, settings: Settings, days: int) -> scorecard.Scorecard | None:
    site = sites.site_of(session, settings.site)
    return scorecard.last_days(session, site, days, now_ms()) if site is not None else None


@router.get("/boss/scorecard")
def scorecard_page(request: Request, session: SessionDep, settings: SettingsDep, who: BossUser) -> Response:
    """The automation scorecard: the last 30 days, per day and per line (docs/scorecard.md)."""
    context = {"who": who, "card": _scorecard(session, settings, SCORECARD_DAYS)}
    return templates.TemplateResponse(request, "boss/scorecard.html", context)


@router.get("/boss/fragment")
def boss_fragment(request: Request, session: SessionDep, settings: SettingsDep, _who: BossUser) -> Response:
    return templates.TemplateResponse(request, "boss/main.html", _context(request, session, settings),
                                      headers={"Cache-Control": "no-store"})  # fmt: skip


@router.get("/boss/orders/{number}")
def order_detail(
    number: str, request: Request, session: SessionDep, settings: SettingsDep, who: BossUser
) -> Response:
    d = bv.order_detail(session, number, settings.site)
    context = {"order": d.order, "p": d.progress, "reports": d.reports, "op_steps": d.op_steps,
               "inspections": d.inspections, "lots_in": d.lots_in, "lots_out": d.lots_out,
               "time": d.time, "can_reopen": who.role in REOPENERS}  # fmt: skip
    return templates.TemplateResponse(request, "boss/order.html", context)


@router.post("/boss/orders/{number}/reopen")
def reopen_step(
    number: str,
    session: SessionDep,
    settings: SettingsDep,
    who: SupervisorUser,
    _origin: SameOrigin,
    step_no: Annotated[int, Form(ge=0, le=1_000_000)],
) -> Response:
    """A supervisor undoes a completion (an operator's slip) within the shift: see docs/api.md (reopen)."""
    since = reopen_window.reopen_since(session, settings.site, settings.reopen_hours, now_ms())
    operations.reopen(session, who.username, number, step_no, since)
    return done(f"/boss/orders/{quote(number)}", N_("Operation reopened"))


@router.get("/boss/machines/{code}")
def machine_detail(
    code: str,
    request: Request,
    session: SessionDep,
    _who: BossUser,
    hours: Annotated[int, Query(ge=1, le=168)] = 8,
) -> Response:
    machine = crud.get_by(session, Machine, code=code)
    now = now_ms()
    d = bv.machine_detail(session, machine, now - hours * HOUR_MS, now)
    context = {"machine": machine, "tags": d.tags, "hours": hours, "timeline": d.timeline}
    return templates.TemplateResponse(request, "boss/machine.html", context)


@router.get("/boss/machines/{code}/series.json")
def machine_series(
    code: str,
    tag: Annotated[str, Query(max_length=64)],
    session: SessionDep,
    settings: SettingsDep,
    historian: HistorianDep,
    _who: BossUser,
    hours: Annotated[int, Query(ge=1, le=168)] = 8,
) -> Response:
    crud.get_by(session, Machine, code=code)
    now = now_ms()
    start = now - hours * HOUR_MS
    step = max(1000, (now - start) // 600)
    points = historian.query(settings.site, code, tag, start, now, step)
    return JSONResponse({"t": [p[0] / 1000 for p in points], "v": [p[1] for p in points]},
                        headers={"Cache-Control": "no-store"})  # fmt: skip

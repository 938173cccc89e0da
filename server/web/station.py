"""The station tablet: `/station/{code}`.

A tablet must be enrolled (`/station/enroll?token=...`, opened once on the tablet from the admin's link, sets
the `takt_device` cookie). Operators then sign in with badge + PIN (`signin.badge_sign_in`: throttled and
locked after repeated failures) and get the `takt_op` cookie. The page's script calls the JSON API with the
operator's bearer token (start/pause/complete, work reports with an Idempotency-Key, downtime reasons) and
this module's `state.json`, `fragment` (the changing part, swapped in place) and `inspection` (also with an
Idempotency-Key) endpoints. `/station/sw.js` and the manifest make the page an installable app that opens
offline (server/web/pwa.py, static/station-sw.js).
"""

import logging
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Body, Form, Header, Request, Response
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse
from sqlmodel import Session

from server.api.deps import SettingsDep, client_address
from server.core.db import SessionDep
from server.core.errors import Locked, ServerError, Unauthorized
from server.core.i18n import N_, get_locale, request_error_text
from server.core.services import EngineDep, ServicesDep
from server.core.settings import Settings
from server.domain import accounts, idempotency, quality, signin, station_scope, tokens
from server.domain.principals import Principal
from server.domain.sites import site_time
from server.domain.station_view import operator_name, station_view
from server.domain.wages import own_figure
from server.models.plant import Station
from server.models.quality import InspectionRecord
from server.web.auth import DEVICE_COOKIE, OPERATOR_COOKIE, SameOrigin, cookie_principal
from server.web.errors import PageForbidden, PageNotFound
from server.web.instructions import list_instructions
from server.web.materials import station_materials
from server.web.pwa import station_manifest
from server.web.routing import PageRoute
from server.web.templates import templates

log = logging.getLogger(__name__)
router = APIRouter(route_class=PageRoute)
YEAR_S = 365 * 24 * 3600
STATIC = Path(__file__).resolve().parent / "static"
OFFLINE_PAGE = {"X-Takt-Offline-Page": "station"}  # the service worker keeps only a page marked so


@router.get("/station/enroll")
def enroll(token: str, session: SessionDep) -> Response:
    """The one-time enrollment link: spends its code and keeps the tablet's new device token in a long-lived
    httponly cookie (the link's code never becomes the cookie; a second use finds nothing)."""
    redeemed = accounts.redeem_enrollment(session, token)
    if redeemed is None:
        why = N_(
            "This enrollment link was already used, has expired or was revoked: ask an admin for a new one."
        )
        raise PageNotFound(why)
    tablet, device_token = redeemed
    station = tokens.tablet_station(session, tablet)
    log.info("tablet %s enrolled in this browser for station %s", tablet.name, station.code)
    response = RedirectResponse(f"/station/{station.code}", status_code=303)
    response.set_cookie(DEVICE_COOKIE, device_token, max_age=10 * YEAR_S, httponly=True, samesite="lax",
                        path="/")  # fmt: skip
    return response


@router.get("/station/go/{number}")
def go_to_order(number: str, request: Request, session: SessionDep) -> Response:
    """The job traveler's QR code: open the order on this tablet's station."""
    tablet = tokens.enrolled_tablet(session, request.cookies.get(DEVICE_COOKIE))
    if tablet is None:
        raise PageForbidden(N_("This tablet is not enrolled. Ask an admin for the enrollment link."))
    station = tokens.tablet_station(session, tablet)
    return RedirectResponse(f"/station/{station.code}?order={quote(number)}", status_code=303)


@router.get("/station/sw.js")
def service_worker() -> FileResponse:
    """The station's service worker (static/station-sw.js), served here so that its scope is /station/."""
    return FileResponse(
        STATIC / "station-sw.js", media_type="text/javascript", headers={"Cache-Control": "no-cache"}
    )


@router.get("/station/{code}/manifest.webmanifest")
def manifest(code: str, request: Request, session: SessionDep) -> Response:
    """The web manifest that makes the station page an installable app (enrolled tablets only: the page
    links it with crossorigin="use-credentials" so the device cookie comes along)."""
    station = _tablet(session, request, code)
    return JSONResponse(
        station_manifest(station.code, station.name, get_locale(request)),
        media_type="application/manifest+json",
    )


def _tablet(session: Session, request: Request, code: str) -> Station:
    try:
        station, _tablet = signin.tablet_for(session, code, request.cookies.get(DEVICE_COOKIE))
    except Unauthorized as err:
        raise PageForbidden(N_("This tablet is not enrolled. Ask an admin for the enrollment link.")) from err
    return station  # Forbidden (enrolled at another station) shows as a 403 page in the page's language


def _operator(session: Session, request: Request, station: Station) -> Principal | None:
    principal = cookie_principal(session, request, OPERATOR_COOKIE)
    if principal is None or principal.station_id != station.id:
        return None
    return principal


@router.get("/station/{code}")
def station_page(
    code: str, request: Request, session: SessionDep, settings: SettingsDep, order: str | None = None
) -> Response:
    station = _tablet(session, request, code)
    principal = _operator(session, request, station)
    if principal is None:
        return templates.TemplateResponse(request, "station/signin.html", {"station": station, "error": None})
    context = _live_context(session, settings, request, code, order, principal.username) | {
        "station": station, "operator": operator_name(session, principal),
        "op_token": request.cookies.get(OPERATOR_COOKIE),
    }  # fmt: skip
    # the page carries the operator's bearer token for its script: never store it in a cache
    return templates.TemplateResponse(
        request, "station/page.html", context, headers={"Cache-Control": "no-store"} | OFFLINE_PAGE
    )


@router.get("/station/{code}/fragment")
def station_fragment(
    code: str, request: Request, session: SessionDep, settings: SettingsDep, order: str | None = None
) -> Response:
    """The part of the page that changes (checks due, the job and its buttons, the queue), which the page
    swaps in after an action or when the layout changed, instead of reloading."""
    station, principal = _signed_in(session, request, code)
    context = _live_context(session, settings, request, code, order, principal.username)
    context["station"] = station
    return templates.TemplateResponse(
        request, "station/_live.html", context, headers={"Cache-Control": "no-store"}
    )


def _live_context(
    session: Session, settings: Settings, request: Request, code: str, order: str | None, username: str
) -> dict[str, Any]:
    """What `_live.html` shows: the station's view, its instructions and materials, the operator's own pay."""
    view = station_view(session, code, get_locale(request), prefer=order)
    instructions = list_instructions(settings, view.current) if view.current else []
    materials = station_materials(session, view)
    pay = own_figure(session, username, settings.pay_period_start_day, site_time(session, settings.site))
    return {
        "v": view, "state": view.to_json(), "instructions": instructions, "materials": materials, "pay": pay
    }  # fmt: skip


@router.post("/station/{code}/sign-in")
def station_sign_in(
    code: str,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    services: ServicesDep,
    _origin: SameOrigin,
    badge: Annotated[str, Form(max_length=64)],
    pin: Annotated[str, Form(max_length=12)],
) -> Response:
    station = _tablet(session, request, code)
    device = request.cookies.get(DEVICE_COOKIE)
    try:
        source = client_address(request)
        signin.admit(services.signin_limiter, source)
        issued = signin.badge_sign_in(session, settings, code, device, (badge, pin), source)
    except Locked:
        return _signin_error(
            request, station, N_("Too many failed sign-ins. This badge or tablet is locked for a while."), 429
        )
    except Unauthorized:
        return _signin_error(request, station, N_("Wrong badge or PIN."), 401)
    response = RedirectResponse(f"/station/{code}", status_code=303)
    max_age = settings.operator_session_hours * 3600
    response.set_cookie(
        OPERATOR_COOKIE, issued.token, max_age=max_age, httponly=True, samesite="strict", path="/"
    )
    return response


def _signin_error(request: Request, station: Station, message: str, status: int) -> Response:
    context = {"station": station, "error": message}
    return templates.TemplateResponse(request, "station/signin.html", context, status_code=status)


@router.post("/station/{code}/sign-out")
def station_sign_out(code: str, request: Request, session: SessionDep, _origin: SameOrigin) -> Response:
    tokens.revoke_session_token(session, request.cookies.get(OPERATOR_COOKIE))
    response = RedirectResponse(f"/station/{code}", status_code=303)
    response.delete_cookie(OPERATOR_COOKIE, path="/")
    return response


def _signed_in(session: Session, request: Request, code: str) -> tuple[Station, Principal]:
    station = _tablet(session, request, code)
    principal = _operator(session, request, station)
    if principal is None:
        raise Unauthorized("operator not signed in on this tablet")
    return station, principal


@router.get("/station/{code}/state.json")
def station_state(code: str, request: Request, session: SessionDep, order: str | None = None) -> Response:
    _signed_in(session, request, code)
    view = station_view(session, code, get_locale(request), prefer=order)
    return JSONResponse(view.to_json(), headers={"Cache-Control": "no-store"})


@router.post("/station/{code}/inspection")
def station_inspection(
    code: str,
    request: Request,
    session: SessionDep,
    engine: EngineDep,
    _origin: SameOrigin,
    body: Annotated[quality.InspectionIn, Body()],
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> Response:
    """Record a check on the tablet (signed-in operator or inspector on this station). The tablet's outbox
    sends it with an Idempotency-Key, so a retry after a lost answer records it once; refusals are JSON
    (`detail` in English, `message` in the page's language) for the outbox to show."""
    try:
        _station, principal = _signed_in(session, request, code)
        body = station_scope.bind_step(session, principal, body.work_order, body)
        if idempotency_key is None:
            record = quality.record_inspection(session, principal.username, body)
            return JSONResponse({"passed": record.passed}, status_code=201)

        def work(store: idempotency.Store) -> InspectionRecord:
            def before_commit(tx: Session, record: InspectionRecord) -> None:
                store(tx, 201, {"passed": record.passed})

            return quality.record_inspection(session, principal.username, body, before_commit)

        session.rollback()  # end the sign-in check's transaction: on SQLite it holds the lock the claim needs
        payload = {"station": code, "body": body.model_dump(mode="json")}
        scope = f"station-inspection:{code}"
        done = idempotency.once(
            engine, session, scope, idempotency_key, payload, work,
            refused=lambda err: _refusal(request, err),
        )  # fmt: skip
    except ServerError as err:
        return JSONResponse(_refusal(request, err), status_code=err.status)
    if isinstance(done, idempotency.Replay):
        return JSONResponse(done.body, status_code=done.status)
    return JSONResponse({"passed": done.passed}, status_code=201)


def _refusal(request: Request, err: ServerError) -> dict[str, str]:
    return {"detail": err.message, "message": request_error_text(request, err)}

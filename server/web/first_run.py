"""`/setup`: the first-run page of a new site, open only with the one-time code the server logs at start
and only while no admin exists (server/domain/first_run.py). Afterwards it answers 404 and the code is dead.

The form carries the code itself, so no session or CSRF token is needed before the first admin exists; the
same-origin check still applies to the POST."""

import logging
import secrets
from typing import Annotated

from fastapi import APIRouter, File, Form, Request, Response, UploadFile
from fastapi.responses import RedirectResponse
from pydantic import ValidationError
from sqlalchemy import Engine
from sqlmodel import Session

from server.core.db import SessionDep
from server.core.errors import ServerError
from server.core.i18n import COOKIE, COOKIE_MAX_AGE, LANG_NAMES, LOCALES, N_, request_error_text
from server.core.services import ServicesDep
from server.core.settings import Settings
from server.domain import first_run
from server.web.admin_setup import store_logo
from server.web.auth import SameOrigin
from server.web.errors import PageError, PageNotFound
from server.web.forms import invalid
from server.web.routing import PageRoute
from server.web.templates import templates

log = logging.getLogger(__name__)
router = APIRouter(route_class=PageRoute)
CLOSED = N_("No set-up here: the link is wrong or the site is set up already. Sign in instead.")


def offer_setup(settings: Settings, engine: Engine) -> str | None:
    """At start: a new site gets a one-time code, logged with the page's address; a set-up site none."""
    with Session(engine) as session:
        if not first_run.needed(session):
            return None
    code = secrets.token_urlsafe(12)
    log.warning(
        "no admin yet: set this site up at %s/setup?code=%s (one-time code) or with `takt server setup`",
        settings.public_url.rstrip("/"), code,
    )  # fmt: skip
    return code


def _admitted(services_code: str | None, session: Session, code: str) -> None:
    """PageNotFound (404) unless the site still needs setting up and `code` is the one logged."""
    if (
        services_code is None
        or not first_run.needed(session)
        or not secrets.compare_digest(code, services_code)
    ):
        raise PageNotFound(CLOSED)


@router.get("/setup")
def setup_form(request: Request, session: SessionDep, services: ServicesDep, code: str = "") -> Response:
    _admitted(services.setup_code, session, code)
    values = {"timezone": "Asia/Shanghai", "language": "zh_CN", "shifts": first_run.DEFAULT_SHIFT}
    context = {"code": code, "v": values, "error": None, "languages": LANG_NAMES}
    return templates.TemplateResponse(request, "setup.html", context)


@router.post("/setup")
def setup(
    request: Request,
    session: SessionDep,
    services: ServicesDep,
    _origin: SameOrigin,
    code: Annotated[str, Form(max_length=64)],
    site_name: Annotated[str, Form(max_length=200)],
    timezone: Annotated[str, Form(max_length=64)],
    language: Annotated[str, Form(max_length=8)],
    admin_username: Annotated[str, Form(max_length=64)],
    admin_password: Annotated[str, Form(max_length=200)],
    shifts: Annotated[str, Form(max_length=2000)],
    admin_display_name: Annotated[str, Form(max_length=200)] = "",
    logo: Annotated[UploadFile | None, File()] = None,
) -> Response:
    """Create the site, the first admin and the shifts; errors come back on the form with its values."""
    _admitted(services.setup_code, session, code)
    values = {"site_name": site_name, "timezone": timezone, "language": language, "shifts": shifts,
              "admin_username": admin_username, "admin_display_name": admin_display_name}  # fmt: skip
    try:
        body = first_run.SiteSetup(
            site_name=site_name.strip(), timezone=timezone, admin_username=admin_username.strip(),
            admin_display_name=admin_display_name.strip(), admin_password=admin_password,
        )  # fmt: skip
        specs = first_run.parse_shifts(shifts)
        if logo is not None and logo.filename:
            store_logo(services.settings, logo, first_run.ACTOR)
        first_run.run(session, services.settings.site, body, specs)
    except (ValidationError, ServerError, PageError) as err:
        error = invalid(err.errors()) if isinstance(err, ValidationError) else err
        log.warning("first-run setup refused: %s", error.message)
        context = {
            "code": code,
            "v": values,
            "error": request_error_text(request, error),
            "languages": LANG_NAMES,
        }
        return templates.TemplateResponse(request, "setup.html", context, status_code=422)
    services.setup_code = None
    log.info("site %s set up; first admin %s", services.settings.site, body.admin_username)
    done = RedirectResponse("/login?next=/admin", status_code=303)
    if language in LOCALES:
        done.set_cookie(COOKIE, language, max_age=COOKIE_MAX_AGE, samesite="lax")
    return done

"""`/admin/shifts`: the site's shift calendar (list, add shifts one per line, the first-run page's format).
Editing a shift stays with the API (`PATCH /api/v1/shifts/{id}`)."""

from typing import Annotated

from fastapi import APIRouter, Form, Request, Response

from server.core.db import SessionDep
from server.core.errors import Conflict
from server.core.i18n import N_
from server.core.services import SettingsDep
from server.domain import first_run, sites
from server.web.auth import AdminUser, SameOrigin
from server.web.forms import done
from server.web.routing import PageRoute
from server.web.templates import templates

router = APIRouter(route_class=PageRoute)


@router.get("/admin/shifts")
def shifts(request: Request, session: SessionDep, settings: SettingsDep, who: AdminUser) -> Response:
    site = sites.site_of(session, settings.site)
    rows = first_run.site_shifts(session, site.id) if site is not None and site.id is not None else []
    context = {"rows": rows, "who": who, "example": first_run.DEFAULT_SHIFT}
    return templates.TemplateResponse(request, "admin/shifts.html", context)


@router.post("/admin/shifts")
def add_shifts(
    session: SessionDep,
    settings: SettingsDep,
    who: AdminUser,
    _origin: SameOrigin,
    lines: Annotated[str, Form(max_length=2000)],
) -> Response:
    site = sites.site_of(session, settings.site)
    if site is None or site.id is None:
        raise Conflict("this site is not set up yet: run the first-run set-up (docs/server.md)")
    first_run.add_shifts(session, who.username, site.id, first_run.parse_shifts(lines))
    return done("/admin/shifts", N_("Shifts added"))

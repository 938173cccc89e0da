"""`/admin/shifts`: the site's shift calendar: list, add shifts one per line (the first-run page's format),
change one (its line edited) or remove it; audit-logged."""

from typing import Annotated

from fastapi import APIRouter, Form, Request, Response

from server.core.db import SessionDep
from server.core.errors import Conflict, InvalidInput
from server.core.i18n import N_
from server.core.services import SettingsDep
from server.domain import crud, first_run, sites
from server.models.shifts import Shift
from server.web.auth import AdminUser, SameOrigin
from server.web.forms import done
from server.web.routing import PageRoute
from server.web.templates import templates

router = APIRouter(route_class=PageRoute)


@router.get("/admin/shifts")
def shifts(request: Request, session: SessionDep, settings: SettingsDep, who: AdminUser) -> Response:
    site = sites.site_of(session, settings.site)
    rows = first_run.site_shifts(session, site.id) if site is not None and site.id is not None else []
    lines = {shift.id: first_run.shift_line(shift, breaks) for shift, breaks in rows}
    context = {"rows": rows, "who": who, "example": first_run.DEFAULT_SHIFT, "lines": lines}
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


@router.post("/admin/shifts/{shift_id}")
def change_shift(
    shift_id: int,
    session: SessionDep,
    who: AdminUser,
    _origin: SameOrigin,
    line: Annotated[str, Form(max_length=200)],
) -> Response:
    specs = first_run.parse_shifts(line)
    if len(specs) != 1:
        raise InvalidInput("one shift per change: %(text)s", text=line.strip())
    first_run.replace_shift(session, who.username, crud.get_by(session, Shift, id=shift_id), specs[0])
    return done("/admin/shifts", N_("Shift saved"))


@router.post("/admin/shifts/{shift_id}/delete")
def delete_shift(shift_id: int, session: SessionDep, who: AdminUser, _origin: SameOrigin) -> Response:
    first_run.remove_shift(session, who.username, crud.get_by(session, Shift, id=shift_id))
    return done("/admin/shifts", N_("Shift removed"))

"""`/admin/machines`'s forms that build the plant: a line, a machine, a station (admin). The same models and
`crud.create` as the API (`server/api/plant.py`), so every row is checked and audit-logged alike."""

from typing import Annotated

from fastapi import APIRouter, File, Form, Request, Response, UploadFile
from sqlmodel import Session

from server.core.db import SessionDep
from server.core.errors import Conflict
from server.core.i18n import N_
from server.core.services import SettingsDep
from server.core.settings import Settings
from server.domain import crud, machine_import, sites
from server.models.plant import (
    Line,
    LineCreate,
    LineUpdate,
    Machine,
    MachineCreate,
    MachineUpdate,
    Station,
    StationCreate,
    StationUpdate,
)
from server.web.admin_orders import ConfirmedUpload, Upload, import_page, upload_format
from server.web.auth import AdminUser, SameOrigin
from server.web.forms import done, validated
from server.web.routing import PageRoute

router = APIRouter(route_class=PageRoute)
Code = Annotated[str, Form(max_length=64)]
Name = Annotated[str, Form(max_length=200)]


def _site_id(session: Session, settings: Settings) -> int:
    site = sites.site_of(session, settings.site)
    if site is None or site.id is None:
        raise Conflict("this site is not set up yet: run the first-run set-up (docs/server.md)")
    return site.id


@router.post("/admin/lines")
def create_line(
    session: SessionDep, settings: SettingsDep, who: AdminUser, _origin: SameOrigin, code: Code, name: Name
) -> Response:
    body = validated(LineCreate, {"site_id": _site_id(session, settings), "code": code.strip(), "name": name})
    crud.create(session, who.username, Line.model_validate(body))
    return done("/admin/machines", N_("Line created"))


@router.post("/admin/machines")
def create_machine(
    session: SessionDep,
    settings: SettingsDep,
    who: AdminUser,
    _origin: SameOrigin,
    code: Code,
    name: Name,
    line_id: Annotated[str, Form(max_length=12)] = "",
    kind: Annotated[str, Form(max_length=64)] = "",
    ideal_cycle_s: Annotated[str, Form(max_length=12)] = "",
) -> Response:
    data = {"site_id": _site_id(session, settings), "code": code.strip(), "name": name, "line_id": line_id,
            "kind": kind.strip(), "ideal_cycle_s": ideal_cycle_s}  # fmt: skip
    crud.create(session, who.username, Machine.model_validate(validated(MachineCreate, data)))
    return done("/admin/machines", N_("Machine created"))


@router.post("/admin/stations")
def create_station(
    session: SessionDep,
    who: AdminUser,
    _origin: SameOrigin,
    code: Code,
    name: Name,
    line_id: Annotated[str, Form(max_length=12)],
    machine_id: Annotated[str, Form(max_length=12)] = "",
) -> Response:
    data: dict[str, object] = {
        "line_id": line_id,
        "code": code.strip(),
        "name": name,
        "machine_id": machine_id,
    }
    crud.create(session, who.username, Station.model_validate(validated(StationCreate, data)))
    return done("/admin/machines", N_("Station created"))


@router.post("/admin/machines/edit")
def edit_machine(
    session: SessionDep,
    who: AdminUser,
    _origin: SameOrigin,
    code: Code,
    name: Annotated[str, Form(max_length=200)] = "",
    line_id: Annotated[str, Form(max_length=12)] = "",
    kind: Annotated[str, Form(max_length=64)] = "",
    ideal_cycle_s: Annotated[str, Form(max_length=12)] = "",
) -> Response:
    """Change what is filled in (name, line, kind, ideal cycle); empty: kept."""
    machine = crud.get_by(session, Machine, code=code)
    data = {"name": name.strip(), "line_id": line_id, "kind": kind.strip(), "ideal_cycle_s": ideal_cycle_s}
    crud.update(session, who.username, machine, validated(MachineUpdate, dict(data)))
    return done("/admin/machines", N_("Machine updated"))


@router.post("/admin/lines/edit")
def edit_line(
    session: SessionDep,
    who: AdminUser,
    _origin: SameOrigin,
    line_id: Annotated[int, Form()],
    name: Annotated[str, Form(min_length=1, max_length=200)],
) -> Response:
    """Rename a line (its code stays: imports and edge files name it); audit-logged."""
    line = crud.get_by(session, Line, id=line_id)
    crud.update(session, who.username, line, validated(LineUpdate, {"name": name.strip()}))
    return done("/admin/machines", N_("Line updated"))


@router.post("/admin/stations/edit")
def edit_station(
    session: SessionDep,
    who: AdminUser,
    _origin: SameOrigin,
    code: Code,
    name: Annotated[str, Form(max_length=200)] = "",
    machine_id: Annotated[str, Form(max_length=12)] = "",
) -> Response:
    """Rename a station or put it on another machine; empty: kept."""
    station = crud.get_by(session, Station, code=code)
    data: dict[str, object] = {"name": name.strip(), "machine_id": machine_id}
    crud.update(session, who.username, station, validated(StationUpdate, data))
    return done("/admin/machines", N_("Station updated"))


@router.post("/admin/machines/import")
def preview_machines(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    who: AdminUser,
    _origin: SameOrigin,
    file: Annotated[UploadFile, File()],
) -> Response:
    """The preview: every row checked, nothing written; the page offers to confirm."""
    data, fmt = file.file.read(), upload_format(file)
    result = machine_import.import_machines(
        session, who.username, _site_id(session, settings), data, fmt, True
    )
    return import_page(request, result, "/admin/machines", Upload(data, fmt))


@router.post("/admin/machines/import/confirm")
def import_machines(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    who: AdminUser,
    _origin: SameOrigin,
    upload: ConfirmedUpload,
) -> Response:
    site_id = _site_id(session, settings)
    result = machine_import.import_machines(session, who.username, site_id, upload.data, upload.fmt, False)
    return import_page(request, result, "/admin/machines")

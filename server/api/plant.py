"""Sites, lines, stations, machines and tags."""

from fastapi import APIRouter, status
from sqlmodel import col, select

from server.api.deps import Admin, AnyRole, Page, PagingDep, paged
from server.core.db import SessionDep
from server.domain import crud
from server.models.plant import (
    Line,
    LineCreate,
    LinePublic,
    LineUpdate,
    Machine,
    MachineCreate,
    MachinePublic,
    MachineUpdate,
    Site,
    SiteCreate,
    SitePublic,
    SiteUpdate,
    Station,
    StationCreate,
    StationPublic,
    StationUpdate,
    Tag,
    TagCreate,
    TagPublic,
)

router = APIRouter(tags=["plant"])


@router.post("/sites", response_model=SitePublic, status_code=status.HTTP_201_CREATED)
def create_site(body: SiteCreate, session: SessionDep, who: Admin) -> Site:
    return crud.create(session, who.username, Site.model_validate(body))


@router.get("/sites", response_model=Page[SitePublic])
def list_sites(session: SessionDep, _: AnyRole, paging: PagingDep) -> Page[Site]:
    return paged(session, select(Site).order_by(col(Site.id)), paging)


@router.patch("/sites/{code}", response_model=SitePublic)
def update_site(code: str, body: SiteUpdate, session: SessionDep, who: Admin) -> Site:
    return crud.update(session, who.username, crud.get_by(session, Site, code=code), body)


@router.post("/lines", response_model=LinePublic, status_code=status.HTTP_201_CREATED)
def create_line(body: LineCreate, session: SessionDep, who: Admin) -> Line:
    return crud.create(session, who.username, Line.model_validate(body))


@router.get("/lines", response_model=Page[LinePublic])
def list_lines(session: SessionDep, _: AnyRole, paging: PagingDep, site_id: int | None = None) -> Page[Line]:
    stmt = select(Line).order_by(col(Line.id))
    if site_id is not None:
        stmt = stmt.where(Line.site_id == site_id)
    return paged(session, stmt, paging)


@router.patch("/lines/{line_id}", response_model=LinePublic)
def update_line(line_id: int, body: LineUpdate, session: SessionDep, who: Admin) -> Line:
    return crud.update(session, who.username, crud.get_by(session, Line, id=line_id), body)


@router.post("/stations", response_model=StationPublic, status_code=status.HTTP_201_CREATED)
def create_station(body: StationCreate, session: SessionDep, who: Admin) -> Station:
    return crud.create(session, who.username, Station.model_validate(body))


@router.get("/stations", response_model=Page[StationPublic])
def list_stations(session: SessionDep, _: AnyRole, paging: PagingDep) -> Page[Station]:
    return paged(session, select(Station).order_by(col(Station.code)), paging)


@router.get("/stations/{code}", response_model=StationPublic)
def get_station(code: str, session: SessionDep, _: AnyRole) -> Station:
    return crud.get_by(session, Station, code=code)


@router.patch("/stations/{code}", response_model=StationPublic)
def update_station(code: str, body: StationUpdate, session: SessionDep, who: Admin) -> Station:
    return crud.update(session, who.username, crud.get_by(session, Station, code=code), body)


@router.post("/machines", response_model=MachinePublic, status_code=status.HTTP_201_CREATED)
def create_machine(body: MachineCreate, session: SessionDep, who: Admin) -> Machine:
    return crud.create(session, who.username, Machine.model_validate(body))


@router.get("/machines", response_model=Page[MachinePublic])
def list_machines(
    session: SessionDep, _: AnyRole, paging: PagingDep, line_id: int | None = None, kind: str | None = None
) -> Page[Machine]:
    stmt = select(Machine).order_by(col(Machine.code))
    if line_id is not None:
        stmt = stmt.where(Machine.line_id == line_id)
    if kind is not None:
        stmt = stmt.where(Machine.kind == kind)
    return paged(session, stmt, paging)


@router.get("/machines/{code}", response_model=MachinePublic)
def get_machine(code: str, session: SessionDep, _: AnyRole) -> Machine:
    return crud.get_by(session, Machine, code=code)


@router.patch("/machines/{code}", response_model=MachinePublic)
def update_machine(code: str, body: MachineUpdate, session: SessionDep, who: Admin) -> Machine:
    return crud.update(session, who.username, crud.get_by(session, Machine, code=code), body)


@router.post("/machines/{code}/tags", response_model=TagPublic, status_code=status.HTTP_201_CREATED)
def create_tag(code: str, body: TagCreate, session: SessionDep, who: Admin) -> Tag:
    machine = crud.get_by(session, Machine, code=code)
    return crud.create(session, who.username, Tag.model_validate(body, update={"machine_id": machine.id}))


@router.get("/machines/{code}/tags", response_model=list[TagPublic])
def list_tags(code: str, session: SessionDep, _: AnyRole) -> list[Tag]:
    machine = crud.get_by(session, Machine, code=code)
    return list(session.exec(select(Tag).where(Tag.machine_id == machine.id).order_by(col(Tag.name))).all())

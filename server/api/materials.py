"""Materials, bills of materials (per product and version, CSV/XLSX import) and a work order's components."""

from typing import Annotated, Literal

from fastapi import APIRouter, File, Path, Query, UploadFile, status
from fastapi.responses import JSONResponse
from sqlmodel import col, select

from server.api.deps import AnyRole, Page, PagingDep, Planner, paged
from server.api.importexport import import_format
from server.core.db import SessionDep
from server.domain import bom, bom_import, crud, shortages, sites
from server.domain.importexport import ImportResult
from server.models.bom import BomIn, BomPublic, ComponentStatus, OrderShortageOut
from server.models.materials import Material, MaterialCreate, MaterialPublic, MaterialUpdate

router = APIRouter(tags=["materials"])


@router.post("/materials", response_model=MaterialPublic, status_code=status.HTTP_201_CREATED)
def create_material(body: MaterialCreate, session: SessionDep, who: Planner) -> Material:
    return crud.create(session, who.username, Material.model_validate(body))


@router.get("/materials", response_model=Page[MaterialPublic])
def list_materials(
    session: SessionDep, _: AnyRole, paging: PagingDep, q: Annotated[str | None, Query(max_length=200)] = None
) -> Page[Material]:
    stmt = select(Material).order_by(col(Material.code))
    if q:
        stmt = stmt.where(crud.search(q, Material.code, Material.name))
    return paged(session, stmt, paging)


@router.get("/materials/{code}", response_model=MaterialPublic)
def get_material(code: str, session: SessionDep, _: AnyRole) -> Material:
    return crud.get_by(session, Material, code=code)


@router.patch("/materials/{code}", response_model=MaterialPublic)
def update_material(code: str, body: MaterialUpdate, session: SessionDep, who: Planner) -> Material:
    return crud.update(session, who.username, crud.get_by(session, Material, code=code), body)


@router.post(
    "/boms/import",
    response_model=ImportResult,
    responses={422: {"model": ImportResult, "description": "row errors; nothing imported"}},
)
def import_boms(
    session: SessionDep,
    who: Planner,
    file: Annotated[UploadFile, File(description="CSV (UTF-8) or XLSX")],
    dry_run: bool = False,
    format: Literal["csv", "xlsx"] | None = None,
) -> JSONResponse:
    result = bom_import.import_bom(
        session, who.username, file.file.read(), import_format(file, format), dry_run
    )
    return JSONResponse(result.model_dump(mode="json"), status_code=422 if result.errors else 200)


@router.get("/products/{code}/bom", response_model=BomPublic)
def get_bom(
    code: str, session: SessionDep, _: AnyRole, version: Annotated[int | None, Query(ge=1)] = None
) -> BomPublic:
    return bom.get_bom(session, code, version)


@router.put("/products/{code}/bom/{version}", response_model=BomPublic)
def put_bom(
    code: str, version: Annotated[int, Path(ge=1, le=10_000)], body: BomIn, session: SessionDep, who: Planner
) -> BomPublic:
    return bom.set_bom(session, who.username, code, version, body)


@router.get("/work-orders/{number}/components", response_model=list[ComponentStatus])
def order_components(number: str, session: SessionDep, _: AnyRole) -> list[ComponentStatus]:
    """The order's BOM copy: required, consumed (backflushed), issued, available in stock, short."""
    return shortages.for_order(session, number).components


@router.get("/shortages", response_model=list[OrderShortageOut])
def list_shortages(
    session: SessionDep, _: AnyRole, days: Annotated[int, Query(ge=0, le=366)] = 7
) -> list[OrderShortageOut]:
    """Open orders due in the next `days` days (or undated) that lack a component, earliest due first."""
    today = sites.site_time(session).today()
    return [
        OrderShortageOut(number=s.number, due_date=s.due_date, status=s.status, components=s.components)
        for s in shortages.upcoming(session, today, days)
    ]

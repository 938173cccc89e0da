"""Materials, bills of materials (per product and version, CSV/XLSX import) and a work order's components."""

from typing import Annotated, Literal

from fastapi import APIRouter, File, Query, UploadFile, status
from fastapi.responses import JSONResponse
from sqlmodel import col, select

from server.api.deps import AnyRole, Page, PagingDep, Planner, paged
from server.api.importexport import import_format
from server.core.db import SessionDep
from server.domain import bom, bom_import, crud
from server.domain import workorders as wo
from server.domain.importexport import ImportResult
from server.models.bom import BomIn, BomLinePublic, BomPublic
from server.models.materials import Material, MaterialCreate, MaterialPublic, MaterialUpdate

router = APIRouter(tags=["materials"])


class ComponentOut(BomLinePublic):
    bom_version: int
    required: float


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
def put_bom(code: str, version: int, body: BomIn, session: SessionDep, who: Planner) -> BomPublic:
    return bom.set_bom(session, who.username, code, version, body)


@router.get("/work-orders/{number}/components", response_model=list[ComponentOut])
def order_components(number: str, session: SessionDep, _: AnyRole) -> list[ComponentOut]:
    order = wo.get(session, number)
    return [
        ComponentOut(
            material=m.code,
            bom_version=c.bom_version,
            required=bom.required(c, order.quantity),
            **c.model_dump(include={"step_no", "quantity_per_part", "unit", "scrap_allowance"}),
        )
        for c, m in bom.components(session, order.id or 0)
    ]

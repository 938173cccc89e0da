"""Material lots, their consumption and production by work orders, and genealogy."""

from typing import Annotated, Literal

from fastapi import APIRouter, Query, status
from sqlmodel import col, select

from server.api.deps import AnyRole, Page, PagingDep, ShopFloor, paged
from server.core.db import SessionDep
from server.domain import crud, station_scope, trace
from server.models.materials import LotConsumption, MaterialLot, MaterialLotCreate, MaterialLotPublic

router = APIRouter(tags=["lots"])


@router.post("/lots", response_model=MaterialLotPublic, status_code=status.HTTP_201_CREATED)
def create_lot(body: MaterialLotCreate, session: SessionDep, who: ShopFloor) -> MaterialLot:
    return crud.create(session, who.username, MaterialLot.model_validate(body))


@router.get("/lots", response_model=Page[MaterialLotPublic])
def list_lots(
    session: SessionDep, _: AnyRole, paging: PagingDep, q: Annotated[str | None, Query(max_length=200)] = None
) -> Page[MaterialLot]:
    stmt = select(MaterialLot).order_by(col(MaterialLot.id))
    if q:
        stmt = stmt.where(crud.search(q, MaterialLot.code, MaterialLot.material))
    return paged(session, stmt, paging)


@router.get("/lots/{code}", response_model=MaterialLotPublic)
def get_lot(code: str, session: SessionDep, _: AnyRole) -> MaterialLot:
    return crud.get_by(session, MaterialLot, code=code)


@router.get("/lots/{code}/trace", response_model=trace.TraceOut)
def trace_lot(
    code: str, session: SessionDep, _: AnyRole, direction: Literal["forward", "backward"] = "forward"
) -> trace.TraceOut:
    return trace.trace(session, code, direction)


@router.post("/work-orders/{number}/consume", status_code=status.HTTP_201_CREATED)
def consume(number: str, body: trace.LotMove, session: SessionDep, who: ShopFloor) -> LotConsumption:
    return trace.consume(session, who.username, number, station_scope.bind_step(session, who, number, body))


@router.post(
    "/work-orders/{number}/produce", response_model=MaterialLotPublic, status_code=status.HTTP_201_CREATED
)
def produce(number: str, body: trace.LotMove, session: SessionDep, who: ShopFloor) -> MaterialLot:
    return trace.produce(session, who.username, number, station_scope.bind_step(session, who, number, body))

"""Sales orders: create, list, read with each line's progress, split a line into work orders, import."""

from typing import Annotated, Literal

from fastapi import APIRouter, File, Query, UploadFile, status
from fastapi.responses import JSONResponse

from server.api.deps import Page, PagingDep, Planner, Supervisor, make_page
from server.api.importexport import import_format
from server.core.db import SessionDep
from server.domain import crud, sales_import, sales_orders
from server.domain import workorders as wo
from server.domain.importexport import ImportResult
from server.models.orders import WorkOrderSummary
from server.models.sales import LineSplit, SalesOrderCreate, SalesOrderPublic

router = APIRouter(prefix="/sales-orders", tags=["sales orders"])


@router.post("", response_model=SalesOrderPublic, status_code=status.HTTP_201_CREATED)
def create_sales_order(body: SalesOrderCreate, session: SessionDep, who: Planner) -> SalesOrderPublic:
    order = sales_orders.create_many(session, who.username, [body])[0]
    return sales_orders.public(session, order)


@router.post(
    "/import",
    response_model=ImportResult,
    responses={422: {"model": ImportResult, "description": "row errors; nothing imported"}},
)
def import_sales_orders(
    session: SessionDep,
    who: Planner,
    file: Annotated[UploadFile, File(description="CSV (UTF-8) or XLSX, one row per line")],
    dry_run: bool = False,
    format: Literal["csv", "xlsx"] | None = None,
) -> JSONResponse:
    data = file.file.read()
    result = sales_import.import_sales_orders(
        session, who.username, data, import_format(file, format), dry_run
    )
    return JSONResponse(result.model_dump(mode="json"), status_code=422 if result.errors else 200)


@router.get("", response_model=Page[SalesOrderPublic])
def list_sales_orders(
    session: SessionDep,
    _: Supervisor,
    paging: PagingDep,
    customer: Annotated[str | None, Query(max_length=64)] = None,
) -> Page[SalesOrderPublic]:
    rows, total = crud.page(session, sales_orders.list_query(customer), paging.limit, paging.offset)
    return make_page([sales_orders.public(session, o) for o in rows], total, paging)


@router.get("/{order_id}", response_model=SalesOrderPublic)
def get_sales_order(order_id: int, session: SessionDep, _: Supervisor) -> SalesOrderPublic:
    return sales_orders.public(session, sales_orders.get(session, order_id))


@router.post(
    "/{order_id}/lines/{line_no}/work-orders",
    response_model=list[WorkOrderSummary],
    status_code=status.HTTP_201_CREATED,
)
def split_line(
    order_id: int, line_no: int, body: LineSplit, session: SessionDep, who: Planner
) -> list[WorkOrderSummary]:
    """Draft work orders for the line (one, or several whose quantities add up to what it still needs)."""
    return wo.summaries(session, sales_orders.split(session, who.username, order_id, line_no, body))

"""CSV/XLSX import (all or nothing, row-level errors, dry run) and export of work orders."""

from typing import Annotated, Literal

from fastapi import APIRouter, File, Query, UploadFile
from fastapi.responses import JSONResponse, Response

from server.api.deps import AnyRole, Planner
from server.core.db import SessionDep
from server.core.errors import InvalidInput
from server.domain import importexport
from server.domain import workorders as wo

router = APIRouter(prefix="/work-orders", tags=["work orders"])
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
EXPORT_LIMIT = 100_000


def import_format(file: UploadFile, given: str | None) -> str:
    """The uploaded file's format: as given, else from its name or content type."""
    if given:
        return given
    name = (file.filename or "").lower()
    if name.endswith(".xlsx") or file.content_type == XLSX:
        return "xlsx"
    if name.endswith(".csv") or (file.content_type or "").startswith("text/"):
        return "csv"
    raise InvalidInput("cannot tell the file format: name it .csv or .xlsx, or pass format")


@router.post(
    "/import",
    response_model=importexport.ImportResult,
    responses={422: {"model": importexport.ImportResult, "description": "row errors; nothing imported"}},
)
def import_work_orders(
    session: SessionDep,
    who: Planner,
    file: Annotated[UploadFile, File(description="CSV (UTF-8) or XLSX")],
    dry_run: bool = False,
    format: Literal["csv", "xlsx"] | None = None,
) -> JSONResponse:
    data = file.file.read()
    result = importexport.import_orders(session, who.username, data, import_format(file, format), dry_run)
    return JSONResponse(result.model_dump(mode="json"), status_code=422 if result.errors else 200)


@router.get("/export", response_class=Response)
def export_work_orders(
    session: SessionDep,
    _: AnyRole,
    format: Literal["csv", "xlsx"] = "csv",
    status: Annotated[str | None, Query(max_length=200)] = None,
    customer: Annotated[str | None, Query(max_length=200)] = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    orders = session.exec(wo.list_query(status, customer, q).limit(EXPORT_LIMIT)).all()
    summaries = wo.summaries(session, orders)
    if format == "xlsx":
        body, media = importexport.to_xlsx(summaries), XLSX
    else:
        body, media = importexport.to_csv(summaries), "text/csv; charset=utf-8"
    headers = {"Content-Disposition": f'attachment; filename="work-orders.{format}"'}
    return Response(body, media_type=media, headers=headers)

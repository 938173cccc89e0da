"""Reports as JSON, CSV and XLSX (`?format=`), the OEE breakdown behind every OEE figure, SPC charts, the
out-of-control count and inspection certificates. Column labels follow `?lang=` / Accept-Language."""

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response

from server.api.deps import require
from server.core.db import SessionDep
from server.core.errors import InvalidInput
from server.core.i18n import get_locale, gettext
from server.domain import certificates, named_reports, oee, spc
from server.domain import workorders as wo
from server.domain.principals import Principal
from server.domain.report_tables import Table, to_csv, to_xlsx


def labeller(locale: str) -> named_reports.Label:
    def label(msg: str) -> str:
        return gettext(locale, msg)

    return label


router = APIRouter(prefix="/reports", tags=["reports"])
Boss = Annotated[Principal, Depends(require("planner", "supervisor"))]
Quality = Annotated[Principal, Depends(require("planner", "supervisor", "inspector"))]
Format = Literal["json", "csv", "xlsx"]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def make_query(
    session: SessionDep,
    request: Request,
    day: date | None = None,
    start: date | None = None,
    end: date | None = None,
    machine: str | None = None,
    micro_stop_s: Annotated[float, Query(ge=0, le=3600)] = oee.DEFAULT_MICRO_STOP_S,
    site_id: int | None = None,
) -> named_reports.Query:
    """`day` (daily report) or `start`..`end`; default today, or the 30 days to `end`, in the site's zone."""
    return named_reports.query(session, day, start, end, machine, micro_stop_s, get_locale(request), site_id)


QueryDep = Annotated[named_reports.Query, Depends(make_query)]


def table_json(table: Table, label: named_reports.Label) -> dict[str, Any]:
    return {
        "name": table.name, "title": label(table.title), "note": table.note, "links": table.links,
        "columns": [{"key": c.key, "label": label(c.label), "kind": c.kind} for c in table.columns],
        "rows": table.dicts(),
    }  # fmt: skip


def export(name: str, tables: list[Table], fmt: Format, locale: str, stem: str) -> Any:
    """JSON body, or a CSV / XLSX download of `tables`."""
    label = labeller(locale)
    if fmt == "csv":
        body = "\ufeff" + to_csv(tables, label)  # BOM: Excel opens UTF-8 Chinese correctly
        return Response(body.encode(), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{stem}.csv"'})  # fmt: skip
    if fmt == "xlsx":
        return Response(to_xlsx(tables, label), media_type=XLSX,
                        headers={"Content-Disposition": f'attachment; filename="{stem}.xlsx"'})  # fmt: skip
    return {"report": name, "title": label(named_reports.TITLES.get(name, name)),
            "tables": [table_json(t, label) for t in tables]}  # fmt: skip


def stem_of(name: str, q: named_reports.Query) -> str:
    return f"{name}-{q.start.isoformat()}" + ("" if q.end == q.start else f"-{q.end.isoformat()}")


@router.get("/oee/breakdown")
def oee_breakdown(
    session: SessionDep, _: Boss, q: QueryDep, day: date, shift: str | None = None
) -> dict[str, Any]:
    """Planned windows, state segments, counts and every OEE term of one machine's shift (or day)."""
    if q.machine is None:
        raise InvalidInput("machine is required")
    return named_reports.breakdown(session, q.site, q.machine, day, shift, q.micro_stop_s)


@router.get("/spc")
def spc_summary(session: SessionDep, _: Quality) -> dict[str, Any]:
    """Characteristics out of control among their recent subgroups (the boss view's flag)."""
    flagged = spc.out_of_control(session)
    return {"count": len(flagged),
            "items": [{"characteristic_id": c.id, "name": c.name, "plan_id": c.plan_id,
                       "violations": len(chart.violations)} for c, chart in flagged]}  # fmt: skip


@router.get("/spc/{characteristic_id}")
def spc_chart(
    characteristic_id: int, session: SessionDep, _: Quality, work_order: str | None = None
) -> dict[str, Any]:
    order_id = wo.get(session, work_order).id if work_order else None
    series = spc.series(session, characteristic_id, order_id)
    chart = spc.chart_of(series)
    return {"characteristic": series.characteristic.name, "sample_size": series.plan.sample_size,
            "skipped": series.skipped, "chart": chart.to_dict() if chart else None}  # fmt: skip


@router.get("/certificates/{number}")
def certificate(number: str, session: SessionDep, _: Quality) -> dict[str, Any]:
    order = wo.get(session, number)
    cert = certificates.certificate(session, order)
    return {"order": cert.order, "product_code": cert.product_code, "product_name": cert.product_name,
            "quantity": cert.quantity, "passed": cert.passed,
            "records": [certificates.public_record(r) for r in cert.records]}  # fmt: skip


@router.get("/{name}")
def report(name: str, session: SessionDep, _: Boss, q: QueryDep, format: Format = "json") -> Any:
    """A named report (daily, oee, oee-trend, scrap, downtime, on-time) as JSON, CSV or XLSX."""
    tables = named_reports.build(session, name, q, labeller(q.locale))
    return export(name, tables, format, q.locale, stem_of(name, q))

"""Report pages: the boss's reports (page, CSV, XLSX, printable A4), the OEE breakdown behind every OEE
figure, SPC charts (inline SVG) and inspection certificates. Tables come from `named_reports.build`, the same
as the API's, so page, CSV and XLSX show the same numbers."""

import logging
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse

from server.api.reports import export, labeller, stem_of
from server.core.db import SessionDep
from server.core.i18n import get_locale, gettext
from server.domain import certificates, named_reports, oee, spc
from server.domain import workorders as wo
from server.domain.principals import Principal
from server.domain.report_tables import Table, cell_text
from server.web.auth import BossUser, page_role
from server.web.errors import PageNotFound
from server.web.routing import PageRoute
from server.web.templates import templates

log = logging.getLogger(__name__)
router = APIRouter(prefix="/reports", route_class=PageRoute, include_in_schema=False)
QualityUser = Annotated[Principal, page_role("supervisor", "planner", "inspector")]
FIGURE_COLUMNS = frozenset({"availability", "performance", "quality", "oee"})


def _(message: str) -> str:
    """Marks a msgid for the catalog (python -m server.web.catalog reports); translated at render time."""
    return message


# Values and labels the tables carry as msgids (translated when rendered):
MSGIDS = (
    _("machine"), _("manual"), _("on_time"), _("late"), _("open"), _("unclassified"), _("completed"),
    _("closed"), _("in_progress"), _("released"), _("paused"), _("draft"), _("dispositioned"),
    _("Production"), _("OEE by machine and shift"), _("OEE trend"), _("Scrap by reason"),
    _("Downtime by reason"), _("On-time delivery"), _("Open nonconformances"), _("Daily production report"),
    _("Shift"), _("Work order"), _("Product"), _("Step"), _("Machine"), _("Operator"), _("Source"), _("Good"),
    _("Scrap"), _("Day"), _("Planned (h)"), _("Run (h)"), _("Fault (h)"), _("Setup (h)"), _("Micro-stops"),
    _("Availability"), _("Performance"), _("Quality"), _("OEE"), _("Code"), _("Reason"), _("Reports"),
    _("Share"), _("Cumulative"), _("Events"), _("Minutes"), _("Customer"), _("Due"), _("Completed"),
    _("Status"), _("Result"), _("NC"), _("Lot"), _("Quantity"), _("Description"), _("Opened"),
    _("running"), _("idle"), _("setup"), _("fault"), _("blocked"), _("starved"), _("off"), _("offline"),
    _("micro-stops"), _("inspector"), _("supervisor"), _("planner"), _("admin"), _("operator"),
)  # fmt: skip


def page_query(
    request: Request,
    session: SessionDep,
    day: date | None = None,
    start: date | None = None,
    end: date | None = None,
    machine: str | None = None,
    micro_stop_s: Annotated[float, Query(ge=0, le=3600)] = oee.DEFAULT_MICRO_STOP_S,
) -> named_reports.Query:
    if start is not None and end is not None and end < start:
        start, end = end, start  # the page's own input normalisation: a swapped range is read the right way
    return named_reports.query(session, day, start, end, machine or None, micro_stop_s, get_locale(request))


PageQuery = Annotated[named_reports.Query, Depends(page_query)]


def view_table(table: Table, locale: str) -> dict[str, Any]:
    """A table as the template shows it: translated labels, formatted cells, OEE figures linked."""
    tr = labeller(locale)
    rows = []
    for i, row in enumerate(table.rows):
        link = table.links[i] if i < len(table.links) else None
        cells = []
        for col, value in zip(table.columns, row, strict=True):
            text = cell_text(col.kind, value)
            if col.kind == "label" and isinstance(value, str):
                text = tr(value)
            cells.append({"key": col.key, "kind": col.kind, "text": text,
                          "link": link if col.key in FIGURE_COLUMNS else None})  # fmt: skip
        rows.append(cells)
    return {"name": table.name, "title": tr(table.title), "note": table.note,
            "columns": [{"key": c.key, "label": tr(c.label), "kind": c.kind} for c in table.columns],
            "rows": rows}  # fmt: skip


def _query_string(q: named_reports.Query, name: str) -> str:
    if name == "daily":
        base = f"day={q.end.isoformat()}"
    else:
        base = f"start={q.start.isoformat()}&end={q.end.isoformat()}"
    return base + (f"&machine={q.machine}" if q.machine else "")


@router.get("", response_class=HTMLResponse)
def index(request: Request, _user: BossUser) -> Response:
    return templates.TemplateResponse(request, "reports/index.html", {"reports": named_reports.TITLES})


@router.get("/oee/breakdown", response_model=None)
def breakdown_page(
    request: Request, session: SessionDep, _user: BossUser, q: PageQuery, day: date, format: str = "html",
    shift: str | None = None,
) -> Response:  # fmt: skip
    if q.machine is None:
        raise PageNotFound("machine is required")
    data = named_reports.breakdown(session, q.site, q.machine, day, shift, q.micro_stop_s)
    if format == "json":
        return JSONResponse(data)
    return templates.TemplateResponse(request, "reports/breakdown.html", {"b": data})


@router.get("/spc", response_class=HTMLResponse)
def spc_index(request: Request, session: SessionDep, _user: QualityUser) -> Response:
    flagged = {c.id for c, _chart in spc.out_of_control(session)}
    chars = spc.numeric_characteristics(session)
    return templates.TemplateResponse(request, "reports/spc_index.html", {"chars": chars, "flagged": flagged})


@router.get("/spc/{characteristic_id}", response_class=HTMLResponse)
def spc_page(request: Request, characteristic_id: int, session: SessionDep, _user: QualityUser) -> Response:
    series = spc.series(session, characteristic_id)
    chart = spc.chart_of(series)
    context = {"series": series, "chart": chart, "svg": svg_chart(chart) if chart else None,
               "svg_r": svg_chart(chart, spread=True) if chart else None}  # fmt: skip
    return templates.TemplateResponse(request, "reports/spc.html", context)


@router.get("/certificate/{number}", response_class=HTMLResponse)
def certificate_page(request: Request, number: str, session: SessionDep, _user: QualityUser) -> Response:
    cert = certificates.certificate(session, wo.get(session, number))
    return templates.TemplateResponse(request, "reports/certificate.html", {"cert": cert})


@router.get("/{name}.{fmt}", response_model=None)
def report_file(name: str, fmt: str, session: SessionDep, _user: BossUser, q: PageQuery) -> Response:
    if fmt not in ("csv", "xlsx") or name not in named_reports.TITLES:
        raise PageNotFound("no such report file")
    result: Response = export(name, named_reports.build(session, name, q, labeller(q.locale)), fmt, q.locale,  # type: ignore[arg-type]
                              stem_of(name, q))  # fmt: skip
    return result


@router.get("/{name}", response_class=HTMLResponse)
def report_page(
    request: Request, name: str, session: SessionDep, _user: BossUser, q: PageQuery, print: bool = False
) -> Response:
    if name not in named_reports.TITLES:
        raise PageNotFound("no such report")
    tables = named_reports.build(session, name, q, labeller(q.locale))
    context = {
        "name": name, "title": gettext(q.locale, named_reports.TITLES[name]), "q": q, "printing": print,
        "ranged": name in named_reports.RANGED, "qs": _query_string(q, name),
        "spc_flags": _spc_count(session, name),
        "tables": [view_table(t, q.locale) for t in tables],
        "trend": trend_svg(tables[0]) if name == "oee-trend" else None,
    }  # fmt: skip
    return templates.TemplateResponse(request, "reports/report.html", context)


def _spc_count(session: SessionDep, name: str) -> int | None:
    return spc.out_of_control_count(session) if name == "daily" else None


def svg_chart(chart: spc.Chart, spread: bool = False, width: int = 640, height: int = 220) -> dict[str, Any]:
    """Coordinates for an inline SVG control chart (centre chart, or the range chart with `spread`)."""
    values = list(chart.spread) if spread else list(chart.centre)
    cl, ucl, lcl = (chart.r_cl, chart.r_ucl, chart.r_lcl) if spread else (chart.cl, chart.ucl, chart.lcl)
    known = [v for v in values if v is not None] + [ucl, lcl]
    pad = (max(known) - min(known)) * 0.1 or 1.0
    lo, hi = min(known) - pad, max(known) + pad
    step = (width - 60) / max(1, len(values) - 1)

    def y(v: float) -> float:
        return round(height - 20 - (v - lo) / (hi - lo) * (height - 40), 1)

    bad = {v.index for v in chart.violations if (v.rule == "R1") == spread}
    points = [
        {"x": round(40 + i * step, 1), "y": y(v), "bad": i in bad, "value": v,
         "label": chart.labels[i] if i < len(chart.labels) else str(i + 1)}
        for i, v in enumerate(values) if v is not None
    ]  # fmt: skip
    lines = [{"name": n, "value": v, "y": y(v)} for n, v in (("UCL", ucl), ("CL", cl), ("LCL", lcl))]
    polyline = " ".join(f"{p['x']},{p['y']}" for p in points)
    return {"width": width, "height": height, "points": points, "polyline": polyline, "lines": lines}


def trend_svg(table: Table, width: int = 640, height: int = 200) -> dict[str, Any] | None:
    """Polylines (0-100 %) of OEE and availability per day; days without a plan are skipped."""
    keys = [c.key for c in table.columns]
    if not table.rows or "oee" not in keys:
        return None
    step = (width - 50) / max(1, len(table.rows) - 1)
    lines = {}
    for key in ("availability", "oee"):
        j = keys.index(key)
        points = [(round(40 + i * step, 1), round(height - 20 - row[j] * (height - 40), 1))
                  for i, row in enumerate(table.rows) if row[j] is not None]  # fmt: skip
        lines[key] = " ".join(f"{x},{y}" for x, y in points)
    grid = [{"label": f"{p}%", "y": round(height - 20 - p / 100 * (height - 40), 1)} for p in (0, 50, 100)]
    return {"width": width, "height": height, "lines": lines, "grid": grid,
            "first": table.rows[0][0], "last": table.rows[-1][0]}  # fmt: skip

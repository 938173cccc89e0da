"""The boss's phone: `/boss` (today at a glance, live), `/boss/orders/{number}`, `/boss/machines/{code}`.

The page's script swaps in `/boss/fragment` when an SSE event arrives (`/live/events`) and every
`live_refresh_s` seconds as a fallback.
"""

import importlib.util
import logging
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse
from sqlmodel import Session, col, select

from server.core.db import SessionDep
from server.core.i18n import get_locale
from server.domain import crud, progress
from server.domain import workorders as wo
from server.models.auth import User
from server.models.ingest import MachineStateSegment
from server.models.materials import LotConsumption, MaterialLot
from server.models.plant import Machine, Tag
from server.models.production import WorkReport
from server.models.quality import InspectionPlan, InspectionRecord
from server.models.types import now_ms
from server.web.auth import BossUser
from server.web.bossdata import boss_view
from server.web.routing import PageRoute
from server.web.settings import web_settings
from server.web.templates import templates

log = logging.getLogger(__name__)
router = APIRouter(route_class=PageRoute)
HOUR_MS = 3_600_000


def _context(request: Request, session: Session) -> dict[str, Any]:
    web = web_settings(request)
    view = boss_view(session, request.app.state.settings.site, web, get_locale(request))
    has_reports = importlib.util.find_spec("server.web.reports") is not None
    return {"v": view, "now_ms": now_ms(), "refresh_s": web.live_refresh_s,
            "scrap_alert": web.alert_scrap_rate, "has_reports": has_reports}  # fmt: skip


@router.get("/boss")
def boss(request: Request, session: SessionDep, who: BossUser) -> Response:
    return templates.TemplateResponse(request, "boss/page.html", _context(request, session) | {"who": who})


@router.get("/boss/fragment")
def boss_fragment(request: Request, session: SessionDep, _who: BossUser) -> Response:
    return templates.TemplateResponse(request, "boss/main.html", _context(request, session),
                                      headers={"Cache-Control": "no-store"})  # fmt: skip


@router.get("/boss/orders/{number}")
def order_detail(number: str, request: Request, session: SessionDep, _who: BossUser) -> Response:
    order = wo.get(session, number)
    ops = wo.operations(session, order.id or 0)
    op_steps = {op.id: op.step_no for op in ops}
    reports = session.exec(
        select(WorkReport, User).outerjoin(User, col(User.id) == WorkReport.operator_id)
        .where(WorkReport.work_order_id == order.id).order_by(col(WorkReport.ts_ms).desc()).limit(100)
    ).all()  # fmt: skip
    inspections = session.exec(
        select(InspectionRecord, InspectionPlan)
        .join(InspectionPlan, col(InspectionPlan.id) == InspectionRecord.plan_id)
        .where(InspectionRecord.work_order_id == order.id).order_by(col(InspectionRecord.created_at))
    ).all()  # fmt: skip
    op_ids = [op.id for op in ops]
    lots_in = session.exec(
        select(MaterialLot, LotConsumption).join(LotConsumption, col(LotConsumption.lot_id) == MaterialLot.id)
        .where(col(LotConsumption.operation_id).in_(op_ids))
    ).all()  # fmt: skip
    lots_out = session.exec(
        select(MaterialLot).where(col(MaterialLot.produced_by_operation_id).in_(op_ids))
    ).all()
    context = {"order": order, "p": progress.progress(session, order), "reports": reports,
               "op_steps": op_steps, "inspections": inspections, "lots_in": lots_in,
               "lots_out": lots_out}  # fmt: skip
    return templates.TemplateResponse(request, "boss/order.html", context)


@router.get("/boss/machines/{code}")
def machine_detail(
    code: str,
    request: Request,
    session: SessionDep,
    _who: BossUser,
    hours: Annotated[int, Query(ge=1, le=168)] = 8,
) -> Response:
    machine = crud.get_by(session, Machine, code=code)
    tags = session.exec(select(Tag).where(Tag.machine_id == machine.id).order_by(col(Tag.name))).all()
    now = now_ms()
    since = now - hours * HOUR_MS
    segs = session.exec(
        select(MachineStateSegment).where(
            MachineStateSegment.machine_id == machine.id,
            (col(MachineStateSegment.end_ms).is_(None)) | (col(MachineStateSegment.end_ms) > since),
        ).order_by(col(MachineStateSegment.start_ms))
    ).all()  # fmt: skip
    timeline = [
        {
            "state": s.state,
            "left": 100 * (max(s.start_ms, since) - since) / (now - since),
            "width": 100 * (min(s.end_ms or now, now) - max(s.start_ms, since)) / (now - since),
        }
        for s in segs
    ]
    shown = [t.name for t in tags if t.role in ("analog", "counter", "scrap_counter")]
    context = {"machine": machine, "tags": shown, "hours": hours, "timeline": timeline}
    return templates.TemplateResponse(request, "boss/machine.html", context)


@router.get("/boss/machines/{code}/series.json")
def machine_series(
    code: str,
    tag: Annotated[str, Query(max_length=64)],
    request: Request,
    session: SessionDep,
    _who: BossUser,
    hours: Annotated[int, Query(ge=1, le=168)] = 8,
) -> Response:
    crud.get_by(session, Machine, code=code)
    now = now_ms()
    start = now - hours * HOUR_MS
    step = max(1000, (now - start) // 600)
    historian = _historian(request)
    points = (
        historian.query(request.app.state.settings.site, code, tag, start, now, step) if historian else []
    )
    return JSONResponse({"t": [p[0] / 1000 for p in points], "v": [p[1] for p in points]},
                        headers={"Cache-Control": "no-store"})  # fmt: skip


def _historian(request: Request) -> Any | None:
    ingestor = getattr(request.app.state, "ingestor", None)
    if ingestor is not None and getattr(ingestor, "historian", None) is not None:
        return ingestor.historian
    found = getattr(request.app.state, "web_historian", None)
    if found is None:
        from server.historian import make_historian

        found = make_historian(request.app.state.settings, request.app.state.engine)
        request.app.state.web_historian = found
    return found

"""The boss's held counts: `/boss/counts` lists the count anomalies ingestion held (docs/ingest.md, "Count
anomalies"); a supervisor confirms or rejects each (audit-logged, through server/domain/counts.py)."""

from typing import Annotated, Any

from fastapi import APIRouter, Request, Response

from server.api.deps import SettingsDep
from server.core.db import SessionDep
from server.core.i18n import N_
from server.domain import counts, sites
from server.domain.principals import Principal
from server.web.auth import BossUser, SameOrigin, page_role
from server.web.forms import done
from server.web.routing import PageRoute
from server.web.templates import templates

router = APIRouter(route_class=PageRoute)
Deciding = Annotated[Principal, page_role("supervisor")]


@router.get("/boss/counts")
def held_counts(request: Request, session: SessionDep, settings: SettingsDep, who: BossUser) -> Response:
    local = sites.site_time(session, settings.site)
    context: dict[str, Any] = {
        "open": counts.list_anomalies(session, "open"),
        "recent": [a for a in counts.list_anomalies(session, None, limit=50) if a.status != "open"][:20],
        "may_decide": who.role in ("admin", "supervisor"),
        "who": who,
        "when": lambda ts_ms: local.text(ts_ms, "%Y-%m-%d %H:%M:%S"),
    }
    return templates.TemplateResponse(request, "boss/counts.html", context)


@router.post("/boss/counts/{anomaly_id}/confirm")
def confirm(anomaly_id: int, session: SessionDep, who: Deciding, _origin: SameOrigin) -> Response:
    counts.resolve(session, anomaly_id, confirm=True, actor=who.username)
    session.commit()
    return done("/boss/counts", N_("Confirmed: the held count is booked"))


@router.post("/boss/counts/{anomaly_id}/reject")
def reject(anomaly_id: int, session: SessionDep, who: Deciding, _origin: SameOrigin) -> Response:
    counts.resolve(session, anomaly_id, confirm=False, actor=who.username)
    session.commit()
    return done("/boss/counts", N_("Rejected: the held count stays out"))

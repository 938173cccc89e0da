"""Count anomalies in the JSON API: the counter changes ingestion held for a supervisor, listed, confirmed
(booked on the operation that ran at the sample's time) or rejected, audit-logged (docs/ingest.md, "Count
anomalies"). Included by `create_app` under /api/v1."""

from dataclasses import asdict
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from server.api.deps import require
from server.core.db import SessionDep
from server.domain import counts
from server.domain.principals import Principal

router = APIRouter(tags=["ingest"])
Deciding = Annotated[Principal, Depends(require("supervisor"))]


class CountAnomalyPublic(BaseModel):
    id: int
    machine: str
    tag: str
    role: str | None
    ts_ms: int  # the sample's own time (edge clock)
    kind: str  # quarantine (a jump) | ambiguous (a drop read as wrap or reset)
    old_value: int | None
    new_value: int
    held: int | None  # counter units held (parts, or cycles of a cycle counter)
    reason: str
    status: str  # open | confirmed | rejected | dismissed
    resolved_by: str | None
    resolved_ms: int | None
    operation_id: int | None  # booked on, when confirmed
    good: int
    scrap: int


@router.get("/count-anomalies", response_model=list[CountAnomalyPublic])
def list_count_anomalies(
    session: SessionDep,
    _: Deciding,
    status: Literal["open", "confirmed", "rejected", "dismissed", "all"] = "open",
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[CountAnomalyPublic]:
    """Newest first."""
    found = counts.list_anomalies(session, None if status == "all" else status, limit)
    return [CountAnomalyPublic(**asdict(a)) for a in found]


@router.post("/count-anomalies/{anomaly_id}/confirm", response_model=CountAnomalyPublic)
def confirm_count_anomaly(anomaly_id: int, session: SessionDep, who: Deciding) -> CountAnomalyPublic:
    """The held count is real: book it (409 when not open)."""
    view = counts.resolve(session, anomaly_id, confirm=True, actor=who.username)
    session.commit()
    return CountAnomalyPublic(**asdict(view))


@router.post("/count-anomalies/{anomaly_id}/reject", response_model=CountAnomalyPublic)
def reject_count_anomaly(anomaly_id: int, session: SessionDep, who: Deciding) -> CountAnomalyPublic:
    """The held count is not real: it stays uncounted (409 when not open)."""
    view = counts.resolve(session, anomaly_id, confirm=False, actor=who.username)
    session.commit()
    return CountAnomalyPublic(**asdict(view))

"""Downtime events: list, record manually, classify with a reason code."""

from typing import Annotated

from fastapi import APIRouter, Query, status
from sqlmodel import Field, SQLModel, col, select

from server.api.deps import AnyRole, Page, PagingDep, ShopFloor, Supervisor, paged
from server.core.db import SessionDep
from server.core.errors import InvalidInput
from server.domain import audit, crud, reasons, station_scope
from server.models.plant import Machine
from server.models.production import DowntimeEvent
from server.models.types import now_ms

router = APIRouter(prefix="/downtime", tags=["downtime"])


class DowntimePublic(SQLModel):
    id: int
    machine_id: int
    start_ms: int
    end_ms: int | None
    reason_code: str | None
    classified_by: str | None
    classified_ms: int | None
    source: str


class DowntimeCreate(SQLModel):
    machine: str = Field(max_length=64, description="machine code")
    start_ms: int = Field(ge=0)
    end_ms: int | None = Field(default=None, ge=0)
    reason_code: str | None = Field(default=None, max_length=64)


class Classify(SQLModel):
    reason_code: str = Field(max_length=64)


@router.get("", response_model=Page[DowntimePublic])
def list_downtime(
    session: SessionDep,
    _: AnyRole,
    paging: PagingDep,
    machine: Annotated[str | None, Query(max_length=200)] = None,
    unclassified: bool = False,
) -> Page[DowntimeEvent]:
    stmt = select(DowntimeEvent).order_by(col(DowntimeEvent.start_ms).desc())
    if machine is not None:
        stmt = stmt.join(Machine, col(Machine.id) == col(DowntimeEvent.machine_id)).where(
            Machine.code == machine
        )
    if unclassified:
        stmt = stmt.where(col(DowntimeEvent.reason_code).is_(None))
    return paged(session, stmt, paging)


@router.post("", response_model=DowntimePublic, status_code=status.HTTP_201_CREATED)
def record_downtime(body: DowntimeCreate, session: SessionDep, who: Supervisor) -> DowntimeEvent:
    machine = crud.get_by(session, Machine, code=body.machine)
    if body.end_ms is not None and body.end_ms < body.start_ms:
        raise InvalidInput("end_ms is before start_ms")
    if body.reason_code is not None:
        reasons.check_downtime_reason(session, body.reason_code)
    event = DowntimeEvent(
        machine_id=machine.id or 0, start_ms=body.start_ms, end_ms=body.end_ms, reason_code=body.reason_code,
        classified_by=who.username if body.reason_code else None, source="manual",
        classified_ms=now_ms() if body.reason_code else None,
    )  # fmt: skip
    return crud.create(session, who.username, event)


@router.post("/{event_id}/classify", response_model=DowntimePublic)
def classify(event_id: int, body: Classify, session: SessionDep, who: ShopFloor) -> DowntimeEvent:
    event = crud.get_by(session, DowntimeEvent, id=event_id)
    station_scope.check_machine(session, who, event.machine_id)
    if event.reason_code == body.reason_code:
        return event  # the same again (a tablet's retry after a lost answer): nothing changes
    reasons.check_downtime_reason(session, body.reason_code)
    diff = {"reason_code": [event.reason_code, body.reason_code]}
    event.reason_code, event.classified_by, event.classified_ms = body.reason_code, who.username, now_ms()
    session.add(event)
    audit.record(session, who.username, "DowntimeEvent", event.id, "classify", diff)
    session.commit()
    session.refresh(event)
    return event

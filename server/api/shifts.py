"""The shift calendar per site (shifts with breaks; planned minutes computed)."""

from datetime import date, datetime, time, timedelta

from fastapi import APIRouter, status
from sqlmodel import Session, col, select

from server.api.deps import AnyRole, Supervisor
from server.core.db import SessionDep
from server.core.errors import InvalidInput
from server.domain import audit, crud
from server.models.shifts import (
    Shift,
    ShiftBreak,
    ShiftBreakBase,
    ShiftBreakPublic,
    ShiftCreate,
    ShiftPublic,
    ShiftUpdate,
)

router = APIRouter(prefix="/shifts", tags=["shifts"])


def minutes(start: time, end: time) -> float:
    """Length of a local-time span in minutes; an end at or before the start is on the next day."""
    day = date(2000, 1, 3)
    delta = datetime.combine(day, end) - datetime.combine(day, start)
    if delta <= timedelta(0):
        delta += timedelta(days=1)
    return delta.total_seconds() / 60


def _check_days(days: str) -> None:
    parts = [p.strip() for p in days.split(",") if p.strip()]
    if not parts or any(p not in {"1", "2", "3", "4", "5", "6", "7"} for p in parts):
        raise InvalidInput("days must be ISO weekdays 1-7 separated by commas, e.g. 1,2,3,4,5")


def _out(session: Session, shift: Shift) -> ShiftPublic:
    rows = session.exec(
        select(ShiftBreak).where(ShiftBreak.shift_id == shift.id).order_by(col(ShiftBreak.start_local))
    )
    breaks = [ShiftBreakPublic.model_validate(b) for b in rows]
    planned = minutes(shift.start_local, shift.end_local) - sum(
        minutes(b.start_local, b.end_local) for b in breaks
    )
    return ShiftPublic.model_validate(shift, update={"breaks": breaks, "planned_minutes": planned})


def _set_breaks(session: Session, shift: Shift, breaks: list[ShiftBreakBase]) -> None:
    for old in session.exec(select(ShiftBreak).where(ShiftBreak.shift_id == shift.id)):
        session.delete(old)
    for brk in breaks:
        session.add(ShiftBreak.model_validate(brk, update={"shift_id": shift.id}))


@router.post("", response_model=ShiftPublic, status_code=status.HTTP_201_CREATED)
def create_shift(body: ShiftCreate, session: SessionDep, who: Supervisor) -> ShiftPublic:
    _check_days(body.days)
    shift = crud.create(session, who.username, Shift.model_validate(body))
    _set_breaks(session, shift, body.breaks)
    session.commit()
    return _out(session, shift)


@router.get("", response_model=list[ShiftPublic])
def list_shifts(session: SessionDep, _: AnyRole, site_id: int | None = None) -> list[ShiftPublic]:
    stmt = select(Shift).order_by(col(Shift.site_id), col(Shift.start_local))
    if site_id is not None:
        stmt = stmt.where(Shift.site_id == site_id)
    return [_out(session, s) for s in session.exec(stmt).all()]


@router.patch("/{shift_id}", response_model=ShiftPublic)
def update_shift(shift_id: int, body: ShiftUpdate, session: SessionDep, who: Supervisor) -> ShiftPublic:
    shift = crud.get_by(session, Shift, id=shift_id)
    if body.days is not None:
        _check_days(body.days)
    if body.breaks is not None:
        _set_breaks(session, shift, body.breaks)
        audit.record(session, who.username, "Shift", shift.id, "breaks", {"breaks": len(body.breaks)})
    patch = ShiftUpdate.model_validate(body.model_dump(exclude_unset=True, exclude={"breaks"}))
    return _out(session, crud.update(session, who.username, shift, patch))

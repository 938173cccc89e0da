"""Station-bound operators: an operator session (signed in by badge + PIN on a tablet) acts only on the
operations dispatched to its station, and on its station's machine. Supervisors, planners, admins and
principals without a station keep plant-wide rights. See docs/reliability.md (station-bound operators).

An operation belongs to a station by the same rule the tablet's queue uses: it was dispatched to the station,
it runs on the station's machine, or it has no machine yet and needs the station machine's kind. Callers bind
an action to one step (`bind_step`) before running it, so an action without a step never reaches another
station's operations (an empty `/complete` would otherwise complete every step of the order).
"""

from typing import TypeVar

from sqlmodel import Session, SQLModel, select

from server.core.errors import Forbidden, InvalidInput
from server.domain import workorders as wo
from server.domain.principals import Principal
from server.models.plant import Machine, Station
from server.models.production import Operation

S = TypeVar("S", bound=SQLModel)
ACTIVE = ("running", "paused")


def _station(session: Session, who: Principal) -> Station | None:
    """The station `who` is bound to, or None when `who` has plant-wide rights."""
    if who.role != "operator" or who.station_id is None:
        return None
    station = session.get(Station, who.station_id)
    if station is None:  # the station was deleted under a live session: no rights anywhere
        raise Forbidden("this operator session's station no longer exists")
    return station


def at_station(session: Session, station: Station, op: Operation) -> bool:
    if op.station_id == station.id:
        return True
    if station.machine_id is None:
        return False
    if op.machine_id is not None:
        return op.machine_id == station.machine_id
    if op.station_id is not None:  # dispatched to another station
        return False
    machine = session.get(Machine, station.machine_id)
    return machine is not None and op.machine_kind is not None and op.machine_kind == machine.kind


def _refuse(station: Station, number: str) -> Forbidden:
    return Forbidden(
        "work order %(number)s has no operation at station %(station)s", number=number, station=station.code
    )


def bind_step(session: Session, who: Principal, number: str, body: S) -> S:
    """`body` (with a `step_no`, maybe a `machine`) bound to one of the station's operations of order
    `number`, for a station-bound operator; unchanged for everyone else. Forbidden for another station's
    step or machine. Ends its read transaction (on SQLite an open read blocks the handler's own writers)."""
    if who.role != "operator" or who.station_id is None:
        return body
    try:
        station = _station(session, who)
        assert station is not None
        return _on_station_machine(session, station, _bind(session, station, number, body))
    finally:
        session.rollback()


def _bind(session: Session, station: Station, number: str, body: S) -> S:
    machine: str | None = getattr(body, "machine", None)
    if machine is not None and station.machine_id is not None:
        named = session.exec(select(Machine).where(Machine.code == machine)).first()
        if named is None or named.id != station.machine_id:
            raise Forbidden(
                "station %(station)s may not run machine %(machine)s", station=station.code, machine=machine
            )
    order = wo.get(session, number)
    ops = wo.operations(session, order.id or 0)
    mine = [op for op in ops if at_station(session, station, op)]
    step_no: int | None = getattr(body, "step_no", None)
    if step_no is not None:
        # a step the order lacks is left to the action's own error (what the tablet shows)
        if any(op.step_no == step_no for op in ops) and not any(op.step_no == step_no for op in mine):
            raise _refuse(station, number)
        return body
    if not mine:
        raise _refuse(station, number)
    active = [op for op in mine if op.status in ACTIVE]
    open_ = [op for op in mine if op.status != "done"]
    chosen = active or open_ or mine
    if len(chosen) > 1:
        raise InvalidInput(
            "work order %(number)s has several steps at station %(station)s: name one with 'step_no'",
            number=number,
            station=station.code,
        )
    return body.model_copy(update={"step_no": chosen[0].step_no})


def _on_station_machine(session: Session, station: Station, body: S) -> S:
    """An action that names no machine runs on the station's own machine."""
    if "machine" not in type(body).model_fields or getattr(body, "machine", None) is not None:
        return body
    machine = session.get(Machine, station.machine_id) if station.machine_id is not None else None
    return body if machine is None else body.model_copy(update={"machine": machine.code})


def check_machine(session: Session, who: Principal, machine_id: int) -> None:
    """Forbidden unless `who` may act on machine `machine_id` (e.g. give a downtime its reason)."""
    station = _station(session, who)
    if station is not None and station.machine_id != machine_id:
        raise Forbidden("this machine is not station %(station)s's machine", station=station.code)

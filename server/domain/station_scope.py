"""Station-bound operators: an operator acts only on the operations dispatched to its stations, and on
their machines. Its stations: a badge session's (signed in on a tablet) is the tablet's station; an operator
signed in by password or API token has the stations an admin assigned to it (`user_station`), and with none
it controls nothing. Supervisors, planners and admins keep plant-wide rights. See docs/reliability.md (H4).

An operation belongs to a station by the same rule the tablet's queue uses: it was dispatched to the station,
it runs on the station's machine, or it has no machine yet and needs the station machine's kind. Callers bind
an action to one step (`bind_step`) before running it, so an action without a step never reaches another
station's operations (an empty `/complete` would otherwise complete every step of the order).
"""

from typing import TypeVar

from sqlmodel import Session, SQLModel, col, select

from server.core.errors import Forbidden, InvalidInput
from server.domain import audit, crud
from server.domain import workorders as wo
from server.domain.principals import Principal
from server.models.auth import StationsAssigned, User, UserStation
from server.models.plant import Machine, Station
from server.models.production import Operation

S = TypeVar("S", bound=SQLModel)
ACTIVE = ("running", "paused")


def _stations(session: Session, who: Principal) -> list[Station] | None:
    """The stations `who` is bound to, or None when `who` has plant-wide rights."""
    if not who.station_bound:
        return None
    found = [s for s in (session.get(Station, i) for i in who.stations) if s is not None]
    if who.station_id is not None and not found:  # deleted under a live session: no rights anywhere
        raise Forbidden("this operator session's station no longer exists")
    if not found:
        raise Forbidden(
            "operator %(user)s is assigned to no station: an admin assigns its stations", user=who.username
        )
    return found


def _codes(stations: list[Station]) -> str:
    return ", ".join(s.code for s in stations)


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


def _station_of(session: Session, stations: list[Station], op: Operation) -> Station | None:
    return next((s for s in stations if at_station(session, s, op)), None)


def _refuse(stations: list[Station], number: str) -> Forbidden:
    return Forbidden(
        "work order %(number)s has no operation at station %(station)s",
        number=number,
        station=_codes(stations),
    )


def bind_step(session: Session, who: Principal, number: str, body: S) -> S:
    """`body` (with a `step_no`, maybe a `machine`) bound to one of the operator's stations' operations of
    order `number`; unchanged for plant-wide roles. Forbidden for another station's step or machine. Ends its
    read transaction (on SQLite an open read blocks the handler's own writers)."""
    if not who.station_bound:
        return body
    try:
        stations = _stations(session, who)
        assert stations is not None
        bound, station = _bind(session, stations, number, body)
        return _on_station_machine(session, station, bound)
    finally:
        session.rollback()


def _bind(session: Session, stations: list[Station], number: str, body: S) -> tuple[S, Station]:
    machine: str | None = getattr(body, "machine", None)
    if machine is not None:
        named = session.exec(select(Machine).where(Machine.code == machine)).first()
        if named is None or all(s.machine_id != named.id for s in stations):
            raise Forbidden(
                "station %(station)s may not run machine %(machine)s",
                station=_codes(stations),
                machine=machine,
            )
    order = wo.get(session, number)
    ops = wo.operations(session, order.id or 0)
    mine = [(op, st) for op in ops if (st := _station_of(session, stations, op)) is not None]
    step_no: int | None = getattr(body, "step_no", None)
    if step_no is not None:
        if not any(op.step_no == step_no for op in ops):
            return body, stations[0]  # a step the order lacks: the action's own error (what the tablet shows)
        at = next((st for op, st in mine if op.step_no == step_no), None)
        if at is None:
            raise _refuse(stations, number)
        return body, at
    if not mine:
        raise _refuse(stations, number)
    active = [pair for pair in mine if pair[0].status in ACTIVE]
    open_ = [pair for pair in mine if pair[0].status != "done"]
    chosen = active or open_ or mine
    if len(chosen) > 1:
        raise InvalidInput(
            "work order %(number)s has several steps at station %(station)s: name one with 'step_no'",
            number=number,
            station=_codes(stations),
        )
    op, station = chosen[0]
    return body.model_copy(update={"step_no": op.step_no}), station


def _on_station_machine(session: Session, station: Station, body: S) -> S:
    """An action that names no machine runs on the machine of the station its step is at."""
    if "machine" not in type(body).model_fields or getattr(body, "machine", None) is not None:
        return body
    machine = session.get(Machine, station.machine_id) if station.machine_id is not None else None
    return body if machine is None else body.model_copy(update={"machine": machine.code})


def check_machine(session: Session, who: Principal, machine_id: int) -> None:
    """Forbidden unless `who` may act on machine `machine_id` (e.g. give a downtime its reason)."""
    stations = _stations(session, who)
    if stations is not None and all(s.machine_id != machine_id for s in stations):
        raise Forbidden("this machine is not station %(station)s's machine", station=_codes(stations))


def check_order(session: Session, who: Principal, number: str) -> None:
    """Forbidden unless `who` may act on work order `number` (one of its operations is at its stations):
    e.g. issue material to it. Ends its read transaction, as `bind_step` does."""
    try:
        stations = _stations(session, who)
        if stations is None:
            return
        order = wo.get(session, number)
        if not any(_station_of(session, stations, op) for op in wo.operations(session, order.id or 0)):
            raise _refuse(stations, number)
    finally:
        session.rollback()


def assign(session: Session, actor: str, username: str, body: StationsAssigned) -> StationsAssigned:
    """Set the stations an operator works at (replacing the former ones); audit-logged."""
    user = crud.get_by(session, User, username=username)
    if user.role != "operator":
        raise InvalidInput("only operators are bound to stations; %(user)s acts plant-wide", user=username)
    wanted = sorted(set(body.stations))
    rows = session.exec(select(Station).where(col(Station.code).in_(wanted))).all() if wanted else []
    missing = sorted(set(wanted) - {s.code for s in rows})
    if missing:
        raise InvalidInput("no station %(station)s", station=", ".join(missing))
    for old in session.exec(select(UserStation).where(UserStation.user_id == user.id)).all():
        session.delete(old)
    for station in rows:
        session.add(UserStation(user_id=user.id or 0, station_id=station.id or 0))
    audit.record(session, actor, "User", user.id, "stations", {"stations": wanted})
    session.commit()
    return StationsAssigned(stations=wanted)


def assigned(session: Session, username: str) -> StationsAssigned:
    """The codes of the stations an operator is assigned to."""
    rows = session.exec(
        select(Station.code).join(UserStation, col(UserStation.station_id) == col(Station.id))
        .join(User, col(User.id) == col(UserStation.user_id)).where(User.username == username)
        .order_by(col(Station.code))
    ).all()  # fmt: skip
    return StationsAssigned(stations=list(rows))

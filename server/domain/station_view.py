"""What a station tablet shows: the station's queue, the current job with counts, the machine's state, the
downtime waiting for a reason (the state it began in, how long ago, the likeliest reasons first), reason
names in the tablet's language, and inspections due (docs/pages.md).

The current job is the one the operator chose (`prefer`, a tap on the queue or a traveler's QR code) when it
is in the queue, else the running or paused one, else the first. `blocked_by` names the job running on the
machine when the chosen one cannot start now: the same rule the API applies (one run per machine)."""

import hashlib
import json
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, or_, select

from server.domain import crud, reasons, sites
from server.domain.inspections import Due, inspections_due
from server.domain.principals import Principal
from server.domain.workorders import OPEN_STATUSES
from server.models.auth import User
from server.models.catalog import Product
from server.models.ingest import MachineStateSegment, SignalState
from server.models.plant import Machine, Station
from server.models.production import DowntimeEvent, Operation, OperationRun, WorkOrder
from server.models.types import now_ms

ACTIVE_OP = ("running", "paused")


@dataclass
class Job:
    operation_id: int
    number: str
    product: str
    product_code: str
    quantity: int
    due_date: str | None
    step_no: int
    step_name: str
    status: str
    planned: int
    good: int
    scrap: int
    machine_good: int
    machine_scrap: int
    count_source: str
    pause_reason: str | None = None  # the code the operator gave when pausing (a paused job)

    @property
    def shown_good(self) -> int:
        return self.machine_good if self.count_source == "machine" else self.good

    @property
    def shown_scrap(self) -> int:
        return self.machine_scrap if self.count_source == "machine" else self.scrap

    @property
    def percent(self) -> float:
        return round(100.0 * self.shown_good / self.planned, 1) if self.planned else 0.0


@dataclass
class Stop:
    """The machine's stop still waiting for a reason: since when, the state it began in, the reasons to offer
    (codes, likeliest first)."""

    id: int
    start_ms: int
    state: str | None
    minutes: int
    reasons: list[str]


@dataclass
class StationView:
    station: Station
    machine: Machine | None
    machine_state: str
    state_since_ms: int | None
    queue: list[Job]
    current: Job | None
    downtime: Stop | None
    scrap_reasons: list[tuple[str, str]]
    downtime_reasons: list[tuple[str, str]]
    due: list[Due] = field(default_factory=list)
    no_data_since_ms: int | None = None  # offline: the machine's last sample (no state is shown then)
    no_data_since: str | None = None  # the same as the site's local time of day (not the tablet's zone)
    blocked_by: str | None = None  # the job running on the machine while the current one waits to start

    @property
    def layout(self) -> str:
        """A short fingerprint of what the page lays out (the job, its buttons, the queue, the checks due):
        the tablet re-reads its fragment when this changes, and patches the counts in place otherwise."""
        job = self.current
        shape = [
            job and (job.number, job.step_no, job.status, job.pause_reason), self.blocked_by,
            [(q.number, q.step_no, q.status) for q in self.queue], [d.plan_id for d in self.due],
        ]  # fmt: skip
        return hashlib.sha1(json.dumps(shape).encode(), usedforsecurity=False).hexdigest()[:12]

    def to_json(self) -> dict[str, Any]:
        job = self.current
        stop = self.downtime
        return {
            "machine_state": self.machine_state,
            "state_since_ms": self.state_since_ms,
            "no_data_since_ms": self.no_data_since_ms,
            "no_data_since": self.no_data_since,
            "current": None if job is None else {
                "number": job.number, "step_no": job.step_no, "status": job.status, "planned": job.planned,
                "good": job.shown_good, "scrap": job.shown_scrap, "percent": job.percent,
                "manual_good": job.good, "manual_scrap": job.scrap,
            },
            "downtime": None if stop is None else {
                "id": stop.id, "start_ms": stop.start_ms, "state": stop.state, "minutes": stop.minutes,
                "reasons": stop.reasons,
            },
            "due": [d.to_json() for d in self.due],
            "queue": [j.number for j in self.queue],
            "blocked_by": self.blocked_by,
            "layout": self.layout,
        }  # fmt: skip


def _job(order: WorkOrder, op: Operation, product: Product | None) -> Job:
    return Job(
        operation_id=op.id or 0, number=order.number, product=product.name if product else "",
        product_code=product.code if product else "",
        quantity=order.quantity, due_date=order.due_date.isoformat() if order.due_date else None,
        step_no=op.step_no, step_name=op.name, status=op.status, planned=op.planned_qty, good=op.good,
        scrap=op.scrap, machine_good=op.machine_good, machine_scrap=op.machine_scrap,
        count_source=order.count_source,
    )  # fmt: skip


def station_queue(session: Session, station: Station, machine: Machine | None) -> list[Job]:
    """Open operations this station can run, running/paused first, then by priority, due date, age."""
    where: list[Any] = [Operation.station_id == station.id]
    if machine is not None:
        where.append(Operation.machine_id == machine.id)
        where.append((col(Operation.machine_id).is_(None)) & (Operation.machine_kind == machine.kind))
    # the open orders as a list (over the status index), which SQLite then joins from; as a condition on the
    # joined order it walked every order of the product (a year's 5k for a one-product plant: 0.7 -> 1.4 ms)
    open_orders = select(WorkOrder.id).where(col(WorkOrder.status).in_(OPEN_STATUSES))
    stmt = (
        select(Operation, WorkOrder, Product)
        .join(WorkOrder, col(WorkOrder.id) == Operation.work_order_id)
        .join(Product, col(Product.id) == WorkOrder.product_id)
        .where(or_(*where), col(Operation.work_order_id).in_(open_orders), Operation.status != "done")
    )
    rows = list(session.exec(stmt).all())
    rows.sort(key=lambda r: (r[0].status not in ACTIVE_OP, -r[1].priority, r[1].due_date or _FAR,
                             r[1].created_at, r[0].step_no))  # fmt: skip
    return [_job(order, op, product) for op, order, product in rows if _step_ready(session, order, op)]


def _step_ready(session: Session, order: WorkOrder, op: Operation) -> bool:
    """Show a step when it is active, or when no earlier step of its order is still pending."""
    if op.status in ACTIVE_OP:
        return True
    earlier = select(Operation).where(Operation.work_order_id == order.id, Operation.step_no < op.step_no,
                                      Operation.status == "pending")  # fmt: skip
    return session.exec(earlier).first() is None


def machine_state(session: Session, machine: Machine | None) -> tuple[str, int | None]:
    if machine is None:
        return "unknown", None
    stmt = (
        select(MachineStateSegment)
        .where(MachineStateSegment.machine_id == machine.id)
        .order_by(col(MachineStateSegment.start_ms).desc())
        .limit(1)
    )
    seg = session.exec(stmt).first()
    return (seg.state, seg.start_ms) if seg is not None else ("unknown", None)


def open_downtime(session: Session, machine: Machine | None) -> DowntimeEvent | None:
    """The newest downtime of the machine still without a reason (the tablet asks why)."""
    if machine is None:
        return None
    stmt = (
        select(DowntimeEvent)
        .where(DowntimeEvent.machine_id == machine.id, col(DowntimeEvent.reason_code).is_(None))
        .order_by(col(DowntimeEvent.start_ms).desc())
        .limit(1)
    )
    return session.exec(stmt).first()


def stop_waiting(session: Session, machine: Machine | None, now: int) -> Stop | None:
    """The machine's newest stop without a reason, as the tablet asks about it."""
    event = open_downtime(session, machine)
    if event is None or event.id is None or machine is None or machine.id is None:
        return None
    state = reasons.state_at(session, machine.id, event.start_ms)
    minutes = max(0, (now - event.start_ms) // 60_000)
    likely = reasons.likely_downtime(session, machine.id, state, now)
    return Stop(id=event.id, start_ms=event.start_ms, state=state, minutes=minutes, reasons=likely)


def last_pause_reason(session: Session, operation_id: int) -> str | None:
    stmt = (
        select(OperationRun.pause_reason)
        .where(OperationRun.operation_id == operation_id, col(OperationRun.end_ms).is_not(None))
        .order_by(col(OperationRun.end_ms).desc())
        .limit(1)
    )
    return session.exec(stmt).first()


def _current(queue: list[Job], prefer: str | None) -> Job | None:
    preferred = next((j for j in queue if j.number == prefer), None)
    active = next((j for j in queue if j.status in ACTIVE_OP), None)
    return preferred or active or (queue[0] if queue else None)


def station_view(session: Session, code: str, locale: str, prefer: str | None = None) -> StationView:
    station = crud.get_by(session, Station, code=code)
    machine = session.get(Machine, station.machine_id) if station.machine_id else None
    queue = station_queue(session, station, machine)
    current = _current(queue, prefer)
    state, since = machine_state(session, machine)
    view = StationView(
        station=station, machine=machine, machine_state=state, state_since_ms=since, queue=queue,
        current=current, downtime=stop_waiting(session, machine, now_ms()),
        scrap_reasons=reasons.names(session, "scrap", locale),
        downtime_reasons=reasons.names(session, "downtime", locale),
    )  # fmt: skip
    if current is not None and current.status != "running":
        view.blocked_by = next((j.number for j in queue if j.status == "running" and j is not current), None)
    if current is not None and current.status == "paused":
        current.pause_reason = last_pause_reason(session, current.operation_id)
    if state == "offline" and machine is not None:
        newest = select(func.max(SignalState.ts_ms)).where(SignalState.machine_id == machine.id)
        last = session.exec(newest).one()
        view.no_data_since_ms = last or since
        if view.no_data_since_ms is not None:
            view.no_data_since = sites.site_time(session).text(view.no_data_since_ms, "%H:%M:%S")
    if current is not None and current.status in ACTIVE_OP:
        view.due = inspections_due(session, current.number, current.step_no)
    return view


def operator_name(session: Session, principal: Principal) -> str:
    """The signed-in operator's display name (the username for a token without a user)."""
    user = session.get(User, principal.user_id) if principal.user_id else None
    return user.display_name if user else principal.username


_FAR = date(9999, 12, 31)

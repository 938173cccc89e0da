"""What a station tablet shows: the station's queue, the current job with counts, the machine's state, the
downtime waiting for a reason, reason codes in the tablet's language, and inspections due (docs/pages.md)."""

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, or_, select

from server.domain import crud, sites
from server.domain.inspections import Due, inspections_due
from server.domain.principals import Principal
from server.domain.workorders import OPEN_STATUSES
from server.models.auth import User
from server.models.catalog import Product, ReasonCode
from server.models.ingest import MachineStateSegment, SignalState
from server.models.plant import Machine, Station
from server.models.production import DowntimeEvent, Operation, WorkOrder

ACTIVE_OP = ("running", "paused")


@dataclass
class Job:
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
class StationView:
    station: Station
    machine: Machine | None
    machine_state: str
    state_since_ms: int | None
    queue: list[Job]
    current: Job | None
    downtime: DowntimeEvent | None
    scrap_reasons: list[tuple[str, str]]
    downtime_reasons: list[tuple[str, str]]
    due: list[Due] = field(default_factory=list)
    no_data_since_ms: int | None = None  # offline: the machine's last sample (no state is shown then)
    no_data_since: str | None = None  # the same as the site's local time of day (not the tablet's zone)

    def to_json(self) -> dict[str, Any]:
        job = self.current
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
            "downtime": None if self.downtime is None else {"id": self.downtime.id,
                                                            "start_ms": self.downtime.start_ms},
            "due": [d.to_json() for d in self.due],
            "queue": [j.number for j in self.queue],
        }  # fmt: skip


def _job(order: WorkOrder, op: Operation, product: Product | None) -> Job:
    return Job(
        number=order.number, product=product.name if product else "",
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
    stmt = (
        select(Operation, WorkOrder, Product)
        .join(WorkOrder, col(WorkOrder.id) == Operation.work_order_id)
        .join(Product, col(Product.id) == WorkOrder.product_id)
        .where(or_(*where), col(WorkOrder.status).in_(OPEN_STATUSES), Operation.status != "done")
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


def reasons(session: Session, kind: str, locale: str) -> list[tuple[str, str]]:
    stmt = (
        select(ReasonCode)
        .where(ReasonCode.kind == kind, col(ReasonCode.active))
        .order_by(col(ReasonCode.code))
    )
    return [(r.code, r.label_zh if locale == "zh_CN" else r.label_en) for r in session.exec(stmt).all()]


def station_view(session: Session, code: str, locale: str, prefer: str | None = None) -> StationView:
    station = crud.get_by(session, Station, code=code)
    machine = session.get(Machine, station.machine_id) if station.machine_id else None
    queue = station_queue(session, station, machine)
    preferred = next((j for j in queue if j.number == prefer), None)
    current = next((j for j in queue if j.status in ACTIVE_OP), preferred or (queue[0] if queue else None))
    state, since = machine_state(session, machine)
    view = StationView(
        station=station, machine=machine, machine_state=state, state_since_ms=since, queue=queue,
        current=current, downtime=open_downtime(session, machine),
        scrap_reasons=reasons(session, "scrap", locale),
        downtime_reasons=reasons(session, "downtime", locale),
    )  # fmt: skip
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

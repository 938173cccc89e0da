"""A machine's live status for tablets and the boss view: state and since when, the operation running,
counts of the current shift (the site's shift calendar, else since local midnight), open downtime and
the age of its last counter/state sample."""

from pydantic import BaseModel
from sqlalchemy import func
from sqlmodel import Session, col, select

from server.domain.oee import current_shift
from server.models.ingest import CountEvent, MachineStateSegment, SignalState
from server.models.plant import Machine, Site
from server.models.production import DowntimeEvent, Operation, OperationRun, WorkOrder


class LiveOperation(BaseModel):
    operation_id: int
    work_order: str
    name: str
    step_no: int
    machine_good: int
    machine_scrap: int
    planned_qty: int


class MachineLive(BaseModel):
    machine: str
    state: str | None
    since_ms: int | None
    operation: LiveOperation | None
    shift: str | None  # None: counted since local midnight (no shift covers now)
    shift_start_ms: int
    good: int
    scrap: int
    downtime_since_ms: int | None  # open automatic or manual downtime
    last_sample_ms: int | None
    last_sample_age_s: float | None
    # offline (its edge died, or its device stopped answering): the time of its last sample, else since when
    # it is offline. The state is not its last one: there is no data since then.
    no_data_since_ms: int | None = None


def machine_live(session: Session, machine: Machine, site: Site, now_ms: int) -> MachineLive:
    assert machine.id is not None and site.id is not None
    segment = session.exec(
        select(MachineStateSegment)
        .where(MachineStateSegment.machine_id == machine.id, col(MachineStateSegment.end_ms).is_(None))
        .order_by(col(MachineStateSegment.start_ms).desc())
    ).first()
    shift, start = current_shift(session, site, now_ms)
    good, scrap = session.exec(
        select(
            func.coalesce(func.sum(CountEvent.good), 0), func.coalesce(func.sum(CountEvent.scrap), 0)
        ).where(CountEvent.machine_id == machine.id, CountEvent.ts_ms >= start, CountEvent.ts_ms <= now_ms)
    ).one()
    downtime = session.exec(
        select(func.min(DowntimeEvent.start_ms)).where(
            DowntimeEvent.machine_id == machine.id, col(DowntimeEvent.end_ms).is_(None)
        )
    ).one()
    last = session.exec(select(func.max(SignalState.ts_ms)).where(SignalState.machine_id == machine.id)).one()
    return MachineLive(
        machine=machine.code,
        state=segment.state if segment else None,
        since_ms=segment.start_ms if segment else None,
        operation=_operation(session, machine.id, now_ms),
        shift=shift,
        shift_start_ms=start,
        good=int(good),
        scrap=int(scrap),
        downtime_since_ms=downtime,
        last_sample_ms=last,
        last_sample_age_s=None if last is None else max(0.0, (now_ms - last) / 1000),
        no_data_since_ms=(last or segment.start_ms) if segment and segment.state == "offline" else None,
    )


def _operation(session: Session, machine_id: int, now_ms: int) -> LiveOperation | None:
    found = session.exec(
        select(Operation, WorkOrder)
        .join(OperationRun, col(OperationRun.operation_id) == col(Operation.id))
        .join(WorkOrder, col(WorkOrder.id) == col(Operation.work_order_id))
        .where(
            OperationRun.machine_id == machine_id,
            OperationRun.start_ms <= now_ms,
            col(OperationRun.end_ms).is_(None),
        )
        .order_by(col(OperationRun.start_ms).desc())
    ).first()
    if found is None:
        return None
    op, order = found
    return LiveOperation(
        operation_id=op.id or 0,
        work_order=order.number,
        name=op.name,
        step_no=op.step_no,
        machine_good=op.machine_good,
        machine_scrap=op.machine_scrap,
        planned_qty=op.planned_qty,
    )

"""Running operations on machines: start, pause, resume, complete; order close and cancel.

Each start or resume opens an `OperationRun(operation, machine, start_ms)`; pause and complete close
it. Ingestion attributes machine counts to the run covering a sample's timestamp, so runs must be
exact: one open run per machine at a time, under the order's row lock.
"""

import logging

from sqlmodel import Session, col, select

from server.core.errors import Conflict, InvalidInput, Msgid, NotFound
from server.domain import audit, crud, reasons
from server.domain import workorders as wo
from server.models.orders import CompleteAction, OperationAction, PauseAction
from server.models.plant import Machine, Station
from server.models.production import Operation, OperationRun, WorkOrder
from server.models.types import now_ms

log = logging.getLogger(__name__)


def _pick(ops: list[Operation], step_no: int | None, statuses: set[str]) -> Operation:
    if step_no is not None:
        for op in ops:
            if op.step_no == step_no:
                return op
        raise NotFound("no operation with step %(step)s", step=step_no)
    for op in ops:
        if op.status in statuses:
            return op
    raise Conflict("no operation in status %(statuses)s", statuses=", ".join(sorted(statuses)))


def _machine(session: Session, op: Operation, code: str | None) -> Machine:
    if code is not None:
        machine = crud.get_by(session, Machine, code=code)
    elif op.machine_id is not None:
        machine = crud.get_by(session, Machine, id=op.machine_id)
    elif (
        op.station_id is not None and (station := session.get(Station, op.station_id)) and station.machine_id
    ):
        machine = crud.get_by(session, Machine, id=station.machine_id)
    else:
        raise InvalidInput("operation %(step)s has no machine: name one with 'machine'", step=op.step_no)
    stmt = select(Machine).where(Machine.id == machine.id).with_for_update()
    locked = session.exec(stmt.execution_options(populate_existing=True)).one()
    return locked


def _open_runs(
    session: Session, *, operation_id: int | None = None, machine_id: int | None = None
) -> list[OperationRun]:
    stmt = select(OperationRun).where(col(OperationRun.end_ms).is_(None))
    if operation_id is not None:
        stmt = stmt.where(OperationRun.operation_id == operation_id)
    if machine_id is not None:
        stmt = stmt.where(OperationRun.machine_id == machine_id)
    return list(session.exec(stmt).all())


def _run(
    session: Session, actor: str, order: WorkOrder, op: Operation, machine_code: str | None
) -> Operation:
    machine = _machine(session, op, machine_code)
    assert machine.id is not None and op.id is not None
    busy = [r for r in _open_runs(session, machine_id=machine.id) if r.operation_id != op.id]
    if busy:
        raise Conflict(
            "machine %(machine)s is busy with another operation (run %(run)s)",
            machine=machine.code,
            run=busy[0].id,
        )
    now = now_ms()
    session.add(OperationRun(operation_id=op.id, machine_id=machine.id, start_ms=now))
    op.status, op.machine_id = "running", machine.id
    op.started_ms = op.started_ms or now
    session.add(op)
    wo.set_status(session, actor, order, "in_progress")
    audit.record(session, actor, "Operation", op.id, "run", {"machine": machine.code, "start_ms": now})
    log.info("work order %s step %d running on %s", order.number, op.step_no, machine.code)
    return op


def _run_step(
    session: Session, actor: str, order: WorkOrder, action: OperationAction, statuses: set[str], refusal: str
) -> WorkOrder:
    """Run the operation `action` names (else the first in `statuses`) and commit; Conflict(`refusal`, with
    its step and status) when that operation is in none of `statuses`."""
    op = _pick(wo.operations(session, order.id or 0), action.step_no, statuses)
    if op.status not in statuses:
        raise Conflict(refusal, step=op.step_no, status=op.status)
    _run(session, actor, order, op, action.machine)
    session.commit()
    return order


def _stop(session: Session, op: Operation, status: str, pause_reason: str | None = None) -> None:
    now = now_ms()
    for run in _open_runs(session, operation_id=op.id):
        run.end_ms, run.pause_reason = max(now, run.start_ms), pause_reason
        session.add(run)
    op.status = status
    if status == "done":
        op.ended_ms = now
    session.add(op)


def start(session: Session, actor: str, number: str, action: OperationAction) -> WorkOrder:
    order = wo.get_locked(session, number)
    if order.status not in wo.OPEN_STATUSES:
        raise Conflict(
            "work order %(number)s is %(status)s; release it first", number=number, status=order.status
        )
    return _run_step(
        session, actor, order, action, {"pending", "paused"}, Msgid("operation %(step)s is %(status)s")
    )


def resume(session: Session, actor: str, number: str, action: OperationAction) -> WorkOrder:
    order = wo.get_locked(session, number)
    if order.status not in {"paused", "in_progress"}:
        raise Conflict("work order %(number)s is %(status)s, not paused", number=number, status=order.status)
    return _run_step(
        session, actor, order, action, {"paused"}, Msgid("operation %(step)s is %(status)s, not paused")
    )


def pause(session: Session, actor: str, number: str, action: PauseAction) -> WorkOrder:
    """Pause the running operation(s), with the operator's reason when given (kept on the closed run and in
    the audit log)."""
    if action.reason is not None:
        reasons.check_downtime_reason(session, action.reason)
    order = wo.get_locked(session, number)
    ops = wo.operations(session, order.id or 0)
    running = [op for op in ops if op.status == "running"]
    if action.step_no is not None:
        running = [op for op in running if op.step_no == action.step_no]
    if not running:
        raise Conflict("work order %(number)s has no running operation to pause", number=number)
    for op in running:
        _stop(session, op, "paused", action.reason)
        diff = {"reason": action.reason} if action.reason else None
        audit.record(session, actor, "Operation", op.id, "pause", diff)
    if not any(op.status == "running" for op in ops):
        wo.set_status(session, actor, order, "paused")
    session.commit()
    return order


def _short(ops: list[Operation], source: str) -> Conflict:
    """A complete below target without `confirm_short`: the API's 409 carries the numbers (`short`)."""
    steps = [{"step_no": op.step_no, "made": made(op, source), "target": op.planned_qty} for op in ops]
    err = Conflict(
        "step %(step)s: %(made)s of %(target)s made; complete anyway with confirm_short",
        step=steps[0]["step_no"], made=steps[0]["made"], target=steps[0]["target"],
    )  # fmt: skip
    err.details = {"short": steps}
    return err


def made(op: Operation, source: str) -> int:
    """Good parts of `op` from the order's count source (what the tablet shows)."""
    return op.machine_good if source == "machine" else op.good


def complete(session: Session, actor: str, number: str, action: CompleteAction) -> WorkOrder:
    """Complete one operation (step_no) or, without one, every operation and the order. An operation
    below its planned quantity completes only with `action.confirm_short` (else a 409 with `short`)."""
    order = wo.get_locked(session, number)
    if order.status not in {"in_progress", "paused"}:
        raise Conflict(
            "work order %(number)s is %(status)s; only a started order can complete",
            number=number,
            status=order.status,
        )
    ops = wo.operations(session, order.id or 0)
    targets = [_pick(ops, action.step_no, set())] if action.step_no is not None else ops
    short = [op for op in targets if op.status != "done" and made(op, order.count_source) < op.planned_qty]
    if short and not action.confirm_short:
        raise _short(short, order.count_source)
    for op in targets:
        if op.status != "done":
            _stop(session, op, "done")
            diff = {"made": made(op, order.count_source), "target": op.planned_qty} if op in short else None
            audit.record(session, actor, "Operation", op.id, "complete", diff)
    if all(op.status == "done" for op in ops):
        wo.set_status(session, actor, order, "completed")
    session.commit()
    return order


def reopen(session: Session, actor: str, number: str, step_no: int, since_ms: int) -> WorkOrder:
    """Undo a completion: operation `step_no`, completed at or after `since_ms` (the shift's start), goes back
    to paused (to resume on the tablet), and its order back to paused if it was completed. Counts stay."""
    order = wo.get_locked(session, number)
    if order.status not in {"in_progress", "paused", "completed"}:
        raise Conflict(
            "work order %(number)s is %(status)s; its operations cannot be reopened",
            number=number,
            status=order.status,
        )
    op = _pick(wo.operations(session, order.id or 0), step_no, set())
    if op.status != "done":
        raise Conflict("operation %(step)s is %(status)s, not done", step=op.step_no, status=op.status)
    if op.ended_ms is None or op.ended_ms < since_ms:
        raise Conflict(
            "operation %(step)s was completed before this shift; it can no longer be reopened",
            step=op.step_no,
        )
    ended, op.status, op.ended_ms = op.ended_ms, "paused", None
    session.add(op)
    if order.status == "completed":
        wo.reopen(session, actor, order)
    diff = {"status": ["done", "paused"], "ended_ms": [ended, None], "made": made(op, order.count_source),
            "target": op.planned_qty}  # fmt: skip
    audit.record(session, actor, "Operation", op.id, "reopen", diff)
    log.info("work order %s step %d reopened by %s", number, op.step_no, actor)
    session.commit()
    return order


def close(session: Session, actor: str, number: str) -> WorkOrder:
    order = wo.get_locked(session, number)
    wo.set_status(session, actor, order, "closed")
    session.commit()
    return order


def release(session: Session, actor: str, number: str) -> WorkOrder:
    order = wo.get_locked(session, number)
    wo.set_status(session, actor, order, "released")
    if not wo.operations(session, order.id or 0):
        wo.copy_routing(session, order)
    session.commit()
    return order


def cancel(session: Session, actor: str, number: str) -> WorkOrder:
    order = wo.get_locked(session, number)
    wo.set_status(session, actor, order, "cancelled")
    for op in wo.operations(session, order.id or 0):
        if op.status == "running":
            _stop(session, op, "paused")
    session.commit()
    return order

"""Booking counted parts: what a counter's increment means in good and scrap parts, the machine counts of the
operations they are attributed to, and the count anomalies a supervisor confirms or rejects (docs/ingest.md,
"Counting" and "Count anomalies"). Database functions work inside the caller's transaction."""

import logging
import time
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import update
from sqlmodel import Session, col, select

from server.core.errors import Conflict, NotFound
from server.domain import audit
from server.models.catalog import Product
from server.models.ingest import CounterAnomaly, CountEvent
from server.models.plant import Machine, Tag
from server.models.production import Operation, OperationRun, WorkOrder

log = logging.getLogger(__name__)

ANOMALY_STATUSES = ("open", "confirmed", "rejected", "dismissed")


def book(role: str, increment: int, counts_total: bool) -> tuple[int, int, int]:
    """`(good, scrap, cycles)` of a counter increment by the tag's role. A scrap count comes off the good
    parts when the machine's production counter counts good + scrap (`counts_total`); a cycle counter's
    cycles become parts once the operation (hence the parts per cycle) is known."""
    if role == "scrap_counter":
        return (-increment if counts_total else 0), increment, 0
    if role == "cycle_counter":
        return 0, 0, increment
    return increment, 0, 0


def add_to_operations(session: Session, totals: Mapping[int, Sequence[int]]) -> None:
    """Add `(good, scrap)` to `Operation.machine_good/machine_scrap` of each operation id, in one
    statement per operation (an increment in SQL: concurrent appliers of other edges never lose one)."""
    for op, (good, scrap) in totals.items():
        session.execute(
            update(Operation)
            .where(col(Operation.id) == op)
            .values(
                machine_good=col(Operation.machine_good) + good,
                machine_scrap=col(Operation.machine_scrap) + scrap,
            )
        )


def parts_per_cycle(session: Session, operation_ids: Collection[int]) -> dict[int | None, int]:
    """Parts per machine cycle by operation: its work order's product's `parts_per_cycle` (the cavities of
    the mold it is made in), where set."""
    if not operation_ids:
        return {}
    rows = session.exec(
        select(Operation.id, Product.parts_per_cycle)
        .join(WorkOrder, col(WorkOrder.id) == Operation.work_order_id)
        .join(Product, col(Product.id) == WorkOrder.product_id)
        .where(col(Operation.id).in_(list(operation_ids)), col(Product.parts_per_cycle).is_not(None))
    ).all()
    return {op: int(n) for op, n in rows if n is not None}


def dismiss_glitches(session: Session, machine_id: int, tag: str, after_ms: int, upto_ms: int) -> None:
    """Held jumps of a counter in `(after_ms, upto_ms]` that the next readings showed to be glitches."""
    session.execute(
        update(CounterAnomaly)
        .where(
            col(CounterAnomaly.machine_id) == machine_id,
            col(CounterAnomaly.tag) == tag,
            col(CounterAnomaly.kind) == "quarantine",
            col(CounterAnomaly.status) == "open",
            col(CounterAnomaly.ts_ms) > after_ms,
            col(CounterAnomaly.ts_ms) <= upto_ms,
        )
        .values(status="dismissed", resolved_by="takt", resolved_ms=int(time.time() * 1000))
    )


@dataclass(frozen=True, slots=True)
class AnomalyView:
    """A count anomaly as pages and the API show it."""

    id: int
    machine: str
    tag: str
    role: str | None
    ts_ms: int
    kind: str
    old_value: int | None
    new_value: int
    held: int | None
    reason: str
    status: str
    resolved_by: str | None
    resolved_ms: int | None
    operation_id: int | None
    good: int
    scrap: int


def list_anomalies(session: Session, status: str | None = "open", limit: int = 100) -> list[AnomalyView]:
    """Count anomalies, newest first (`status` None: all)."""
    query = select(CounterAnomaly, Machine.code).join(Machine, col(Machine.id) == CounterAnomaly.machine_id)
    if status is not None:
        query = query.where(col(CounterAnomaly.status) == status)
    rows = session.exec(query.order_by(col(CounterAnomaly.ts_ms).desc()).limit(limit)).all()
    return [_view(row, code) for row, code in rows]


def _view(row: CounterAnomaly, code: str) -> AnomalyView:
    assert row.id is not None
    return AnomalyView(
        row.id, code, row.tag, row.role, row.ts_ms, row.kind, row.old_value, row.new_value, row.held,
        row.reason, row.status, row.resolved_by, row.resolved_ms, row.operation_id, row.good, row.scrap,
    )  # fmt: skip


def resolve(session: Session, anomaly_id: int, confirm: bool, actor: str) -> AnomalyView:
    """A supervisor's decision on an open anomaly, audit-logged (the caller commits). Confirming books the
    held count on the operation that ran on the machine at the sample's time (as the count ledger's
    `confirmed` row): a cycle counter's cycles x the parts per cycle, a scrap count off the good parts of a
    machine counting totals."""
    query = select(CounterAnomaly).where(CounterAnomaly.id == anomaly_id).with_for_update()
    row = session.exec(query).first()
    if row is None:
        raise NotFound("count anomaly %(id)s not found", id=anomaly_id)
    if row.status != "open" or row.held is None:
        raise Conflict("count anomaly %(id)s is %(status)s, not open", id=anomaly_id, status=row.status)
    machine = session.get(Machine, row.machine_id)
    assert machine is not None and machine.id is not None
    before = {"status": row.status}
    row.status, row.resolved_by, row.resolved_ms = (
        "confirmed" if confirm else "rejected",
        actor[:100],
        int(time.time() * 1000),
    )
    if confirm:
        _book_confirmed(session, row, machine.id)
    session.add(row)
    audit.record(session, actor, "count_anomaly", row.id, "confirm" if confirm else "reject",
                 audit.changes(before, {"status": row.status, "held": row.held, "good": row.good,
                                        "scrap": row.scrap, "operation_id": row.operation_id}))  # fmt: skip
    log.info("count anomaly %s of machine %s %s by %s", row.id, machine.code, row.status, actor)
    return _view(row, machine.code)


def _book_confirmed(session: Session, row: CounterAnomaly, machine_id: int) -> None:
    held = row.held or 0
    tags = session.exec(select(Tag).where(Tag.machine_id == machine_id)).all()
    counts_total = any(t.role in ("total_counter", "cycle_counter") for t in tags)
    good, scrap, cycles = book(row.role or "counter", held, counts_total)
    op = session.exec(
        select(OperationRun.operation_id)
        .where(
            OperationRun.machine_id == machine_id,
            OperationRun.start_ms <= row.ts_ms,
            (col(OperationRun.end_ms).is_(None)) | (col(OperationRun.end_ms) > row.ts_ms),
        )
        .order_by(col(OperationRun.start_ms).desc())
    ).first()
    if cycles:
        tag = next((t for t in tags if t.name == row.tag), None)
        per_cycle = tag.parts_per_cycle if tag is not None else None
        good += cycles * (per_cycle or (parts_per_cycle(session, [op]).get(op) if op else None) or 1)
    row.operation_id, row.good, row.scrap = op, good, scrap
    session.add(
        CountEvent(machine_id=machine_id, operation_id=op, ts_ms=row.ts_ms, good=good, scrap=scrap,
                   kind="confirmed", edge_id=row.edge_id, seq=row.seq, received_ms=int(time.time() * 1000))
    )  # fmt: skip
    if op is not None:
        add_to_operations(session, {op: (good, scrap)})

"""Rows written straight through the models for hand-computed fixtures (times in UTC unless a tz is given)."""

from collections.abc import Sequence
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session

from server.models.catalog import Product
from server.models.ingest import CountEvent, MachineStateSegment
from server.models.plant import Machine, Site
from server.models.production import DowntimeEvent, Operation, WorkOrder
from server.models.quality import Characteristic, InspectionPlan, InspectionRecord, InspectionValue
from server.models.shifts import Shift, ShiftBreak

MIN = 60_000
HOUR = 3_600_000


def ms(text: str, tz: str = "UTC") -> int:
    """Epoch ms of a local 'YYYY-MM-DD HH:MM' in `tz`."""
    return int(datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(tz)).timestamp() * 1000)


def site(session: Session, tz: str = "UTC", code: str = "demo") -> Site:
    row = Site(code=code, name=code, timezone=tz)
    session.add(row)
    session.commit()
    return row


def machine(session: Session, s: Site, code: str, ideal: float | None = 30.0) -> Machine:
    row = Machine(site_id=s.id or 0, code=code, name=code, ideal_cycle_s=ideal)
    session.add(row)
    session.commit()
    return row


def shift(
    session: Session,
    s: Site,
    name: str,
    start: str,
    end: str,
    days: str = "1,2,3,4,5,6,7",
    breaks: list[tuple[str, str]] | None = None,
) -> Shift:
    row = Shift(
        site_id=s.id or 0,
        name=name,
        start_local=time.fromisoformat(start),
        end_local=time.fromisoformat(end),
        days=days,
    )
    session.add(row)
    session.commit()
    for b_start, b_end in breaks or []:
        session.add(
            ShiftBreak(
                shift_id=row.id or 0,
                start_local=time.fromisoformat(b_start),
                end_local=time.fromisoformat(b_end),
            )
        )
    session.commit()
    return row


def timeline(session: Session, m: Machine, parts: list[tuple[str, int, int | None]]) -> None:
    for state, start, end in parts:
        session.add(MachineStateSegment(machine_id=m.id or 0, state=state, start_ms=start, end_ms=end))
    session.commit()


def count(
    session: Session, m: Machine, ts: int, good: int, scrap: int = 0, op: Operation | None = None
) -> None:
    session.add(
        CountEvent(
            machine_id=m.id or 0,
            operation_id=op.id if op else None,
            ts_ms=ts,
            good=good,
            scrap=scrap,
            edge_id="e1",
            seq=1,
        )
    )
    session.commit()


def operation(session: Session, number: str, ideal: float | None, m: Machine | None = None) -> Operation:
    product = Product(code=f"P-{number}", name="part")
    session.add(product)
    session.commit()
    order = WorkOrder(number=number, quantity=1000, product_id=product.id or 0, status="in_progress")
    session.add(order)
    session.commit()
    op = Operation(
        work_order_id=order.id or 0,
        step_no=10,
        name="turn",
        planned_qty=1000,
        ideal_cycle_s=ideal,
        machine_id=m.id if m else None,
    )
    session.add(op)
    session.commit()
    return op


def downtime(session: Session, m: Machine, start: int, end: int | None, reason: str | None = None) -> None:
    session.add(DowntimeEvent(machine_id=m.id or 0, start_ms=start, end_ms=end, reason_code=reason))
    session.commit()


def first_article_d1(session: Session, product_id: int) -> Characteristic:
    """A first-article plan "FAI" of one sample, with characteristic D1: 40.0 mm, 39.9..40.1; flushed."""
    plan = InspectionPlan(product_id=product_id, name="FAI", frequency="first_article", sample_size=1)
    session.add(plan)
    session.flush()
    char = Characteristic(plan_id=plan.id or 0, name="D1", nominal=40.0, lsl=39.9, usl=40.1, unit="mm")
    session.add(char)
    session.flush()
    return char


def measured(
    session: Session,
    char: Characteristic,
    work_order_id: int,
    values: Sequence[float],
    first: datetime,
    every: timedelta,
    inspector: str,
    lot_code: str | None = None,
) -> None:
    """One inspection record of `char`'s plan per value, `every` apart from `first`, each passed when the
    value is at most the upper limit; flushed."""
    usl = char.usl if char.usl is not None else float("inf")
    for i, value in enumerate(values):
        passed, at = value <= usl, first + every * i
        record = InspectionRecord(plan_id=char.plan_id, work_order_id=work_order_id, inspector=inspector,
                                  passed=passed, created_at=at, lot_code=lot_code)  # fmt: skip
        session.add(record)
        session.flush()
        session.add(InspectionValue(record_id=record.id or 0, characteristic_id=char.id or 0, value=value,
                                    passed=passed))  # fmt: skip
    session.flush()

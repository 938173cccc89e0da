"""Rows written straight through the models for hand-computed fixtures (times in UTC unless a tz is given)."""

from datetime import datetime, time
from zoneinfo import ZoneInfo

from sqlmodel import Session

from server.models.catalog import Product
from server.models.ingest import CountEvent, MachineStateSegment
from server.models.plant import Machine, Site
from server.models.production import Operation, WorkOrder
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

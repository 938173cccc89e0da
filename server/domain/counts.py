"""Booking counted parts: the machine counts of the operations they are attributed to (docs/ingest.md,
"Counting"). Works inside the caller's transaction."""

from collections.abc import Mapping, Sequence

from sqlalchemy import update
from sqlmodel import Session, col

from server.models.production import Operation


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

"""The durable inbox (docs/ingest.md): store first, ack the MQTT message after the commit, apply later.

`store()` writes in ONE transaction the data batches (INSERT .. ON CONFLICT (edge_id, seq) DO NOTHING:
a duplicate is a no-op), the cursor rows of edges never seen before, and dead letters. Only after it
returns may the caller ack the MQTT messages.
"""

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Engine, delete, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col

from server.core.db import lock_for_write
from server.models.ingest import DeadLetter, EdgeCursor, InboxBatch

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class StoredBatch:
    site: str
    edge_id: str
    seq: int
    samples: int
    payload: bytes


@dataclass(frozen=True, slots=True)
class Rejected:
    topic: str
    reason: str
    payload: bytes
    size: int


def _dialect_insert(session: Session, table: type) -> "sqlite.Insert | postgresql.Insert":
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def store(
    engine: Engine,
    batches: Sequence[StoredBatch],
    rejected: Sequence[Rejected],
    known_edges: set[str],
    now_ms: int,
) -> int:
    """Commit batches and dead letters; return how many batches were new (not duplicates)."""
    new = 0
    with Session(engine) as session:
        lock_for_write(session)  # SQLite: BEGIN IMMEDIATE (a read first could not upgrade to a write)
        edges = {(b.edge_id, b.site) for b in batches if b.edge_id not in known_edges}
        if edges:
            stmt = _dialect_insert(session, EdgeCursor).on_conflict_do_nothing(index_elements=["edge_id"])
            session.execute(
                stmt, [{"edge_id": e, "site": s, "last_applied_seq": 0} for e, s in sorted(edges)]
            )
        if batches:
            new = _insert_batches(session, batches, now_ms)
        if rejected:
            session.execute(
                insert(DeadLetter),
                [
                    {"received_ms": now_ms, "topic": r.topic[:255], "reason": r.reason[:1000], "size": r.size,
                     "payload": r.payload}
                    for r in rejected
                ],
            )  # fmt: skip
        session.commit()
    known_edges.update(e for e, _ in edges)
    return new


def _insert_batches(session: Session, batches: Sequence[StoredBatch], now_ms: int) -> int:
    """Insert batches not yet stored or applied; duplicates are no-ops. Returns how many were new."""
    edges = {b.edge_id for b in batches}
    applied: dict[str, int] = dict(
        session.execute(
            select(EdgeCursor.edge_id, EdgeCursor.last_applied_seq).where(  # type: ignore[call-overload]
                col(EdgeCursor.edge_id).in_(edges)
            )
        ).all()
    )
    stored = set(
        session.execute(
            select(InboxBatch.edge_id, InboxBatch.seq).where(  # type: ignore[call-overload]
                col(InboxBatch.edge_id).in_(edges), col(InboxBatch.seq).in_({b.seq for b in batches})
            )
        ).all()
    )
    rows: dict[tuple[str, int], dict[str, object]] = {}
    for b in batches:
        key = (b.edge_id, b.seq)
        if b.seq > applied.get(b.edge_id, 0) and key not in stored and key not in rows:
            rows[key] = {"edge_id": b.edge_id, "seq": b.seq, "site": b.site, "received_ms": now_ms,
                         "samples": b.samples, "payload": b.payload}  # fmt: skip
    if rows:
        stmt = _dialect_insert(session, InboxBatch).on_conflict_do_nothing(index_elements=["edge_id", "seq"])
        # sorted: two replicas inserting the same keys lock them in the same order (no deadlock)
        session.execute(stmt, [rows[key] for key in sorted(rows)])  # another replica may have stored some
    return len(rows)


def prune_dead_letters(engine: Engine, now_ms: int, keep_days: int = 30, keep_max: int = 100_000) -> int:
    """Delete dead letters older than `keep_days` and beyond the newest `keep_max` (a flooding edge must not
    fill the disk); return how many went."""
    with Session(engine) as session:
        lock_for_write(session)
        cutoff = now_ms - keep_days * 86_400_000
        newest_kept = session.exec(
            select(DeadLetter.id).order_by(col(DeadLetter.id).desc()).offset(keep_max).limit(1)  # type: ignore[call-overload]
        ).first()
        condition = col(DeadLetter.received_ms) < cutoff
        if newest_kept is not None:
            condition = condition | (col(DeadLetter.id) <= newest_kept[0])
        result = session.execute(delete(DeadLetter).where(condition))
        session.commit()
    deleted = int(getattr(result, "rowcount", 0) or 0)
    if deleted:
        log.info("deleted %d old dead letters", deleted)
    return deleted

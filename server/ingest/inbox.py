"""The durable inbox (docs/ingest.md): store first, ack the MQTT message after the commit, apply later.

`store()` writes in ONE transaction the data batches (INSERT .. ON CONFLICT (edge_id, seq) DO NOTHING:
a duplicate is a no-op), the cursor rows of edges never seen before, and dead letters. Only after it
returns may the caller ack the MQTT messages. When the database refuses a pass for the data's sake
(server/ingest/errors.py), `store_each()` stores its messages one by one: the ones refused become dead
letters with the database's reason, the others are stored; the whole pass can then be acked.
"""

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Engine, delete, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col

from server.core.db import lock_for_write
from server.ingest.errors import is_bad_data
from server.ingest.future import Held
from server.models.ingest import DeadLetter, EdgeCursor, HeldSample, InboxBatch
from shared import topics

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class StoredBatch:
    site: str
    edge_id: str
    seq: int
    samples: int
    payload: bytes
    held: Held | None = None  # its samples stamped too far ahead, kept apart (server/ingest/future.py)
    release_ms: int = 0  # when the held ones go to the dead letters

    @property
    def topic(self) -> str:
        return topics.data(self.site, self.edge_id)


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
    inserted: set[tuple[str, int]] | None = None,
) -> int:
    """Commit batches and dead letters; return how many batches were new (not duplicates). The keys of
    the new ones are added to `inserted` when given."""
    new = 0
    with Session(engine) as session:
        lock_for_write(session)  # SQLite: BEGIN IMMEDIATE (a read first could not upgrade to a write)
        edges = {(b.edge_id, b.site) for b in batches if b.edge_id not in known_edges}
        if edges:
            stmt = _dialect_insert(session, EdgeCursor).on_conflict_do_nothing(index_elements=["edge_id"])
            session.execute(
                stmt, [{"edge_id": e, "site": s, "last_applied_seq": 0} for e, s in sorted(edges)]
            )
        keys: set[tuple[str, int]] = set()
        if batches:
            keys = _insert_batches(session, batches, now_ms)
            new = len(keys)
        if rejected:
            session.execute(
                insert(DeadLetter),
                [
                    {"received_ms": now_ms, "topic": _text(r.topic, 255), "reason": _text(r.reason, 1000),
                     "size": r.size, "payload": r.payload}
                    for r in rejected
                ],
            )  # fmt: skip
        session.commit()
    known_edges.update(e for e, _ in edges)
    if inserted is not None:
        inserted.update(keys)
    return new


def store_each(
    engine: Engine,
    batches: Sequence[StoredBatch],
    rejected: Sequence[Rejected],
    known_edges: set[str],
    now_ms: int,
    inserted: set[tuple[str, int]] | None = None,
) -> tuple[int, dict[tuple[str, int], Rejected]]:
    """`store()` message by message, after a pass failed for the data's sake: a batch the database
    refuses is dead-lettered with its reason. Returns (new batches, dead letters by (edge, seq) of the
    batches refused). A database error (not the data's fault) propagates: the caller retries the pass,
    nothing is acked."""
    new, refused = 0, {}
    for batch in batches:
        try:
            new += store(engine, [batch], [], known_edges, now_ms, inserted)
        except Exception as err:
            if not is_bad_data(err):
                raise
            reason = f"the database refused seq {batch.seq}: {type(err).__name__}: {err}"
            refused[(batch.edge_id, batch.seq)] = Rejected(
                batch.topic, reason, batch.payload, len(batch.payload)
            )
    for letter in [*rejected, *refused.values()]:
        try:
            store(engine, [], [letter], known_edges, now_ms)
        except Exception as err:
            if not is_bad_data(err):
                raise
            log.error("dead letter from %s could not be stored either (%s); dropped", letter.topic, err)
    return new, refused


def _text(value: str, limit: int) -> str:
    """Text fit for any database column: valid UTF-8, no NUL, at most `limit` characters."""
    clean = value.encode("utf-8", "replace").decode("utf-8")
    return clean.replace("\x00", "\\0")[:limit]


def _insert_batches(session: Session, batches: Sequence[StoredBatch], now_ms: int) -> set[tuple[str, int]]:
    """Insert batches not yet stored or applied; duplicates are no-ops. Returns the new ones' keys."""
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
        _insert_held(
            session,
            {(b.edge_id, b.seq): b for b in batches if b.held is not None and (b.edge_id, b.seq) in rows},
            now_ms,
        )
    return set(rows)


def _insert_held(session: Session, batches: dict[tuple[str, int], StoredBatch], now_ms: int) -> None:
    """The future samples split off new batches (server/ingest/future.py), one row per batch."""
    rows = []
    for key in sorted(batches):
        b = batches[key]
        assert b.held is not None
        rows.append({"edge_id": b.edge_id, "seq": b.seq, "site": b.site, "received_ms": now_ms,
                     "release_ms": b.release_ms, "samples": b.held.samples,
                     "newest_ts_ms": b.held.newest_ts_ms, "payload": b.held.payload})  # fmt: skip
    if rows:
        stmt = _dialect_insert(session, HeldSample).on_conflict_do_nothing(index_elements=["edge_id", "seq"])
        session.execute(stmt, rows)


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

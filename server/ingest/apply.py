"""Applying stored batches strictly in seq order per edge, exactly once (docs/ingest.md).

Each transaction first takes the edge's lock: `BEGIN IMMEDIATE` on SQLite (single writer) and
`SELECT ... FOR UPDATE` of the edge's cursor row on PostgreSQL, so any number of server processes may
call `apply_edge` for the same edge at once. Inside it: read `last_applied_seq`, take the stored batches
that follow it without a hole, apply their effects, advance the cursor and delete the applied batches,
all in the SAME transaction. A hole in seq stops the run: later batches stay in the inbox (held).

A batch that fails for the data's sake (server/ingest/errors.py: a value the database refuses) is found
by applying one batch per transaction, then moved to the dead letters with its reason, and the cursor
passes it: one bad batch never stops its edge. Any other error keeps the batches for a later retry.
"""

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import Engine, delete, func, update
from sqlmodel import Session, col, select

from server.core.db import lock_for_write
from server.core.events import Event
from server.historian.base import Historian, Point
from server.ingest.clock import ClockWatch
from server.ingest.effects import Effects
from server.ingest.errors import GapSkipError, is_bad_data
from server.ingest.metrics import Metrics
from server.ingest.options import IngestOptions
from server.ingest.registry import Registry
from server.models.ingest import DeadLetter, EdgeCursor, GapEvent, InboxBatch
from shared import topics
from shared.messages import DataBatch, decode

log = logging.getLogger(__name__)


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass
class ApplyContext:
    engine: Engine
    registry: Registry
    historian: Historian
    options: IngestOptions
    metrics: Metrics
    clock: ClockWatch | None = None  # flags future timestamps of applied batches
    decoded: dict[tuple[str, int], DataBatch] = field(default_factory=dict)  # skip a second decode


@dataclass
class Applied:
    edge_id: str
    site: str = ""
    last_applied: int = 0
    batches: int = 0
    points: list[Point] = field(default_factory=list)  # for a non-transactional historian, after commit
    events: list[Event] = field(default_factory=list)
    error: str | None = None


def _locked_cursor(session: Session, edge_id: str) -> EdgeCursor | None:
    lock_for_write(session)
    return session.exec(select(EdgeCursor).where(EdgeCursor.edge_id == edge_id).with_for_update()).first()


def apply_edge(ctx: ApplyContext, edge_id: str) -> Applied:
    """Apply every contiguous stored batch of `edge_id`; errors are returned, not raised."""
    result = Applied(edge_id)
    limit, isolated = ctx.options.batches_per_apply, 0
    while True:
        try:
            while _apply_some(ctx, edge_id, result, limit):
                pass
            return result
        except Exception as err:
            getattr(ctx.historian, "forget", lambda: None)()
            if not is_bad_data(err) or isolated >= MAX_DEAD_PER_CALL:
                # the database or a bug: keep the batches, report, retry later
                ctx.metrics.add("apply_errors")
                result.error = f"{type(err).__name__}: {err}"
                return result
            if limit > 1:
                limit = 1  # find the batch: one per transaction
                continue
            _dead_letter_next(ctx, edge_id, f"{type(err).__name__}: {err}")
            isolated += 1
            limit = ctx.options.batches_per_apply


MAX_DEAD_PER_CALL = 100  # batches dead-lettered by one apply_edge call before it reports an error


def _dead_letter_next(ctx: ApplyContext, edge_id: str, error: str) -> None:
    """Move the batch after the cursor to the dead letters (the database refused its effects), and
    advance the cursor past it, in one transaction."""
    with Session(ctx.engine, expire_on_commit=False) as session:
        cursor = _locked_cursor(session, edge_id)
        if cursor is None:
            return
        seq = cursor.last_applied_seq + 1
        row = session.get(InboxBatch, (edge_id, seq))
        if row is None:  # another replica moved on meanwhile
            return
        session.add(
            DeadLetter(
                received_ms=row.received_ms,
                topic=topics.data(cursor.site, edge_id),
                reason=f"applying seq {seq} failed: {error}"[:1000],
                size=len(row.payload),
                payload=row.payload,
            )
        )
        _advance(session, cursor, seq, 1, row.samples)
        session.commit()
    ctx.decoded.pop((edge_id, seq), None)
    ctx.metrics.add("dead_letters")
    log.error("edge %s: seq %d moved to the dead letters, its effects refused: %s", edge_id, seq, error[:300])


def _apply_some(ctx: ApplyContext, edge_id: str, result: Applied, limit: int) -> bool:
    """One transaction of up to `limit` batches; True if there may be more."""
    with Session(ctx.engine, expire_on_commit=False) as session:
        cursor = _locked_cursor(session, edge_id)
        if cursor is None:
            return False
        rows = session.exec(
            select(InboxBatch.seq, InboxBatch.payload, InboxBatch.received_ms)
            .where(InboxBatch.edge_id == edge_id, InboxBatch.seq > cursor.last_applied_seq)
            .order_by(col(InboxBatch.seq))
            .limit(limit)
        ).all()
        run: list[tuple[int, bytes, int]] = []
        for seq, payload, received_ms in rows:
            if seq != cursor.last_applied_seq + len(run) + 1:
                break
            run.append((seq, payload, received_ms))
        result.site, result.last_applied = cursor.site, cursor.last_applied_seq
        if not run:
            _drop_stale(session, edge_id, cursor.last_applied_seq)
            return False
        effects = Effects(
            session, edge_id, cursor.site, ctx.registry, ctx.historian, ctx.options, ctx.metrics
        )
        samples = 0
        applied: list[tuple[DataBatch, int]] = []
        for seq, payload, received_ms in run:
            batch = ctx.decoded.pop((edge_id, seq), None) or decode(DataBatch, payload)
            effects.add(batch, received_ms)
            applied.append((batch, received_ms))
            samples += len(batch.samples)
        effects.flush()
        last = run[-1][0]
        _advance(session, cursor, last, len(run), samples)
        session.commit()
    if ctx.clock is not None:
        for batch, received_ms in applied:  # once per batch: the inbox keeps its time of receipt
            ctx.clock.observe(batch, received_ms)
    ctx.metrics.add("batches_applied", len(run))
    result.last_applied, result.batches = last, result.batches + len(run)
    result.points.extend(effects.points)
    result.events.extend(effects.events)
    return len(run) == limit


def _advance(session: Session, cursor: EdgeCursor, last: int, batches: int, samples: int) -> None:
    edge_id, ts = cursor.edge_id, now_ms()
    cursor.last_applied_seq = last
    cursor.applied_ms = ts
    cursor.batches += batches
    cursor.samples += samples
    session.add(cursor)
    session.execute(delete(InboxBatch).where(col(InboxBatch.edge_id) == edge_id, col(InboxBatch.seq) <= last))
    session.execute(
        update(GapEvent)
        .where(
            col(GapEvent.edge_id) == edge_id,
            col(GapEvent.resolved_ms).is_(None),
            col(GapEvent.to_seq) <= last,
        )
        .values(resolved_ms=ts, resolution="filled")
    )


def _drop_stale(session: Session, edge_id: str, last: int) -> None:
    """Delete stored copies of seqs already applied. inbox.store reads the cursor, then inserts: a
    duplicate can land in between, just after another replica applied and deleted the same seq."""
    stale = session.execute(
        delete(InboxBatch).where(col(InboxBatch.edge_id) == edge_id, col(InboxBatch.seq) <= last)
    )
    if getattr(stale, "rowcount", 0):
        session.commit()


@dataclass(frozen=True, slots=True)
class Progress:
    edge_id: str
    site: str
    last_applied: int
    contiguous: int  # highest seq stored without a hole (what the ack says)
    held: int  # stored batches waiting behind a hole
    highest_stored: int
    first_held: int | None


def progress(engine: Engine, edge_id: str, scan: int = 10_000) -> Progress | None:
    with Session(engine) as session:
        cursor = session.get(EdgeCursor, edge_id)
        if cursor is None:
            return None
        last = cursor.last_applied_seq
        after = (InboxBatch.edge_id == edge_id, InboxBatch.seq > last)
        first, highest, count = session.exec(
            select(func.min(InboxBatch.seq), func.max(InboxBatch.seq), func.count()).where(*after)
        ).one()
        contiguous = last
        if first == last + 1:  # not applied yet (or applying failed): walk the stored run
            seqs = session.exec(
                select(InboxBatch.seq).where(*after).order_by(col(InboxBatch.seq)).limit(scan)
            ).all()
            for seq in seqs:
                if seq != contiguous + 1:
                    break
                contiguous = seq
    held = int(count) - (contiguous - last)
    first_held = None
    if held:
        first_held = first if contiguous == last else _first_after(engine, edge_id, contiguous)
    return Progress(edge_id, cursor.site, last, contiguous, held, max(highest or 0, last), first_held)


def _first_after(engine: Engine, edge_id: str, seq: int) -> int | None:
    with Session(engine) as session:
        found = session.exec(
            select(func.min(InboxBatch.seq)).where(InboxBatch.edge_id == edge_id, InboxBatch.seq > seq)
        ).one()
    return None if found is None else int(found)


def record_gap(engine: Engine, edge_id: str, from_seq: int, to_seq: int) -> bool:
    """Record an open gap event once; True if this call created it."""
    with Session(engine) as session:
        lock_for_write(session)
        exists = session.exec(
            select(GapEvent.id).where(
                GapEvent.edge_id == edge_id,
                GapEvent.from_seq == from_seq,
                col(GapEvent.resolved_ms).is_(None),
            )
        ).first()
        if exists is not None:
            return False
        session.add(GapEvent(edge_id=edge_id, from_seq=from_seq, to_seq=to_seq, detected_ms=now_ms()))
        session.commit()
    return True


def skip_gap(
    engine: Engine, edge_id: str, seq: int, by: str, on_done: Callable[[str], None] | None = None
) -> int:
    """Operator's release of a gap that will never be filled: the cursor jumps over the missing seqs
    `seq..(first held - 1)`; those batches are lost and recorded as skipped. Returns the new cursor."""
    with Session(engine, expire_on_commit=False) as session:
        cursor = _locked_cursor(session, edge_id)
        if cursor is None:
            raise GapSkipError(f"edge {edge_id!r} has no cursor (no batch was ever stored)")
        if seq != cursor.last_applied_seq + 1:
            raise GapSkipError(
                f"seq {seq} is not the first missing seq of {edge_id} ({cursor.last_applied_seq + 1})"
            )
        first_held = session.exec(
            select(InboxBatch.seq)
            .where(InboxBatch.edge_id == edge_id, InboxBatch.seq > cursor.last_applied_seq)
            .order_by(col(InboxBatch.seq))
            .limit(1)
        ).first()
        if first_held is None:
            raise GapSkipError(
                f"nothing is held after seq {cursor.last_applied_seq} of {edge_id}: no gap to skip"
            )
        if first_held == seq:
            raise GapSkipError(f"seq {seq} of {edge_id} is stored: there is no gap there")
        ts, last = now_ms(), first_held - 1
        cursor.last_applied_seq = last
        session.add(cursor)
        closed = session.execute(
            update(GapEvent)
            .where(
                col(GapEvent.edge_id) == edge_id,
                col(GapEvent.resolved_ms).is_(None),
                col(GapEvent.from_seq) <= last,
            )
            .values(resolved_ms=ts, resolution="skipped", resolved_by=by, to_seq=last)
        )
        if not getattr(closed, "rowcount", 0):
            session.add(
                GapEvent(edge_id=edge_id, from_seq=seq, to_seq=last, detected_ms=ts, resolved_ms=ts,
                         resolution="skipped", resolved_by=by)
            )  # fmt: skip
        session.commit()
    log.warning("edge %s: seqs %d..%d skipped by %s (never delivered; lost)", edge_id, seq, last, by)
    if on_done is not None:
        on_done(edge_id)
    return last

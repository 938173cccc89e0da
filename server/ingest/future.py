"""Samples from the future are held, never applied (docs/reliability.md, "Hostile publishers", I3).

A sample stamped more than `future_skew_ms` (TAKT_INGEST_FUTURE_SKEW_S, 5 min) after the server received
its batch would become the machine's latest reading: its counter value counted against the jump limit of
a huge interval, and every real reading after it older, so ignored as stale. At receipt such samples are
split off their batch (the rest of the batch is stored and applied in seq order as usual) into
`HeldSample` (one row per batch, UNIQUE(edge_id, seq): a resend is a no-op), flagged on the edge's view
(GET /api/v1/edges/{edge}: `held_future_samples`, `held_future_newest_ms`).

They are not applied when their time comes: by then the edge's later real readings have moved its counters
and states on, and a months-old reading applied then would count, reset or freeze against them. A held
row is moved to the dead letters with its reason when its time has come (its newest stamp, minus the
skew), or `future_hold_max_s` (24 h) after receipt at the latest; the edge's clock must be fixed (NTP).
"""

import logging
from dataclasses import dataclass

import msgspec
from sqlalchemy import Engine, delete
from sqlmodel import Session, col, func, select

from server.core.db import lock_for_write
from server.models.ingest import DeadLetter, HeldSample
from shared import topics
from shared.messages import DataBatch, encode

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Held:
    """The future samples of one batch, as stored."""

    samples: int
    newest_ts_ms: int
    payload: bytes  # a DataBatch of the held samples (same edge, seq and sent_ms)


def split(batch: DataBatch, received_ms: int, skew_ms: int) -> tuple[DataBatch, Held | None]:
    """(the batch without its future samples, the held ones or None)."""
    limit = received_ms + skew_ms
    if all(s.ts_ms <= limit for s in batch.samples):
        return batch, None
    ahead = [s for s in batch.samples if s.ts_ms > limit]
    kept = msgspec.structs.replace(batch, samples=[s for s in batch.samples if s.ts_ms <= limit])
    held = msgspec.structs.replace(batch, samples=ahead)
    return kept, Held(len(ahead), max(s.ts_ms for s in ahead), encode(held))


def release_ms(held: Held, received_ms: int, skew_ms: int, hold_max_s: float) -> int:
    """When the hold ends: once the newest stamp is no longer ahead, at most `hold_max_s` after receipt."""
    return min(held.newest_ts_ms - skew_ms, received_ms + int(hold_max_s * 1000))


def release_due(engine: Engine, now_ms: int, skew_ms: int) -> int:
    """Move held samples whose hold ended to the dead letters; return how many rows went."""
    with Session(engine) as session:
        lock_for_write(session)
        due = session.exec(select(HeldSample).where(HeldSample.release_ms <= now_ms).limit(1000)).all()
        for row in due:
            ahead_s = (row.newest_ts_ms - row.received_ms) / 1000
            reason = (
                f"{row.samples} samples of seq {row.seq} stamped up to {ahead_s:.0f} s ahead of the server's "
                f"clock at receipt (allowed {skew_ms / 1000:.0f} s): held, never applied"
            )
            topic = topics.data(row.site, row.edge_id)
            size = len(row.payload)
            letter = DeadLetter(
                received_ms=row.received_ms, topic=topic, reason=reason, size=size, payload=row.payload
            )
            session.add(letter)
        if due:
            keys = [(r.edge_id, r.seq) for r in due]
            for edge_id, seq in keys:
                session.execute(
                    delete(HeldSample).where(col(HeldSample.edge_id) == edge_id, col(HeldSample.seq) == seq)
                )
        session.commit()
    if due:
        log.warning("%d batches' future samples moved to the dead letters (never applied)", len(due))
    return len(due)


def held_of(session: Session, edge_id: str) -> tuple[int, int | None]:
    """(samples held, newest stamp) of an edge."""
    count, newest = session.exec(
        select(func.coalesce(func.sum(HeldSample.samples), 0), func.max(HeldSample.newest_ts_ms)).where(
            HeldSample.edge_id == edge_id
        )
    ).one()
    return int(count), None if newest is None else int(newest)

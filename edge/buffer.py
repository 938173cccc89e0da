"""The on-disk outbox (store and forward): every batch is stored here before it is published.

SQLite in WAL mode with `synchronous=FULL`: each commit is fsync'd, so a stored batch survives a power
cut. A batch's `seq` is allocated in the same transaction that stores it (the counter lives in the
`meta` table), so a kill -9 at any instant neither reuses nor skips a seq. Rows are deleted only when
the server's ack covers them. Not thread safe: the agent calls it from one worker thread.

Bounds (docs/edge.md, "Drop policy"): over `max_bytes`, or older than `max_age_s`, batches lose their
analog samples first (oldest first); then the oldest half is compacted by keeping, per counter tag, only
the samples around a drop (wrap or reset) and the last one, which keeps every part; state, run and fault
samples are never dropped. A batch is never deleted before its ack (a gap in seq would stall the
server), only emptied. Everything dropped is counted by role and reported in the status.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

from edge.errors import OutboxError
from shared.messages import COUNTER_ROLES, STATE_ROLES

log = logging.getLogger(__name__)

SampleRow = tuple[str, str, int, Any, str]  # machine, tag, ts_ms, value, quality
PROTECTED = COUNTER_ROLES | STATE_ROLES
COUNTERS = COUNTER_ROLES
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY,
    created_ms INTEGER NOT NULL,
    samples BLOB NOT NULL,
    n_protected INTEGER NOT NULL,
    n_analog INTEGER NOT NULL
);
"""
_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(list[tuple[str, str, int, Any, str]])


@dataclass(frozen=True, slots=True)
class Stored:
    seq: int
    created_ms: int
    samples: bytes  # a JSON array of [machine, tag, ts_ms, value, quality]


def is_disk_full(err: sqlite3.Error) -> bool:
    return "full" in str(err).lower() or getattr(err, "sqlite_errorcode", 0) == 13  # SQLITE_FULL


SESSIONS = 1 << 20  # connections per run of the agent


class Outbox:
    def __init__(
        self,
        path: str | Path,
        max_bytes: int = 200_000_000,
        max_age_s: float = 7 * 86400,
        fsync: str = "full",
    ) -> None:
        self.path = str(path)
        self.max_bytes = max_bytes
        self.max_age_ms = int(max_age_s * 1000)
        self.roles: dict[tuple[str, str], str] = {}  # set by the agent; unknown tags are never dropped
        self.dropped: dict[str, int] = {}
        # sample times (min, max) of what the policy dropped since the outbox was last empty
        self.dropped_span: tuple[int, int] | None = None
        self.disk_full_errors = 0
        self.over_budget = False
        self.retry_bytes = 0
        try:
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute(f"PRAGMA synchronous={'FULL' if fsync == 'full' else 'NORMAL'}")
            self.db.executescript(_SCHEMA)
            self._load()
        except (sqlite3.Error, OSError) as err:
            raise OutboxError(f"cannot open outbox {self.path}: {err}") from err

    def _load(self) -> None:
        meta = dict(self.db.execute("SELECT key, value FROM meta").fetchall())
        self.next_seq = int(meta.get("next_seq", 1))
        self.acked_seq = int(meta.get("acked_seq", 0))
        self.dropped = {k.split(":", 1)[1]: int(v) for k, v in meta.items() if k.startswith("dropped:")}
        low, high = meta.get("dropped_from_ms"), meta.get("dropped_to_ms")
        self.dropped_span = (int(low), int(high)) if low is not None and high is not None else None
        count, total, oldest = self.db.execute(
            "SELECT COUNT(*), COALESCE(SUM(length(samples)), 0), MIN(created_ms) FROM outbox"
        ).fetchone()
        self.depth, self.bytes, self.oldest_ms = int(count), int(total), oldest
        last = self.db.execute("SELECT MAX(seq) FROM outbox").fetchone()[0]
        if last is not None and last >= self.next_seq:  # cannot happen with one transaction; be safe
            self.next_seq = last + 1

    def close(self) -> None:
        self.db.close()

    def reserve_sessions(self) -> int:
        """The first of a block of MQTT connection numbers for this run of the agent: they rise across
        restarts without a write per connect (the server orders an edge's statuses by them, docs/contracts.md
        "Edge status")."""
        row = self.db.execute("SELECT value FROM meta WHERE key = 'session_next'").fetchone()
        base = int(row[0]) if row is not None else 1
        reserve = "INSERT OR REPLACE INTO meta (key, value) VALUES ('session_next', ?)"
        self.db.execute(reserve, (base + SESSIONS,))
        return base

    def append(self, samples: list[SampleRow], created_ms: int | None = None) -> int:
        """Store one batch and return its seq. Raises OutboxError (disk full) without losing state."""
        blob = _encoder.encode(samples)
        n_protected = sum(1 for s in samples if self.roles.get((s[0], s[1]), "state") in PROTECTED)
        created = created_ms if created_ms is not None else int(time.time() * 1000)
        seq = self.next_seq
        try:
            self.db.execute("BEGIN IMMEDIATE")
            self.db.execute(
                "INSERT INTO outbox (seq, created_ms, samples, n_protected, n_analog) VALUES (?, ?, ?, ?, ?)",
                (seq, created, blob, n_protected, len(samples) - n_protected),
            )
            self.db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('next_seq', ?)", (seq + 1,))
            self._save_dropped()
            self.db.execute("COMMIT")
        except sqlite3.Error as err:
            self._rollback()
            if is_disk_full(err):
                self.disk_full_errors += 1
            raise OutboxError(f"cannot store batch: {err}") from err
        self.next_seq = seq + 1
        self.depth += 1
        self.bytes += len(blob)
        self.oldest_ms = created if self.oldest_ms is None else min(self.oldest_ms, created)
        if self.bytes > max(self.max_bytes, self.retry_bytes):
            self.enforce_bounds()
        return seq

    def _rollback(self) -> None:
        with contextlib.suppress(sqlite3.Error):  # no transaction open
            self.db.execute("ROLLBACK")

    def _save_dropped(self) -> None:
        saved = [(f"dropped:{role}", count) for role, count in self.dropped.items()]
        if self.dropped_span is not None:
            saved += [("dropped_from_ms", self.dropped_span[0]), ("dropped_to_ms", self.dropped_span[1])]
        self.db.executemany("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", saved)

    def pending(self, after_seq: int, limit: int) -> list[Stored]:
        try:
            rows = self.db.execute(
                "SELECT seq, created_ms, samples FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?",
                (after_seq, limit),
            ).fetchall()
        except sqlite3.Error as err:
            raise OutboxError(f"cannot read batches: {err}") from err
        return [Stored(int(seq), int(created), bytes(blob)) for seq, created, blob in rows]

    def ack(self, seq: int) -> int:
        """Delete every batch up to `seq`; returns how many were deleted."""
        if seq <= self.acked_seq:
            return 0
        if seq >= self.next_seq:
            self._renumber_after(seq)
            return 0
        try:
            self.db.execute("BEGIN IMMEDIATE")
            count, total = self.db.execute(
                "SELECT COUNT(*), COALESCE(SUM(length(samples)), 0) FROM outbox WHERE seq <= ?", (seq,)
            ).fetchone()
            self.db.execute("DELETE FROM outbox WHERE seq <= ?", (seq,))
            self.db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('acked_seq', ?)", (seq,))
            emptied = count == self.depth
            if emptied:  # all delivered: the next drop starts a new span
                self.db.execute("DELETE FROM meta WHERE key IN ('dropped_from_ms', 'dropped_to_ms')")
            self.db.execute("COMMIT")
        except sqlite3.Error as err:
            self._rollback()
            raise OutboxError(f"cannot delete acked batches: {err}") from err
        self.acked_seq = seq
        if emptied:
            self.dropped_span = None
        self.depth -= int(count)
        self.bytes -= int(total)
        self.oldest_ms = self.db.execute("SELECT MIN(created_ms) FROM outbox").fetchone()[0]
        if self.over_budget and self.bytes <= self.max_bytes:
            log.info("outbox back within its bounds")
            self.over_budget, self.retry_bytes = False, 0
        return int(count)

    def _renumber_after(self, seq: int) -> None:
        """The server has seen seqs this outbox never made (a wiped or replaced outbox, same edge id).

        Deleting our unsent batches would lose them, and sending them under seqs the server already
        has would make them duplicates; so they move, in order, to just after the server's seq."""
        offset = seq - self.acked_seq
        log.warning(
            "server acked seq %d but this outbox only reached %d (new or wiped outbox?): "
            "renumbering %d waiting batches to follow it", seq, self.next_seq - 1, self.depth,
        )  # fmt: skip
        try:
            self.db.execute("BEGIN IMMEDIATE")
            self.db.execute("UPDATE outbox SET seq = -seq")  # two steps: no unique clash mid-update
            self.db.execute("UPDATE outbox SET seq = -seq + ?", (offset,))
            next_seq = self.next_seq + offset
            self.db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('next_seq', ?)", (next_seq,))
            self.db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('acked_seq', ?)", (seq,))
            self.db.execute("COMMIT")
        except sqlite3.Error as err:
            self._rollback()
            raise OutboxError(f"cannot renumber batches: {err}") from err
        self.acked_seq, self.next_seq = seq, next_seq

    # -- bounds ---------------------------------------------------------------------------------------

    def enforce_bounds(self, now_ms: int | None = None) -> None:
        """Apply the drop policy until the outbox fits its bounds (or only protected samples remain)."""
        now = now_ms if now_ms is not None else int(time.time() * 1000)
        self._strip_analog(f"created_ms < {now - self.max_age_ms}")
        target = int(self.max_bytes * 0.9)
        if self.bytes > self.max_bytes:
            self._strip_analog("1", target)
        if self.bytes > self.max_bytes:
            self._compact_counters()
        over = self.bytes > self.max_bytes
        # still over with only protected samples: try again after 10 % more, not on every append
        self.retry_bytes = int(self.bytes * 1.1) if over else 0
        if over and not self.over_budget:
            log.error(
                "outbox over its %d bytes with only counter/state samples left: keeping them", self.max_bytes
            )
        elif not over and self.over_budget:
            log.info("outbox back within its bounds")
        self.over_budget = over

    def _strip_analog(self, condition: str, target: int | None = None) -> None:
        while target is None or self.bytes > target:
            rows = self.db.execute(
                f"SELECT seq, samples FROM outbox WHERE n_analog > 0 AND {condition} ORDER BY seq LIMIT 64"
            ).fetchall()
            if not rows:
                return
            updates = []
            for seq, blob in rows:
                samples = _decoder.decode(blob)
                kept = [s for s in samples if self.roles.get((s[0], s[1]), "state") in PROTECTED]
                self._count_dropped(samples, kept)
                updates.append((seq, kept, blob))
            self._rewrite(updates)

    def _compact_counters(self) -> None:
        rows = self.db.execute(
            "SELECT seq, samples FROM outbox WHERE n_protected > 0 ORDER BY seq LIMIT ?",
            (max(1, self.depth // 2),),
        ).fetchall()
        decoded = [(seq, _decoder.decode(blob), blob) for seq, blob in rows]
        keep = self._counter_keepers([samples for _, samples, _ in decoded])
        updates = []
        for index, (seq, samples, blob) in enumerate(decoded):
            kept = [s for j, s in enumerate(samples) if (index, j) in keep or not self._is_counter(s)]
            if len(kept) != len(samples):
                self._count_dropped(samples, kept)
                updates.append((seq, kept, blob))
        self._rewrite(updates)

    def _is_counter(self, sample: SampleRow) -> bool:
        return self.roles.get((sample[0], sample[1])) in COUNTERS

    def _counter_keepers(self, batches: list[list[SampleRow]]) -> set[tuple[int, int]]:
        """Positions of counter samples to keep: around every drop (wrap/reset) and each tag's last."""
        series: dict[tuple[str, str], list[tuple[int, int, Any]]] = {}
        for i, samples in enumerate(batches):
            for j, sample in enumerate(samples):
                if self._is_counter(sample):
                    series.setdefault((sample[0], sample[1]), []).append((i, j, sample[3]))
        keep: set[tuple[int, int]] = set()
        for points in series.values():
            keep.add(points[-1][:2])
            for before, after in itertools.pairwise(points):
                numbers = isinstance(before[2], int | float) and isinstance(after[2], int | float)
                if not numbers or after[2] < before[2]:
                    keep.update((before[:2], after[:2]))
        return keep

    def _count_dropped(self, samples: list[SampleRow], kept: list[SampleRow]) -> None:
        kept_ids = {id(s) for s in kept}
        for sample in samples:
            if id(sample) not in kept_ids:
                role = self.roles.get((sample[0], sample[1]), "state")
                self.dropped[role] = self.dropped.get(role, 0) + 1
                ts = int(sample[2])
                low, high = self.dropped_span or (ts, ts)
                self.dropped_span = (min(low, ts), max(high, ts))

    def _rewrite(self, updates: list[tuple[int, list[SampleRow], bytes]]) -> None:
        if not updates:
            return
        try:
            self.db.execute("BEGIN IMMEDIATE")
            for seq, kept, old in updates:
                blob = _encoder.encode(kept)
                n_protected = sum(1 for s in kept if self.roles.get((s[0], s[1]), "state") in PROTECTED)
                self.db.execute(
                    "UPDATE outbox SET samples = ?, n_protected = ?, n_analog = ? WHERE seq = ?",
                    (blob, n_protected, len(kept) - n_protected, seq),
                )
                self.bytes += len(blob) - len(old)
            self._save_dropped()
            self.db.execute("COMMIT")
        except sqlite3.Error as err:
            self._rollback()
            self._load()
            raise OutboxError(f"cannot apply the drop policy: {err}") from err

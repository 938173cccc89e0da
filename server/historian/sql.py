"""The `sql` historian: samples in the server's own database (SQLite or PostgreSQL).

Raw points live in `historian_point` (primary key (series_id, ts_ms): range queries are index scans),
1-minute rollups (min, max, sum, count) in `historian_rollup`, upserted on every write. Queries over long
ranges with steps of a minute or more read the rollups. Retention deletes raw points older than
`retention_days` before min(now, newest point of the series) and rollups older than `rollup_days`; on SQLite
the same hourly job refreshes the query planner's statistics.

Ingestion calls `write_in(connection, points)` inside its apply transaction, so historian rows commit
with the counts; `write(points)` opens its own transaction.
"""

import logging
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, text

from server.core.db import SQLITE_BEGIN
from server.historian.base import AGGREGATES, Aggregate, Point
from server.historian.errors import HistorianQueryError

log = logging.getLogger(__name__)

MINUTE_MS = 60_000
DAY_MS = 86_400_000
RETENTION_BATCH = 5_000  # rows per retention transaction: ingestion waits for one batch at most
SeriesKey = tuple[str, str, str]

_ROLLUP_UPSERT = {
    "sqlite": "vmin = min(historian_rollup.vmin, excluded.vmin), "
    "vmax = max(historian_rollup.vmax, excluded.vmax)",
    "postgresql": "vmin = LEAST(historian_rollup.vmin, excluded.vmin), "
    "vmax = GREATEST(historian_rollup.vmax, excluded.vmax)",
}
_RAW_AGG = {"avg": "AVG(value)", "min": "MIN(value)", "max": "MAX(value)"}
_ROLLUP_AGG = {"avg": "SUM(vsum) / SUM(n)", "min": "MIN(vmin)", "max": "MAX(vmax)"}


class SqlHistorian:
    name = "sql"
    transactional = True  # ingestion writes through write_in() inside its own transaction

    def __init__(
        self,
        engine: Engine,
        retention_days: int = 7,
        rollup_days: int | None = 400,
        rollup_min_range_ms: int = 6 * 3600 * 1000,
    ) -> None:
        self.engine = engine
        self.retention_ms = retention_days * DAY_MS
        self.rollup_ms = (rollup_days if rollup_days is not None else retention_days * 5) * DAY_MS
        self.rollup_min_range_ms = rollup_min_range_ms
        self._series: dict[SeriesKey, int] = {}
        self._mark = "?" if engine.dialect.name == "sqlite" else "%s"
        upsert = _ROLLUP_UPSERT.get(engine.dialect.name, _ROLLUP_UPSERT["postgresql"])
        # PostgreSQL takes the rows as one array per column, one statement each: an executemany runs a
        # statement per row, and psycopg's pipeline for them cost more CPU than the database did
        self._arrays = engine.dialect.name == "postgresql"
        self._insert_points = (
            "INSERT INTO historian_point (series_id, ts_ms, value) "
            f"{self._rows('integer', 'bigint', 'float8')} "
            "ON CONFLICT (series_id, ts_ms) DO NOTHING"
        )
        self._upsert_rollups = (
            "INSERT INTO historian_rollup (series_id, bucket_ms, vmin, vmax, vsum, n) "
            f"{self._rows('integer', 'bigint', 'float8', 'float8', 'float8', 'integer')} "
            f"ON CONFLICT (series_id, bucket_ms) DO UPDATE SET {upsert}, "
            "vsum = historian_rollup.vsum + excluded.vsum, n = historian_rollup.n + excluded.n"
        )

    def _marks(self, count: int) -> str:
        return ", ".join([self._mark] * count)

    def _rows(self, *types: str) -> str:
        """The VALUES of one row (an executemany), or on PostgreSQL the rows of one array per column."""
        if not self._arrays:
            return f"VALUES ({self._marks(len(types))})"
        return "SELECT * FROM unnest(" + ", ".join(f"%s::{each}[]" for each in types) + ")"

    def _execute(self, conn: Connection, statement: str, rows: Sequence[tuple[Any, ...]]) -> None:
        if self._arrays:
            conn.exec_driver_sql(statement, tuple(list(column) for column in zip(*rows, strict=True)))
        else:
            conn.exec_driver_sql(statement, rows)  # type: ignore[arg-type]

    # writing

    def write(self, points: Sequence[Point]) -> None:
        try:
            with self._write_transaction() as conn:
                self.write_in(conn, points)
        except Exception:
            self.forget()
            raise

    def write_in(self, conn: Connection, points: Sequence[Point]) -> None:
        """Write inside the caller's transaction; call forget() if that transaction rolls back."""
        if not points:
            return
        ids = self._series_ids(conn, {(p.site, p.machine, p.tag) for p in points})
        rows = [(ids[(p.site, p.machine, p.tag)], p.ts_ms, p.value) for p in points]
        self._execute(conn, self._insert_points, rows)
        self._execute(conn, self._upsert_rollups, _rollups(rows))

    @contextmanager
    def _write_transaction(self) -> Iterator[Connection]:
        """A transaction that holds SQLite's write lock from its start (BEGIN IMMEDIATE)."""
        options = {SQLITE_BEGIN: "IMMEDIATE"} if self.engine.dialect.name == "sqlite" else {}
        with self.engine.connect().execution_options(**options) as conn, conn.begin():
            yield conn

    def forget(self) -> None:
        """Drop cached series ids (a rolled-back transaction may have created some)."""
        self._series.clear()

    def _series_ids(self, conn: Connection, keys: Iterable[SeriesKey]) -> dict[SeriesKey, int]:
        missing = [key for key in keys if key not in self._series]
        if missing:
            conn.exec_driver_sql(
                f"INSERT INTO historian_series (site, machine, tag) VALUES ({self._marks(3)}) "
                "ON CONFLICT (site, machine, tag) DO NOTHING",
                missing,  # type: ignore[arg-type]
            )
            for key in missing:
                found = conn.execute(
                    text("SELECT id FROM historian_series WHERE site = :s AND machine = :m AND tag = :t"),
                    {"s": key[0], "m": key[1], "t": key[2]},
                ).scalar_one()
                self._series[key] = int(found)
        return self._series

    def _series_id(self, conn: Connection, site: str, machine: str, tag: str) -> int | None:
        key = (site, machine, tag)
        if key in self._series:
            return self._series[key]
        found = conn.execute(
            text("SELECT id FROM historian_series WHERE site = :s AND machine = :m AND tag = :t"),
            {"s": site, "m": machine, "t": tag},
        ).scalar_one_or_none()
        return None if found is None else int(found)

    # reading

    def query(
        self,
        site: str,
        machine: str,
        tag: str,
        start_ms: int,
        end_ms: int,
        step_ms: int,
        agg: Aggregate = "avg",
    ) -> list[tuple[int, float]]:
        check_query(start_ms, end_ms, step_ms, agg)
        with self.engine.connect() as conn:
            series = self._series_id(conn, site, machine, tag)
            if series is None:
                return []
            use_rollups = step_ms >= MINUTE_MS and end_ms - start_ms >= self.rollup_min_range_ms
            if use_rollups:
                sql = (
                    f"SELECT (bucket_ms - :start) / :step AS b, {_ROLLUP_AGG[agg]} FROM historian_rollup "
                    "WHERE series_id = :sid AND bucket_ms >= :start AND bucket_ms < :end "
                    "GROUP BY b ORDER BY b"
                )
            else:
                sql = (
                    f"SELECT (ts_ms - :start) / :step AS b, {_RAW_AGG[agg]} FROM historian_point "
                    "WHERE series_id = :sid AND ts_ms >= :start AND ts_ms < :end GROUP BY b ORDER BY b"
                )
            params = {"sid": series, "start": start_ms, "end": end_ms, "step": step_ms}
            rows = conn.execute(text(sql), params).all()
        return [(start_ms + int(b) * step_ms, float(v)) for b, v in rows if v is not None]

    def latest(self, site: str, machine: str, tag: str) -> tuple[int, float] | None:
        with self.engine.connect() as conn:
            series = self._series_id(conn, site, machine, tag)
            if series is None:
                return None
            row = conn.execute(
                text(
                    "SELECT ts_ms, value FROM historian_point WHERE series_id = :sid "
                    "ORDER BY ts_ms DESC LIMIT 1"
                ),
                {"sid": series},
            ).first()
        return None if row is None else (int(row[0]), float(row[1]))

    # retention

    def apply_retention(self, now_ms: int) -> int:
        """Per series: delete raw points older than min(now, newest point) - retention, same for rollups.

        Relative to the newest point too, so a server whose clock jumps ahead, or a series that stopped
        reporting, never loses its last `retention_days` of data. Each series' newest and oldest rows are
        index seeks (no scan of the table), and rows go in transactions of at most `RETENTION_BATCH`, so
        ingestion, which shares SQLite's one writer, waits for one small delete, never for the whole job.
        """
        with self.engine.connect() as conn:
            series = [int(r[0]) for r in conn.execute(text("SELECT id FROM historian_series ORDER BY id"))]
        deleted = 0
        for sid in series:
            deleted += self._prune(sid, "historian_point", "ts_ms", now_ms, self.retention_ms)
            deleted += self._prune(sid, "historian_rollup", "bucket_ms", now_ms, self.rollup_ms)
        if deleted:
            log.info("historian retention deleted %d rows", deleted)
        self._refresh_statistics()
        return deleted

    def _refresh_statistics(self) -> None:
        """SQLite plans from statistics only after ANALYZE, which nothing else runs: without them, a window
        over every machine's count ledger scanned all of it (boss page p95 1.3 s after a year, 0.13 s with
        them; make bench-year). Sampled (analysis_limit) it takes ~40 ms for a year; PostgreSQL's
        autovacuum keeps its own."""
        if self.engine.dialect.name != "sqlite":
            return
        with self._write_transaction() as conn:
            conn.exec_driver_sql("PRAGMA analysis_limit = 1000")
            conn.exec_driver_sql("ANALYZE")

    def _prune(self, sid: int, table: str, ts_column: str, now_ms: int, keep_ms: int) -> int:
        """Delete series `sid`'s rows of `table` (a fixed name, never input) older than min(now, its newest
        row) minus `keep_ms`, oldest first, `RETENTION_BATCH` rows per transaction; the number deleted."""
        where = f"FROM {table} WHERE series_id = :sid"
        with self.engine.connect() as conn:
            newest = conn.execute(text(f"SELECT MAX({ts_column}) {where}"), {"sid": sid}).scalar()
        if newest is None:
            return 0
        cutoff = min(now_ms, int(newest)) - keep_ms
        deleted = 0
        while True:
            with self._write_transaction() as conn:
                params = {"sid": sid, "cutoff": cutoff, "skip": RETENTION_BATCH}
                bound = conn.execute(
                    text(f"SELECT {ts_column} {where} AND {ts_column} < :cutoff ORDER BY {ts_column} "
                         "LIMIT 1 OFFSET :skip"),
                    params,
                ).scalar()  # fmt: skip
                upper = cutoff if bound is None else int(bound)
                result = conn.execute(
                    text(f"DELETE {where} AND {ts_column} < :upper"), {"sid": sid, "upper": upper}
                )
                deleted += result.rowcount
            if bound is None:
                return deleted

    def close(self) -> None:
        self.forget()


def check_query(start_ms: int, end_ms: int, step_ms: int, agg: str, max_buckets: int = 20_000) -> None:
    if agg not in AGGREGATES:
        raise HistorianQueryError(f"aggregate must be one of {', '.join(AGGREGATES)}, not {agg!r}")
    if step_ms <= 0:
        raise HistorianQueryError(f"step must be positive, not {step_ms} ms")
    if end_ms <= start_ms:
        raise HistorianQueryError(f"end ({end_ms}) must be after start ({start_ms})")
    if (end_ms - start_ms) // step_ms > max_buckets:
        raise HistorianQueryError(f"more than {max_buckets} buckets; use a larger step")


def _rollups(rows: Sequence[tuple[int, int, float]]) -> list[tuple[int, int, float, float, float, int]]:
    """Group (series_id, ts_ms, value) rows into 1-minute (series, bucket, min, max, sum, count)."""
    buckets: dict[tuple[int, int], list[float]] = {}
    for sid, ts, value in rows:
        key = (sid, ts - ts % MINUTE_MS)
        agg = buckets.get(key)
        if agg is None:
            buckets[key] = [value, value, value, 1.0]
        else:
            if value < agg[0]:
                agg[0] = value
            if value > agg[1]:
                agg[1] = value
            agg[2] += value
            agg[3] += 1.0
    return [(sid, b, a[0], a[1], a[2], int(a[3])) for (sid, b), a in buckets.items()]

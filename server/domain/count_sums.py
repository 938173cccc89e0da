"""Sums of the count ledger over time spans: whole UTC hours from `ingest_count_hour` (the ledger summed
per machine, operation and hour by triggers), the spans' partial hours from the ledger itself.

A month of 50 machines is ~36k hour rows where the ledger holds one row per count batch (640k with a row
per 3 running minutes, and more on a real line); the answer is the same to the part
(tests/server/reports/test_count_sums.py).
"""

from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy import text
from sqlmodel import Session

HOUR_MS = 3_600_000
Span = tuple[int, int, int, int]  # (key, machine_id, start_ms, end_ms)
Sum = tuple[int, int | None, int, int]  # (key, operation_id or None, good, scrap)


def split(start: int, end: int) -> tuple[list[tuple[int, int]], tuple[int, int] | None]:
    """[start, end) as (its partial-hour edges, its whole hours or None)."""
    first, last = -(-start // HOUR_MS) * HOUR_MS, end // HOUR_MS * HOUR_MS
    if first >= last:
        return [(start, end)], None
    return [(a, b) for a, b in ((start, first), (last, end)) if a < b], (first, last)


def by_machine(session: Session, spans: Sequence[Span]) -> list[Sum]:
    """Ledger sums per (span key, operation) for spans (key, machine_id, start_ms, end_ms)."""
    return _sums(session, spans, per_machine=True)


def by_operation(session: Session, spans: Sequence[tuple[int, int, int]]) -> list[Sum]:
    """Ledger sums of every machine per (span key, operation) for spans (key, start_ms, end_ms); counts
    without an operation are left out."""
    sums = _sums(session, [(k, 0, s, e) for k, s, e in spans], per_machine=False)
    return [row for row in sums if row[1] is not None]


def _sums(session: Session, spans: Sequence[Span], per_machine: bool) -> list[Sum]:
    """Each table is read once per distinct time window (shifts are the site's: a month of 50 machines has
    ~120 windows, not 6,000 spans), every machine at once on the time index, and the rows are handed to
    the spans of their window and machine. Joining per (machine, span) left the plan to PostgreSQL, which
    hash-joined on the machine and compared every row with each of its machine's spans (0.22 s for a
    month) or read the time index per span for every machine (1.4 s with shifts at half past)."""
    edges: dict[tuple[int, int], dict[int, list[int]]] = defaultdict(lambda: defaultdict(list))
    hours: dict[tuple[int, int], dict[int, list[int]]] = defaultdict(lambda: defaultdict(list))
    for key, machine, start, end in spans:
        parts, whole = split(start, end)
        for window in parts:
            edges[window][machine if per_machine else 0].append(key)
        if whole is not None:
            hours[whole][machine if per_machine else 0].append(key)
    machines = sorted({m for _, m, _, _ in spans}) if per_machine else []
    out: dict[tuple[int, int | None], list[int]] = defaultdict(lambda: [0, 0])
    for windows, table, ts in (
        (edges, "ingest_count_event", "ts_ms"),
        (hours, "ingest_count_hour", "hour_ms"),
    ):
        if not windows:
            continue
        order = list(windows.values())  # window n: machine (0: any) -> the keys of its spans
        values = ",".join(f"({n},{int(s)},{int(e)})" for n, (s, e) in enumerate(windows))
        only = f"AND c.machine_id IN ({','.join(str(int(m)) for m in machines)}) " if machines else ""
        in_window = f"c.{ts} >= win.s AND c.{ts} < win.e {only}"
        # one index range per window. SQLite plans the join so; PostgreSQL, which cannot estimate a join on
        # VALUES, scanned a year of hour rows (0.3 s for a day's report) or compared a month's with every
        # window (0.3 s for month OEE), so it is told: LATERAL, kept a subquery by OFFSET 0 (1-20 ms)
        rows = (
            f"CROSS JOIN LATERAL (SELECT * FROM {table} c WHERE {in_window} OFFSET 0) c"  # 0: not pulled up
            if session.get_bind().dialect.name == "postgresql"
            else f"JOIN {table} c ON {in_window}"
        )
        sql = (
            f"WITH win(w, s, e) AS (VALUES {values}) "
            f"SELECT win.w, c.machine_id, c.operation_id, SUM(c.good), SUM(c.scrap) FROM win {rows} "
            "GROUP BY win.w, c.machine_id, c.operation_id"
        )
        for w, machine, op, good, scrap in session.connection().execute(text(sql)):
            for key in order[int(w)].get(int(machine) if per_machine else 0, ()):
                total = out[(key, int(op) if op else None)]  # the hour table's operation 0: none
                total[0] += int(good or 0)
                total[1] += int(scrap or 0)
    return [(k, op, good, scrap) for (k, op), (good, scrap) in out.items()]

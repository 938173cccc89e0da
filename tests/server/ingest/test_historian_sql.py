"""The sql historian on SQLite and PostgreSQL: writes, range queries, steps, latest, rollups, retention."""

import pytest
from sqlalchemy import Engine, func
from sqlmodel import Session, select

from server.historian.base import Point
from server.historian.errors import HistorianQueryError
from server.historian.sql import DAY_MS, MINUTE_MS, SqlHistorian
from server.models.ingest import HistorianPoint, HistorianRollup

T0 = 1_700_000_000_000 - 1_700_000_000_000 % MINUTE_MS  # minute-aligned


def series(
    machine: str, tag: str, start: int, count: int, every_ms: int, value=lambda i: float(i)
) -> list[Point]:  # type: ignore[no-untyped-def]
    return [Point("demo", machine, tag, start + i * every_ms, value(i)) for i in range(count)]


def test_write_query_with_step_aggregation_and_latest(engine: Engine) -> None:
    hist = SqlHistorian(engine)
    hist.write(series("m1", "temperature", T0, 60, 1000))  # 0..59 once a second
    hist.write(series("m2", "temperature", T0, 60, 1000, value=lambda i: 100.0))  # another series
    assert hist.query("demo", "m1", "temperature", T0, T0 + 60_000, 10_000) == [
        (T0 + k * 10_000, k * 10 + 4.5) for k in range(6)
    ]
    assert hist.query("demo", "m1", "temperature", T0, T0 + 60_000, 30_000, "max") == [
        (T0, 29.0),
        (T0 + 30_000, 59.0),
    ]
    assert hist.query("demo", "m1", "temperature", T0 + 5000, T0 + 20_000, 10_000, "min") == [
        (T0 + 5000, 5.0), (T0 + 15_000, 15.0)
    ]  # fmt: skip
    assert hist.latest("demo", "m1", "temperature") == (T0 + 59_000, 59.0)
    assert hist.latest("demo", "m1", "nothing") is None
    assert hist.query("demo", "zz", "temperature", T0, T0 + 1000, 100) == []
    # a re-sent sample with the same timestamp is stored once
    hist.write([Point("demo", "m1", "temperature", T0, 0.0)])
    with Session(engine) as session:
        assert session.exec(select(func.count()).select_from(HistorianPoint)).one() == 120


def test_long_ranges_read_the_one_minute_rollups(engine: Engine) -> None:
    hist = SqlHistorian(engine, rollup_min_range_ms=6 * 3600 * 1000)
    # 8 hours, one sample every 20 s: value = the hour
    hist.write(series("m1", "power", T0, 8 * 180, 20_000, value=lambda i: float(i // 180)))
    with Session(engine) as session:
        rollups = session.exec(select(func.count()).select_from(HistorianRollup)).one()
        assert rollups == 8 * 60
        first = session.exec(select(HistorianRollup).order_by(HistorianRollup.bucket_ms)).first()  # type: ignore[arg-type]
        assert first is not None and (first.n, first.vmin, first.vmax, first.vsum) == (3, 0.0, 0.0, 0.0)
    # prove the long query reads rollups: delete the raw points, the hourly answer is unchanged
    with Session(engine) as session:
        session.execute(HistorianPoint.__table__.delete())  # type: ignore[attr-defined]
        session.commit()
    hourly = hist.query("demo", "m1", "power", T0, T0 + 8 * 3600_000, 3600_000)
    assert hourly == [(T0 + h * 3600_000, float(h)) for h in range(8)]
    assert hist.query("demo", "m1", "power", T0, T0 + 8 * 3600_000, 3600_000, "max")[-1] == (
        T0 + 7 * 3600_000,
        7.0,
    )
    # a short range reads raw points (gone now)
    assert hist.query("demo", "m1", "power", T0, T0 + 3600_000, 60_000) == []


def test_rollups_merge_later_writes_into_the_same_minute(engine: Engine) -> None:
    hist = SqlHistorian(engine, rollup_min_range_ms=0)
    hist.write([Point("demo", "m1", "t", T0 + 1000, 5.0), Point("demo", "m1", "t", T0 + 2000, 7.0)])
    hist.write([Point("demo", "m1", "t", T0 + 3000, 1.0), Point("demo", "m1", "t", T0 + 4000, 11.0)])
    assert hist.query("demo", "m1", "t", T0, T0 + MINUTE_MS, MINUTE_MS, "avg") == [(T0, 6.0)]
    assert hist.query("demo", "m1", "t", T0, T0 + MINUTE_MS, MINUTE_MS, "min") == [(T0, 1.0)]
    assert hist.query("demo", "m1", "t", T0, T0 + MINUTE_MS, MINUTE_MS, "max") == [(T0, 11.0)]


def test_retention_is_relative_to_the_newest_sample_and_the_wall_clock(engine: Engine) -> None:
    hist = SqlHistorian(engine, retention_days=2, rollup_days=4, rollup_min_range_ms=10 * DAY_MS)  # raw reads
    day = DAY_MS
    hist.write([Point("demo", "m1", "t", T0 + d * day, float(d)) for d in range(6)])  # days 0..5
    hist.write([Point("demo", "m2", "t", T0, 1.0)])  # a series that stopped reporting long ago
    # wall clock far in the future: only the newest sample of each series counts -> keep its last 2 days
    deleted = hist.apply_retention(now_ms=T0 + 365 * day)
    assert hist.query("demo", "m1", "t", T0, T0 + 6 * day, day) == [
        (T0 + d * day, float(d)) for d in (3, 4, 5)
    ]
    assert hist.latest("demo", "m2", "t") == (T0, 1.0)
    assert deleted >= 3
    # wall clock behind the newest sample (a clock set back): nothing newer than now - retention goes
    hist.apply_retention(now_ms=T0 + 2 * day)
    assert [v for _, v in hist.query("demo", "m1", "t", T0, T0 + 6 * day, day)] == [3.0, 4.0, 5.0]
    # rollups are kept longer (4 days before the newest): days 1..5 remain
    with Session(engine) as session:
        buckets = session.exec(select(HistorianRollup.bucket_ms).where(HistorianRollup.series_id == 1)).all()
    assert sorted((b - T0) // day for b in buckets) == [1, 2, 3, 4, 5]


def test_retention_deletes_in_small_transactions_to_the_exact_cutoff(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Batches of RETENTION_BATCH rows (7 here) end at the cutoff, none kept or lost at their seams."""
    monkeypatch.setattr("server.historian.sql.RETENTION_BATCH", 7)
    hist = SqlHistorian(engine, retention_days=1, rollup_days=1, rollup_min_range_ms=10 * DAY_MS)
    minutes = 2 * 24 * 60  # two days, one sample a minute
    hist.write([Point("demo", "m1", "t", T0 + i * MINUTE_MS, float(i)) for i in range(minutes)])
    newest = T0 + (minutes - 1) * MINUTE_MS
    deleted = hist.apply_retention(now_ms=newest)
    kept = hist.query("demo", "m1", "t", T0, newest + 1, MINUTE_MS)
    assert kept[0][0] == newest - DAY_MS and kept[-1][0] == newest
    assert len(kept) == 24 * 60 + 1
    assert deleted == 2 * (minutes - len(kept))  # the same minutes of raw points and of rollups


@pytest.mark.parametrize(
    ("start", "end", "step", "agg"),
    [(10, 5, 1, "avg"), (0, 10, 0, "avg"), (0, 10, 1, "median"), (0, 10**9, 1, "avg")],
)
def test_bad_queries_are_refused(engine: Engine, start: int, end: int, step: int, agg: str) -> None:
    with pytest.raises(HistorianQueryError):
        SqlHistorian(engine).query("demo", "m1", "t", start, end, step, agg)  # type: ignore[arg-type]

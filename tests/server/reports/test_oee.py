"""OEE terms against hand-computed fixtures (docs/oee.md)."""

from datetime import date, time

import pytest
from sqlmodel import Session

from server.core.db import init_db, make_engine
from server.domain import oee
from tests.server.reports import support as f
from tests.server.reports.support import HOUR, MIN, ms

MONDAY = date(2026, 11, 23)
NOW = ms("2026-12-01 00:00")


def _rows(session: Session, first: date = MONDAY, last: date = MONDAY, **kw: object) -> list[oee.OeeRow]:
    return oee.oee_rows(session, oee.site_of(session, None), first, last, now=NOW, **kw)  # type: ignore[arg-type]


def _day_shift_plant(session: Session) -> tuple[f.Machine, f.Operation]:
    s = f.site(session)
    f.shift(session, s, "day", "08:00", "16:00", days="1,2,3,4,5", breaks=[("12:00", "12:30")])
    m = f.machine(session, s, "lathe-1", ideal=30.0)
    op = f.operation(session, "WO-1", ideal=20.0, m=m)
    t = lambda hm: ms(f"2026-11-23 {hm}")  # noqa: E731
    f.timeline(
        session,
        m,
        [
            ("running", t("07:00"), t("10:00")),
            ("fault", t("10:00"), t("11:00")),
            ("running", t("11:00"), t("12:00")),
            ("idle", t("12:00"), t("12:30")),
            ("running", t("12:30"), t("15:00")),
            ("setup", t("15:00"), t("15:30")),
            ("running", t("15:30"), t("15:45")),
            ("idle", t("15:45"), t("15:46")),
            ("running", t("15:46"), None),
        ],
    )
    f.count(session, m, t("09:00"), 500, 20, op)
    f.count(session, m, t("13:00"), 100)
    f.count(session, m, t("12:10"), 7)  # during the break: outside planned time
    f.count(session, m, t("16:00"), 9)  # at the shift's end: the next span's
    f.count(session, m, t("07:59"), 3)  # before the shift
    return m, op


def test_each_term_of_a_day_shift(session: Session) -> None:
    _day_shift_plant(session)
    [row] = _rows(session)
    fig = row.figures
    assert (row.machine, row.shift, row.day) == ("lathe-1", "day", MONDAY)
    assert fig.planned_ms == 450 * MIN
    assert (fig.run_ms, fig.fault_ms, fig.setup_ms, fig.idle_ms) == (359 * MIN, 60 * MIN, 30 * MIN, 1 * MIN)
    assert fig.unclassified_ms == 0
    assert (fig.micro_stops, fig.micro_stop_ms) == (1, 1 * MIN)
    assert fig.downtime_ms == 90 * MIN
    assert (fig.good, fig.scrap) == (600, 20)
    assert fig.ideal_ms == pytest.approx((520 * 20 + 100 * 30) * 1000)
    assert fig.availability == pytest.approx(359 / 450)
    assert fig.performance == pytest.approx(13_400 / (359 * 60))
    assert fig.quality == pytest.approx(600 / 620)
    assert fig.oee == pytest.approx(359 / 450 * 13_400 / (359 * 60) * 600 / 620)


def test_micro_stop_threshold_is_configurable(session: Session) -> None:
    _day_shift_plant(session)
    [row] = _rows(session, micro_stop_s=30)
    assert (row.figures.micro_stops, row.figures.micro_stop_ms) == (0, 0)
    assert row.figures.downtime_ms == 91 * MIN


def test_no_data_is_unclassified_and_weekend_has_no_plan(session: Session) -> None:
    s = f.site(session)
    f.shift(session, s, "day", "08:00", "16:00", days="1,2,3,4,5")
    m = f.machine(session, s, "m1")
    f.timeline(
        session,
        m,
        [
            ("running", ms("2026-11-23 08:00"), ms("2026-11-23 12:00")),
            ("offline", ms("2026-11-23 12:00"), ms("2026-11-23 13:00")),
        ],
    )
    rows = _rows(session, MONDAY, date(2026, 11, 29))
    assert rows[0].figures.run_ms == 4 * HOUR and rows[0].figures.unclassified_ms == 4 * HOUR
    weekend = [r for r in rows if r.day.isoweekday() >= 6]
    assert [(r.shift, r.figures.planned_ms) for r in weekend] == [(None, 0), (None, 0)]


def test_machine_without_plan_is_undefined_not_a_division_by_zero(session: Session) -> None:
    s = f.site(session)
    m = f.machine(session, s, "m1")
    f.timeline(session, m, [("running", ms("2026-11-23 08:00"), ms("2026-11-23 12:00"))])
    f.count(session, m, ms("2026-11-23 09:00"), 50)
    [row] = _rows(session)
    fig = row.figures
    assert row.shift is None and fig.planned_ms == 0
    assert (fig.availability, fig.performance, fig.oee) == (None, None, None)
    assert oee.by_day([row])[0].figures.oee is None


def test_ratios_undefined_without_run_or_parts(session: Session) -> None:
    s = f.site(session)
    f.shift(session, s, "day", "08:00", "16:00")
    f.machine(session, s, "m1", ideal=None)
    [row] = _rows(session)
    fig = row.figures
    assert fig.availability == 0.0 and fig.performance is None and fig.quality is None
    assert fig.oee == 0.0  # planned, nothing made


def test_unknown_ideal_cycle_makes_performance_undefined(session: Session) -> None:
    s = f.site(session)
    f.shift(session, s, "day", "08:00", "16:00")
    m = f.machine(session, s, "m1", ideal=None)
    f.timeline(session, m, [("running", ms("2026-11-23 08:00"), ms("2026-11-23 16:00"))])
    f.count(session, m, ms("2026-11-23 09:00"), 50)
    [row] = _rows(session)
    assert row.figures.availability == 1.0 and row.figures.performance is None and row.figures.oee is None


def test_night_shift_crossing_midnight_in_site_timezone(session: Session) -> None:
    s = f.site(session, tz="Asia/Shanghai")
    f.shift(session, s, "night", "22:00", "06:00", days="1", breaks=[("02:00", "02:30")])
    m = f.machine(session, s, "m1", ideal=60.0)
    sh = "Asia/Shanghai"
    f.timeline(
        session,
        m,
        [
            ("running", ms("2026-11-23 20:00", sh), ms("2026-11-24 03:00", sh)),
            ("fault", ms("2026-11-24 03:00", sh), ms("2026-11-24 07:00", sh)),
        ],
    )
    f.count(session, m, ms("2026-11-24 01:00", sh), 240)  # after midnight: still Monday's night shift
    f.count(session, m, ms("2026-11-24 02:10", sh), 5)  # in the break
    [row] = _rows(session)
    assert row.start_ms == ms("2026-11-23 14:00") and row.end_ms == ms("2026-11-23 22:00")  # UTC
    fig = row.figures
    assert fig.planned_ms == 450 * MIN
    assert (fig.run_ms, fig.fault_ms) == (270 * MIN, 180 * MIN)
    assert fig.good == 240 and fig.performance == pytest.approx(240 * 60 / (270 * 60))


def test_night_shift_over_a_daylight_saving_change() -> None:
    night = oee.ShiftDef(1, "night", time(22), time(6), frozenset({6}))
    [w] = oee.shift_windows([night], "Europe/Berlin", date(2026, 10, 24), date(2026, 10, 24))
    assert w.end_ms - w.start_ms == 9 * HOUR  # clocks go back at 03:00 on 25 Oct 2026


def test_fault_spanning_two_shifts_is_split_at_the_boundary(session: Session) -> None:
    s = f.site(session)
    f.shift(session, s, "early", "06:00", "14:00")
    f.shift(session, s, "late", "14:00", "22:00")
    m = f.machine(session, s, "m1")
    f.timeline(
        session,
        m,
        [
            ("running", ms("2026-11-23 06:00"), ms("2026-11-23 13:00")),
            ("fault", ms("2026-11-23 13:00"), ms("2026-11-23 15:00")),
            ("running", ms("2026-11-23 15:00"), ms("2026-11-23 22:00")),
        ],
    )
    early, late = _rows(session)
    assert (early.shift, early.figures.fault_ms, early.figures.run_ms) == ("early", HOUR, 7 * HOUR)
    assert (late.shift, late.figures.fault_ms, late.figures.run_ms) == ("late", HOUR, 7 * HOUR)
    [day] = oee.by_day([early, late])
    assert day.figures.planned_ms == 16 * HOUR and day.figures.availability == pytest.approx(14 / 16)


def test_late_replayed_count_changes_only_its_shift(session: Session) -> None:
    s = f.site(session)
    f.shift(session, s, "early", "06:00", "14:00")
    f.shift(session, s, "late", "14:00", "22:00")
    m = f.machine(session, s, "m1", ideal=60.0)
    f.timeline(session, m, [("running", ms("2026-11-23 06:00"), ms("2026-11-23 22:00"))])
    f.count(session, m, ms("2026-11-23 15:00"), 100)
    before = [r.figures.good for r in _rows(session)]
    f.count(session, m, ms("2026-11-23 07:00"), 40, 2)  # arrives later, stamped earlier (edge replay)
    early, late = _rows(session)
    assert before == [0, 100]
    assert (early.figures.good, early.figures.scrap, late.figures.good) == (40, 2, 100)
    assert early.figures.performance == pytest.approx(42 * 60 / (8 * 3600))


def test_subtract_and_stops_are_pure() -> None:
    assert oee.subtract((0, 100), [(10, 20), (15, 30), (90, 200)]) == ((0, 10), (30, 90))
    segs = [("running", 0, 5), ("idle", 5, 7), ("fault", 7, 9), ("running", 9, 10), ("idle", 12, 13)]
    assert oee.stops(segs) == [(5, 9), (12, 13)]


def test_oee_rows_on_postgresql(pg_url_fresh: str) -> None:
    eng = make_engine(pg_url_fresh)
    init_db(eng)
    with Session(eng) as session:
        _day_shift_plant(session)
        [row] = _rows(session)
        assert (row.figures.run_ms, row.figures.good, row.figures.scrap) == (359 * MIN, 600, 20)
    eng.dispose()

"""SPC limits and Western Electric rules against hand-computed values."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session

from server.domain import spc
from server.models.quality import Characteristic, InspectionPlan, InspectionRecord, InspectionValue
from tests.server.reports import support as f


def _chart(values: list[float], spread: list[float | None] | None = None) -> spc.Chart:
    """A chart with CL 0 and sigma 1 (UCL 3, LCL -3), range chart CL 2, UCL 4."""
    return spc.Chart("imr", 1, values, spread or [None] * len(values), cl=0, ucl=3, lcl=-3, r_cl=2, r_ucl=4)


def _found(chart: spc.Chart) -> list[tuple[int, str]]:
    return [(v.index, v.rule) for v in spc.rules(chart)]


def test_xbar_r_limits_from_the_table() -> None:
    groups = [[9, 10, 11, 10, 10], [10, 10, 10, 10, 10], [9.5, 10.5, 10, 10, 10], [10, 11, 10, 9, 10]]
    chart = spc.xbar_r(groups)
    assert chart.kind == "xbar_r" and chart.n == 5
    assert chart.centre == [10, 10, 10, 10] and chart.spread == [2, 0, 1, 2]
    assert chart.cl == pytest.approx(10) and chart.r_cl == pytest.approx(1.25)
    assert (chart.ucl, chart.lcl) == (pytest.approx(10 + 0.577 * 1.25), pytest.approx(10 - 0.577 * 1.25))
    assert (chart.r_ucl, chart.r_lcl) == (pytest.approx(2.114 * 1.25), 0.0)
    assert chart.violations == []


def test_xbar_r_d3_is_used_from_n_7() -> None:
    chart = spc.xbar_r([[1, 2, 3, 4, 5, 6, 7], [2, 3, 4, 5, 6, 7, 8]])
    assert chart.r_lcl == pytest.approx(0.076 * 6) and chart.r_ucl == pytest.approx(1.924 * 6)


def test_individuals_moving_range() -> None:
    chart = spc.imr([10, 12, 11, 13])
    assert chart.spread == [None, 2, 1, 2]
    assert chart.cl == pytest.approx(11.5) and chart.r_cl == pytest.approx(5 / 3)
    assert chart.ucl == pytest.approx(11.5 + 2.66 * 5 / 3) and chart.r_ucl == pytest.approx(3.267 * 5 / 3)


def test_unequal_or_too_small_subgroups_are_refused() -> None:
    with pytest.raises(ValueError):
        spc.xbar_r([[1, 2], [1, 2, 3]])
    with pytest.raises(ValueError):
        spc.imr([1.0])


def test_rule_1_beyond_three_sigma() -> None:
    assert _found(_chart([0, 3.5, 0, -3.2])) == [(1, "1"), (3, "1")]


def test_rule_2_two_of_three_beyond_two_sigma() -> None:
    assert _found(_chart([0, 2.5, 0, 2.5])) == [(3, "2")]
    assert _found(_chart([0, 2.5, -2.5, 0])) == []  # opposite sides


def test_rule_3_four_of_five_beyond_one_sigma() -> None:
    assert _found(_chart([1.5, 1.5, 0, 1.5, 1.5])) == [(4, "3")]


def test_rule_4_run_of_eight_on_one_side() -> None:
    assert _found(_chart([0.5] * 7)) == []
    assert _found(_chart([0.5] * 8)) == [(7, "4")]
    assert _found(_chart([-0.5] * 4 + [0.0] + [-0.5] * 8)) == [(12, "4")]


def test_rule_1_on_the_range_chart() -> None:
    assert _found(_chart([0, 0], [None, 5])) == [(1, "R1")]


def _plan(session: Session, n: int) -> Characteristic:
    op = f.operation(session, "WO-Q", ideal=None)
    plan = InspectionPlan(
        product_id=1, name="diameters", frequency="every_n_parts", frequency_n=50, sample_size=n
    )
    session.add(plan)
    session.commit()
    char = Characteristic(plan_id=plan.id or 0, name="D1", nominal=40.0, lsl=39.9, usl=40.1, unit="mm")
    session.add(char)
    session.commit()
    assert op.work_order_id == 1
    return char


def _record(session: Session, char: Characteristic, values: list[float], minute: int) -> None:
    at = datetime(2026, 11, 23, 8, tzinfo=UTC) + timedelta(minutes=minute)
    rec = InspectionRecord(plan_id=char.plan_id, work_order_id=1, inspector="qc1", passed=True, created_at=at)
    session.add(rec)
    session.commit()
    for i, v in enumerate(values, start=1):
        row = InspectionValue(
            record_id=rec.id or 0, characteristic_id=char.id or 0, sample_no=i, value=v, passed=True
        )
        session.add(row)
    session.commit()


def test_series_from_records_and_boss_flag(session: Session) -> None:
    char = _plan(session, 3)
    for i, base in enumerate([40.00, 40.01, 39.99, 40.00, 40.01, 40.00]):
        _record(session, char, [base - 0.01, base, base + 0.01], i)
    _record(session, char, [40.0, 40.0], 50)  # incomplete subgroup: skipped
    s = spc.series(session, char.id or 0)
    assert len(s.subgroups) == 6 and s.skipped == 1
    chart = spc.chart_of(s)
    assert chart is not None and chart.kind == "xbar_r" and chart.r_cl == pytest.approx(0.02)
    assert spc.out_of_control_count(session) == 0
    _record(session, char, [40.09, 40.10, 40.11], 60)  # a shifted subgroup
    flagged = spc.out_of_control(session)
    assert [c.name for c, _ in flagged] == ["D1"]
    assert (6, "1") in [(v.index, v.rule) for v in flagged[0][1].violations]
    assert spc.out_of_control_count(session) == 1


def test_individuals_series_when_sample_size_is_one(session: Session) -> None:
    char = _plan(session, 1)
    for i, v in enumerate([40.0, 40.02, 39.98]):
        _record(session, char, [v], i)
    chart = spc.chart_of(spc.series(session, char.id or 0))
    assert chart is not None and chart.kind == "imr" and chart.centre == [40.0, 40.02, 39.98]


def test_series_reads_a_second_page_when_the_newest_records_are_incomplete(session: Session) -> None:
    """`last` subgroups, oldest first, even when incomplete records sit among the newest `last`; never more
    than 2 x `last` records read."""
    char = _plan(session, 2)
    for minute in range(12):
        values = [40.0] if minute in (9, 10) else [40.0 + minute / 100, 40.0]  # two incomplete, newest
        _record(session, char, values, minute)
    s = spc.series(session, char.id or 0, last=4)
    # the newest 4 (minutes 11-8) hold two complete; the next 4 give minutes 7 and 6
    assert [g[0] for g in s.subgroups] == [40.06, 40.07, 40.08, 40.11]
    assert s.labels == ["11-23 08:06", "11-23 08:07", "11-23 08:08", "11-23 08:11"]  # UTC: no site zone
    assert s.skipped == 2
    assert len(spc.series(session, char.id or 0, last=1).subgroups) == 1
    few = spc.series(session, char.id or 0, last=3)  # the newest 3 hold one complete, the next 3 the rest
    assert [g[0] for g in few.subgroups] == [40.07, 40.08, 40.11] and few.skipped == 2

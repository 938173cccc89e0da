"""Report tables (daily production, Paretos, on-time delivery, open NCs) and certificates, hand-computed."""

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlmodel import Session

from server.domain import certificates, named_reports, report_queries
from server.domain.report_tables import cell_text, to_csv, to_xlsx
from server.models.auth import ShareLink, User
from server.models.catalog import ReasonCode
from server.models.production import WorkOrder, WorkReport
from server.models.quality import (
    Characteristic,
    InspectionPlan,
    InspectionRecord,
    InspectionValue,
    Nonconformance,
)
from tests.server.reports import support as f
from tests.server.reports.support import MIN, ms

DAY = date(2026, 11, 23)


def _plant(session: Session) -> tuple[f.Site, f.Machine, f.Operation]:
    s = f.site(session)
    f.shift(session, s, "early", "06:00", "14:00")
    f.shift(session, s, "late", "14:00", "22:00")
    m = f.machine(session, s, "m1")
    op = f.operation(session, "WO-1", ideal=20.0, m=m)
    for kind, code, zh, en in [
        ("scrap", "burr", "毛刺", "burr"),
        ("scrap", "dent", "凹痕", "dent"),
        ("downtime", "tool_change", "换刀", "tool change"),
    ]:
        session.add(ReasonCode(kind=kind, code=code, label_zh=zh, label_en=en))
    session.add(User(username="wang", display_name="Wang Fang", role="operator"))
    session.add(User(username="qc1", display_name="Zhou Min", role="inspector"))
    session.commit()
    return s, m, op


def _report(
    session: Session, op: f.Operation, at: str, good: int, scrap: int = 0, reason: str | None = None
) -> None:
    session.add(
        WorkReport(
            work_order_id=op.work_order_id,
            operation_id=op.id or 0,
            operator_id=1,
            good=good,
            scrap=scrap,
            scrap_reason=reason,
            ts_ms=ms(at),
        )
    )
    session.commit()


def test_daily_production_by_shift_order_machine_operator(session: Session) -> None:
    s, m, op = _plant(session)
    f.count(session, m, ms("2026-11-23 06:30"), 10, 1, op)
    f.count(session, m, ms("2026-11-23 13:59"), 4, 0, op)
    f.count(session, m, ms("2026-11-23 15:00"), 5, 0, op)
    f.count(session, m, ms("2026-11-23 23:00"), 3)  # after the late shift, no operation
    f.count(session, m, ms("2026-11-24 06:00"), 99, 0, op)  # next day
    _report(session, op, "2026-11-23 07:00", 8, 2, "burr")
    table = report_queries.production(session, s, DAY)
    assert [c.key for c in table.columns][-2:] == ["good", "scrap"]
    assert table.rows == [
        ["early", "WO-1", "P-WO-1", "10", "m1", "—", "machine", 14, 1],
        ["early", "WO-1", "P-WO-1", "10", "m1", "Wang Fang", "manual", 8, 2],
        ["late", "WO-1", "P-WO-1", "10", "m1", "—", "machine", 5, 0],
        ["—", "—", "—", "—", "m1", "—", "machine", 3, 0],
    ]


def test_scrap_pareto_sorted_with_cumulative_share(session: Session) -> None:
    s, _m, op = _plant(session)
    _report(session, op, "2026-11-23 07:00", 0, 2, "burr")
    _report(session, op, "2026-11-23 08:00", 0, 3, "burr")
    _report(session, op, "2026-11-23 09:00", 0, 1, "dent")
    _report(session, op, "2026-11-22 09:00", 0, 7, "dent")  # the day before
    table = report_queries.scrap_pareto(session, s, DAY, DAY, "zh_CN", "未分类")
    assert [r[:4] for r in table.rows] == [["burr", "毛刺", 2, 5], ["dent", "凹痕", 1, 1]]
    assert table.rows[0][4] == pytest.approx(5 / 6) and table.rows[1][5] == pytest.approx(1.0)


def test_downtime_pareto_clips_to_the_days(session: Session) -> None:
    s, m, _op = _plant(session)
    f.downtime(session, m, ms("2026-11-23 09:00"), ms("2026-11-23 09:30"), "tool_change")
    f.downtime(session, m, ms("2026-11-22 23:50"), ms("2026-11-23 00:10"))
    f.downtime(session, m, ms("2026-11-23 10:00"), ms("2026-11-23 10:15"), "tool_change")
    session.commit()
    table = report_queries.downtime_pareto(session, s, DAY, DAY, "en", "unclassified")
    assert [r[:4] for r in table.rows] == [
        ["tool_change", "tool change", 2, 45 * MIN],
        ["", "unclassified", 1, 10 * MIN],
    ]
    assert cell_text("minutes", table.rows[0][3]) == "45.0" and cell_text("pct", table.rows[1][5]) == "100.0%"


def test_on_time_delivery(session: Session) -> None:
    s, _m, _op = _plant(session)
    done = lambda d: datetime(2026, 11, d, 10, tzinfo=UTC)  # noqa: E731
    for number, due, status, completed in [
        ("A", 23, "completed", done(22)),
        ("B", 23, "closed", done(24)),
        ("C", 20, "in_progress", None),
        ("D", 25, "released", None),
        ("E", 21, "cancelled", None),
    ]:
        session.add(
            WorkOrder(
                number=number,
                quantity=1,
                product_id=1,
                status=status,
                due_date=date(2026, 11, due),
                completed_at=completed,
            )
        )
    session.commit()
    table = report_queries.on_time(session, s, date(2026, 11, 1), date(2026, 11, 30), today=DAY)
    assert [(r[0], r[-1]) for r in table.rows] == [
        ("C", "late"),
        ("A", "on_time"),
        ("B", "late"),
        ("D", "open"),
    ]
    assert table.note == "33.3%"


def test_open_nonconformances_and_exports(session: Session) -> None:
    _plant(session)
    session.add(Nonconformance(work_order_id=1, quantity=12, description="burr on edge", opened_by="qc1"))
    session.add(
        Nonconformance(work_order_id=1, quantity=1, description="fixed", opened_by="qc1", status="closed")
    )
    session.commit()
    table = report_queries.open_nonconformances(session)
    assert [(r[1], r[3], r[5]) for r in table.rows] == [("WO-1", 12, "burr on edge")]
    text = to_csv([table], str)
    assert text.splitlines()[1].startswith("1,WO-1,—,12,open,burr on edge")
    import io

    from openpyxl import load_workbook

    wb = load_workbook(io.BytesIO(to_xlsx([table], str)))
    assert wb["open_ncs"]["D2"].value == 12


def _inspection(session: Session, frequency: str, values: list[float], minute: int) -> None:
    plan = InspectionPlan(
        product_id=1, name=f"{frequency} check", frequency=frequency, sample_size=len(values)
    )
    session.add(plan)
    session.commit()
    char = Characteristic(plan_id=plan.id or 0, name="D1", nominal=40.0, lsl=39.9, usl=40.1, unit="mm")
    session.add(char)
    session.commit()
    passed = all(39.9 <= v <= 40.1 for v in values)
    rec = InspectionRecord(
        plan_id=plan.id or 0,
        work_order_id=1,
        lot_code="L-7",
        inspector="qc1",
        passed=passed,
        created_at=datetime(2026, 11, 23, 8, tzinfo=UTC) + timedelta(minutes=minute),
    )
    session.add(rec)
    session.commit()
    for i, v in enumerate(values, start=1):
        session.add(
            InspectionValue(
                record_id=rec.id or 0,
                characteristic_id=char.id or 0,
                sample_no=i,
                value=v,
                passed=39.9 <= v <= 40.1,
            )
        )
    session.commit()


def test_certificate_shows_role_not_name_and_share_is_whitelisted(session: Session) -> None:
    _plant(session)
    _inspection(session, "first_article", [40.01, 39.98, 40.02], 0)
    _inspection(session, "every_n_parts", [40.0], 30)  # in-process: not on the certificate
    _inspection(session, "final", [40.0, 40.2], 60)
    order = session.get(WorkOrder, 1)
    assert order is not None
    cert = certificates.certificate(session, order)
    assert [(r.kind, r.inspector_role, r.passed) for r in cert.records] == [
        ("first_article", "inspector", True),
        ("final", "inspector", False),
    ]
    assert cert.records[0].characteristics[0].values == [40.01, 39.98, 40.02] and not cert.passed
    link = ShareLink(work_order_id=1, token_hash="x" * 64, expires_at=datetime(2027, 1, 1, tzinfo=UTC))
    assert certificates.certificate_for_share(session, order, link) is None  # not released by default
    link.show_certificate = True
    shared = certificates.certificate_for_share(session, order, link)
    assert shared is not None
    assert set(shared) == {"product_code", "product_name", "quantity", "passed", "records"}
    assert set(shared["records"][0]) == {"kind", "lot", "inspector_role", "date", "passed", "characteristics"}
    assert "qc1" not in repr(shared) and "Zhou" not in repr(shared) and "'WO-1'" not in repr(shared)
    link.show_certificate = False  # withdrawn
    assert certificates.certificate_for_share(session, order, link) is None


def test_every_report_builds_on_postgresql(pg_url_fresh: str) -> None:
    from server.core.db import init_db, make_engine
    from server.domain import named_reports

    eng = make_engine(pg_url_fresh)
    init_db(eng)
    with Session(eng) as session:
        s, m, op = _plant(session)
        f.count(session, m, ms("2026-11-23 06:30"), 10, 1, op)
        _report(session, op, "2026-11-23 07:00", 8, 2, "burr")
        f.downtime(session, m, ms("2026-11-23 09:00"), ms("2026-11-23 09:30"))
        q = named_reports.Query(s, DAY, DAY, DAY)
        built = {name: named_reports.build(session, name, q, str) for name in named_reports.TITLES}
        assert built["daily"][0].rows[0][-2:] == [10, 1]
        assert built["scrap"][0].rows[0][:4] == ["burr", "毛刺", 1, 2]
        assert built["downtime"][0].rows[0][3] == 30 * MIN
        assert named_reports.breakdown(session, s, "m1", DAY, "early", 120)["figures"]["good"] == 10
    eng.dispose()


def test_short_unclassified_downtime_counts_as_micro_stops(session: Session) -> None:
    s, m, _op = _plant(session)
    for start, end, reason in [
        ("09:00", "09:01", None),
        ("09:10", "09:11", "tool_change"),
        ("10:00", "10:05", None),
    ]:
        f.downtime(session, m, ms(f"2026-11-23 {start}"), ms(f"2026-11-23 {end}"), reason)
    table = report_queries.downtime_pareto(session, s, DAY, DAY, "zh_CN", "未分类", 120_000, "短暂停机")
    assert [r[:4] for r in table.rows] == [
        ["", "未分类", 1, 5 * MIN],
        ["micro_stop", "短暂停机", 1, 1 * MIN],
        ["tool_change", "换刀", 1, 1 * MIN],
    ]


def test_daily_report_day_is_the_sites_across_dst(session: Session) -> None:
    """Europe/Berlin on the autumn change: the day is 25 h from local midnight to local midnight."""
    s = f.site(session, tz="Europe/Berlin")
    m = f.machine(session, s, "m1")
    berlin = lambda text: ms(text, "Europe/Berlin")  # noqa: E731
    f.count(session, m, berlin("2026-10-24 23:59"), 1000)  # the day before
    f.count(session, m, berlin("2026-10-25 00:01"), 1)
    f.count(session, m, ms("2026-10-25 00:30"), 10)  # 02:30 CEST
    f.count(session, m, ms("2026-10-25 01:30"), 100)  # 02:30 CET, an hour later, same wall time
    f.count(session, m, berlin("2026-10-25 23:59"), 10_000)  # 24 h after 00:00 CEST: still the 25th
    f.count(session, m, berlin("2026-10-26 00:00"), 100_000)  # the next day
    table = report_queries.production(session, s, date(2026, 10, 25))
    assert sum(int(row[-2]) for row in table.rows) == 10_111


def test_the_daily_report_opens_on_the_shift_the_floor_is_working(session: Session) -> None:
    """At 01:00 in Shanghai the night shift that began at 20:00 the day before is running: the daily report
    (no day asked: the window's end) is that day's, where its OEE is; at 08:00 the day shift's; with no
    shift, the calendar's. Ranged reports end on the same day."""
    s = f.site(session, tz="Asia/Shanghai")

    def day_at(text: str) -> date:
        q = named_reports.query(session, None, None, None, None, 120.0, "en", s.id, ms(text, "Asia/Shanghai"))
        assert q.start == q.end - timedelta(days=29)
        return q.end

    f.shift(session, s, "day", "08:00", "20:00")
    night = f.shift(session, s, "night", "20:00", "08:00")
    assert day_at("2026-12-05 01:00") == date(2026, 12, 4)
    assert day_at("2026-12-05 07:59") == date(2026, 12, 4)
    assert day_at("2026-12-05 08:00") == date(2026, 12, 5)
    assert day_at("2026-12-05 23:00") == date(2026, 12, 5)  # tonight's night shift: today's
    session.delete(night)
    session.commit()
    assert day_at("2026-12-05 01:00") == date(2026, 12, 5)  # no shift running: the calendar day

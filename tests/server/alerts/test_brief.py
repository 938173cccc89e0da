"""The daily brief: its numbers are the daily report's for a simulated day shift (the scorecard's scenario,
tests/server/test_scorecard.py, with a Day shift 08:00-16:00 and the order due that day), in English and
in Chinese, each figure linked to its page; and it goes out once each morning and once at the shift's end.

The daily report for 2026-03-02 holds: machine rows 100 + 50 good on M1 (line A) and hand rows 150 (a
confirmation of M1's parts, not output again), 40, 20, 10 on station S1 (line B): output 150 on A and 70 on
B; the plan is the order's two steps, 500 each; downtime by reason: jam 40 min (30 + the 10 before
midnight), unclassified 20 min; one open NC.
"""

from datetime import UTC, date, datetime, time

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from server.domain import alert_engine, daily_brief, named_reports
from server.domain.alert_conditions import Context
from server.models.alerts import AlertChannel, AlertMessage, AlertRule
from server.models.plant import Site
from server.models.production import WorkOrder
from server.models.quality import Nonconformance
from server.models.shifts import Shift
from tests.server.test_scorecard import at, scenario

DAY = date(2026, 3, 2)
BASE = "http://takt"


def _plant(session: Session) -> Site:
    scenario(session, "s1")
    site = session.exec(select(Site).where(Site.code == "s1")).one()
    order = session.exec(select(WorkOrder)).one()
    order.due_date = DAY
    session.add_all([order, Shift(site_id=site.id or 0, name="Day", start_local=time(8), end_local=time(16)),
                     Nonconformance(description="burr", quantity=2, opened_by="qa")])  # fmt: skip
    session.commit()
    return site


def test_brief_matches_the_daily_report_in_both_languages(engine: Engine) -> None:
    with Session(engine) as session:
        site = _plant(session)
        now = at(3, 7, 30)
        brief = daily_brief.build(session, site, DAY, "en", now)
        query = named_reports.Query(site, DAY, DAY, DAY, locale="en")
        report = {t.name: t for t in named_reports.build(session, "daily", query, lambda k: k)}
        assert [(x.line, x.good, x.plan) for x in brief.lines] == [("A", 150, 500), ("B", 70, 500)]
        machine_rows = sum(r[-2] for r in report["production"].rows if r[6] == "machine")
        assert brief.good == 220 and machine_rows == 150  # the report's machine rows, and B's hand rows
        assert brief.downtime == [("jam", 40.0), ("unclassified", 20.0)]
        assert [(r[0], round(r[3] / 60000, 1)) for r in report["downtime_pareto"].rows] == [
            ("jam", 40.0),
            ("", 20.0),
        ]
        assert brief.open_ncs == len(report["open_ncs"].rows) == 1
        assert brief.card is not None and brief.card.machine_share == 0.6818
        title, body = daily_brief.message(brief, BASE)
        assert title == "Daily brief 2026-03-02"
        assert "**Output vs plan**: [220 / 1000](http://takt/reports/daily?day=2026-03-02)" in body
        assert "- B: [70 / 500](http://takt/reports/daily?day=2026-03-02)" in body
        assert (
            "[jam 40.0 min, unclassified 20.0 min](http://takt/reports/downtime?start=2026-03-02&end=2026-03-02)"
            in body
        )
        assert (
            "**Open NCs**: [1](" in body
            and "(http://takt/boss/scorecard)" in body
            and "machine-counted 68.2%" in body
        )
        zh_title, zh_body = daily_brief.message(daily_brief.build(session, site, DAY, "zh_CN", now), BASE)
        assert zh_title == "每日简报 2026-03-02"
        assert "**产量 / 计划**: [220 / 1000]" in zh_body and "jam 40.0 分钟, 未分类 20.0 分钟" in zh_body
        assert "**未关闭不合格品**: [1](" in zh_body and "机台计数 68.2%" in zh_body


def _messages(session: Session) -> list[AlertMessage]:
    return list(session.exec(select(AlertMessage).order_by(col(AlertMessage.id))).all())


def test_brief_each_morning_and_shift_end_once(engine: Engine) -> None:
    with Session(engine) as session:
        site = _plant(session)
        zh, en = (
            AlertChannel(name="zh", kind="webhook", lang="zh_CN"),
            AlertChannel(name="en", kind="webhook", lang="en"),
        )
        session.add_all([zh, en])
        session.flush()
        session.add(AlertRule(name="brief", kind="daily_brief", channel_ids=[zh.id, en.id]))
        session.commit()

        def ctx(ms: int) -> Context:
            return Context(site, ms, BASE, brief_morning="07:30", brief_shift_end=True)

        assert alert_engine.evaluate(session, ctx(at(2, 7, 0))).messages == 0
        assert alert_engine.evaluate(session, ctx(at(2, 15, 59))).messages == 2  # this morning's, for 03-01
        assert alert_engine.evaluate(session, ctx(at(2, 16, 1))).messages == 2  # the Day shift ended
        assert alert_engine.evaluate(session, ctx(at(2, 16, 5))).messages == 0  # once
        assert alert_engine.evaluate(session, ctx(at(3, 7, 29))).messages == 0
        assert alert_engine.evaluate(session, ctx(at(3, 7, 31))).messages == 2  # the morning, for yesterday
        assert alert_engine.evaluate(session, ctx(at(3, 9, 0))).messages == 0
        titles = [(m.channel_id, m.purpose, m.title) for m in _messages(session)]
        assert titles == [
            (zh.id, "brief", "每日简报 2026-03-01"), (en.id, "brief", "Daily brief 2026-03-01"),
            (zh.id, "brief", "Day 班简报 2026-03-02"), (en.id, "brief", "Shift Day brief 2026-03-02"),
            (zh.id, "brief", "每日简报 2026-03-02"), (en.id, "brief", "Daily brief 2026-03-02"),
        ]  # fmt: skip
        last = datetime.fromtimestamp(_messages(session)[-1].created_ms / 1000, UTC)
        assert last.hour == 23  # 07:31 in Shanghai

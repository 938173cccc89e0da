"""The boss page's "today" is the production day running now, as the reports count it: at 01:00 in a night
shift its counts, OEE and stops are the night shift's day's, from that day's first shift; with no shift
running, the calendar day from local midnight."""

from datetime import UTC, date, datetime

from sqlmodel import Session

from server.core import clock
from server.domain import boss_view
from server.domain.boss_view import AlertLimits, BossView
from tests.server.reports import support as f
from tests.server.reports.support import ms

SH = "Asia/Shanghai"


def _view_at(session: Session, text: str) -> BossView:
    with clock.fixed(datetime.fromtimestamp(ms(text, SH) / 1000, UTC)):
        return boss_view.boss_view(session, "demo", AlertLimits(30, 0.5), "en")


def test_the_boss_page_shows_the_production_day_the_floor_is_working(session: Session) -> None:
    s = f.site(session, tz=SH)
    m = f.machine(session, s, "M1")
    f.shift(session, s, "day", "08:00", "20:00")
    night = f.shift(session, s, "night", "20:00", "08:00")
    f.count(session, m, ms("2026-12-04 07:00", SH), 5)  # the night shift of 12-03's production day
    f.count(session, m, ms("2026-12-04 10:00", SH), 100)  # 12-04's day shift
    f.count(session, m, ms("2026-12-04 22:00", SH), 20, scrap=2)  # 12-04's night shift
    f.count(session, m, ms("2026-12-05 00:30", SH), 3)  # 12-04's night shift, past midnight
    f.timeline(session, m, [("running", ms("2026-12-04 06:00", SH), ms("2026-12-05 00:40", SH)),
                            ("fault", ms("2026-12-05 00:40", SH), None)])  # fmt: skip
    f.downtime(session, m, ms("2026-12-04 06:00", SH), ms("2026-12-04 06:30", SH), "tooling")  # 12-03's
    f.downtime(session, m, ms("2026-12-05 00:40", SH), None)

    night_view = _view_at(session, "2026-12-05 01:00")
    assert night_view.day == date(2026, 12, 4)
    assert (night_view.good, night_view.scrap) == (123, 2)
    tile = night_view.tiles[0]
    assert tile.oee is not None and tile.availability is not None  # the running night shift's OEE
    assert [label for label, _minutes in night_view.downtime] == ["?"]  # tonight's fault, not 12-03's

    morning = _view_at(session, "2026-12-05 09:00")  # 12-05's day shift: nothing counted yet
    assert morning.day == date(2026, 12, 5) and (morning.good, morning.scrap) == (0, 0)

    session.delete(night)
    session.commit()
    calendar = _view_at(session, "2026-12-05 01:00")  # no shift running: since local midnight
    assert calendar.day == date(2026, 12, 5) and (calendar.good, calendar.scrap) == (3, 0)

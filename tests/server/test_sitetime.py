"""The site's local time (server/core/sitetime.py) with the server's clock fixed (server/core/clock.py): just
after local midnight in Asia/Shanghai, and across the autumn DST change in Europe/Berlin."""

from datetime import UTC, date, datetime

import pytest
from pydantic import ValidationError

from server.core import clock
from server.core.sitetime import SiteTime
from server.models.plant import SiteCreate, SiteUpdate
from server.models.types import now_ms, utcnow

SHANGHAI_0245 = datetime(2026, 12, 4, 18, 45, tzinfo=UTC)  # 02:45 on 12-05 in Shanghai


def test_the_clock_can_be_fixed_and_runs_again() -> None:
    with clock.fixed(SHANGHAI_0245):
        assert utcnow() == SHANGHAI_0245 and now_ms() == int(SHANGHAI_0245.timestamp() * 1000)
    assert abs(utcnow().timestamp() - datetime.now(UTC).timestamp()) < 5
    with pytest.raises(ValueError):
        clock.set_fixed(datetime(2026, 12, 4, 18, 45))  # naive: which zone?


def test_shanghai_just_after_midnight() -> None:
    local = SiteTime.named("Asia/Shanghai")
    with clock.fixed(SHANGHAI_0245):
        assert local.today() == date(2026, 12, 5)  # already tomorrow in UTC's terms
        assert local.now().strftime("%H:%M") == "02:45"
    eta = datetime(2026, 12, 4, 21, 21, tzinfo=UTC)  # the finding's "12-04 21:21": 05:21 the next morning
    assert local.text(eta, "%m-%d %H:%M") == "12-05 05:21"
    assert local.text(int(eta.timestamp() * 1000)) == "2026-12-05 05:21"
    assert local.date_text(eta) == "2026-12-05" and local.iso(eta) == "2026-12-05T05:21:00+08:00"
    assert local.clock_text(eta, date(2026, 12, 5)) == "05:21"
    assert local.clock_text(eta, date(2026, 12, 4)) == "12-05 05:21"
    start, end = local.day_span_ms(date(2026, 12, 5))
    assert datetime.fromtimestamp(start / 1000, UTC) == datetime(2026, 12, 4, 16, 0, tzinfo=UTC)
    assert end - start == 24 * 3_600_000
    assert local.text(None) == "—" and local.iso(None) is None


def test_berlin_across_the_autumn_dst_change() -> None:
    local = SiteTime.named("Europe/Berlin")
    change = date(2026, 10, 25)  # last Sunday of October: 03:00 CEST becomes 02:00 CET
    start, end = local.day_span_ms(change)
    assert end - start == 25 * 3_600_000
    assert datetime.fromtimestamp(start / 1000, UTC) == datetime(2026, 10, 24, 22, 0, tzinfo=UTC)
    before = datetime(2026, 10, 25, 0, 15, tzinfo=UTC)  # 02:15 CEST
    after = datetime(2026, 10, 25, 2, 0, tzinfo=UTC)  # 1 h 45 min later: 03:00 CET, not 04:00
    assert local.text(before) == "2026-10-25 02:15" and local.text(after) == "2026-10-25 03:00"
    assert local.iso(before).endswith("+02:00") and local.iso(after).endswith("+01:00")  # type: ignore[union-attr]
    spring = local.day_span_ms(date(2026, 3, 29))
    assert spring[1] - spring[0] == 23 * 3_600_000


def test_a_site_time_zone_is_checked() -> None:
    assert SiteCreate(code="x", name="X", timezone="Asia/Shanghai").timezone == "Asia/Shanghai"
    for bad in ("Asia/Shangai", "UTC+8", "../etc/passwd", ""):
        with pytest.raises(ValidationError, match="unknown time zone"):
            SiteCreate(code="x", name="X", timezone=bad)
        with pytest.raises(ValidationError, match="unknown time zone"):
            SiteUpdate(timezone=bad)
    assert SiteUpdate(name="Y").timezone is None

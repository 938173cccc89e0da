"""The site's local time: every time a person reads (pages, reports, the share page, exports) is shown in the
site's time zone (`Site.timezone`, an IANA name such as Asia/Shanghai), through this one helper. Stored times
stay UTC (aware datetimes, epoch milliseconds); see docs/pages.md, "Times"."""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from server.core import clock

DEFAULT_ZONE = "UTC"


def check_zone(name: str) -> str:
    """`name` if it is a time zone this machine knows (zoneinfo/tzdata), else ValueError naming it."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {name!r} (an IANA name such as Asia/Shanghai)") from exc
    return name


@dataclass(frozen=True)
class SiteTime:
    """Times converted to and written in one zone."""

    zone: ZoneInfo

    @classmethod
    def named(cls, name: str | None) -> "SiteTime":
        return cls(ZoneInfo(check_zone(name or DEFAULT_ZONE)))

    @property
    def name(self) -> str:
        return self.zone.key

    def local(self, value: datetime | int) -> datetime:
        """An aware datetime (naive ones are UTC) or epoch milliseconds, in the site's zone."""
        if isinstance(value, int):
            return datetime.fromtimestamp(value / 1000, self.zone)
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(self.zone)

    def now(self) -> datetime:
        return clock.utcnow().astimezone(self.zone)

    def today(self) -> date:
        return self.now().date()

    def day_start_ms(self, day: date) -> int:
        """The site's midnight that starts `day`, in epoch ms (23 or 25 h before the next across DST)."""
        return int(datetime.combine(day, time(0), tzinfo=self.zone).timestamp() * 1000)

    def day_span_ms(self, day: date) -> tuple[int, int]:
        return self.day_start_ms(day), self.day_start_ms(day + timedelta(days=1))

    def text(self, value: datetime | int | None, fmt: str = "%Y-%m-%d %H:%M", empty: str = "—") -> str:
        return empty if value is None else self.local(value).strftime(fmt)

    def date_text(self, value: datetime | int | None, empty: str = "") -> str:
        return empty if value is None else self.local(value).date().isoformat()

    def iso(self, value: datetime | int | None) -> str | None:
        """ISO 8601 with the site's offset (+08:00): the same instant, read as the site reads it."""
        return None if value is None else self.local(value).isoformat()

    def clock_text(self, value: datetime | int, today: date | None = None) -> str:
        """ "HH:MM" on `today` (the site's today by default), else "MM-DD HH:MM"."""
        local = self.local(value)
        same_day = local.date() == (today or self.today())
        return local.strftime("%H:%M") if same_day else local.strftime("%m-%d %H:%M")

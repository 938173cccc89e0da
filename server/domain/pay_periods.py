"""Pay periods: a calendar month, or from day N of one month to day N-1 of the next
(`TAKT_PAY_PERIOD_START_DAY`; 26 = the 26th to the 25th, as many factories close), and their local days in
epoch milliseconds.

Closing a period (after its last day) locks it: its sheet keeps only the reports made before the close, and
supervisors' adjustments to it are refused; a report made later for one of its days is paid in the period
it was made in, as a late correction (server/domain/wages.py). Closing is audit-logged.
"""

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from server.core.errors import Conflict
from server.core.sitetime import SiteTime
from server.domain import audit
from server.models.pay import PayPeriod
from server.models.types import utcnow


@dataclass(frozen=True)
class Period:
    start: date
    end: date  # the last day, inclusive
    start_ms: int
    end_ms: int  # the midnight after `end`

    @property
    def days(self) -> list[date]:
        return [self.start + timedelta(days=n) for n in range((self.end - self.start).days + 1)]


def _month_start(year: int, month: int, day: int) -> date:
    year, month = (year - 1, 12) if month == 0 else (year + 1, 1) if month == 13 else (year, month)
    return date(year, month, day)


def period_of(day: date, start_day: int, local: SiteTime) -> Period:
    """The pay period holding `day`."""
    if day.day >= start_day:
        start = date(day.year, day.month, start_day)
    else:
        start = _month_start(day.year, day.month - 1, start_day)
    following = _month_start(start.year, start.month + 1, start_day)
    return Period(
        start, following - timedelta(days=1), local.day_start_ms(start), local.day_start_ms(following)
    )


def next_period(period: Period, start_day: int, local: SiteTime) -> Period:
    return period_of(period.end + timedelta(days=1), start_day, local)


def closed(session: Session, start: date) -> PayPeriod | None:
    return session.exec(select(PayPeriod).where(PayPeriod.start == start)).first()


def closed_list(session: Session) -> list[PayPeriod]:
    return list(session.exec(select(PayPeriod).order_by(col(PayPeriod.start))).all())


def ensure_ended(period: Period, local: SiteTime) -> None:
    """Conflict while the period's last day is not over (a period closes after it ends)."""
    if local.today() <= period.end:
        raise Conflict(
            "pay period %(start)s to %(end)s has not ended yet",
            start=period.start.isoformat(),
            end=period.end.isoformat(),
        )


def close(session: Session, actor: str, period: Period, local: SiteTime) -> PayPeriod:
    """Lock `period` (only once its last day is over); audit-logged."""
    ensure_ended(period, local)
    row = PayPeriod(
        start=period.start,
        end=period.end,
        start_ms=period.start_ms,
        end_ms=period.end_ms,
        closed_at=utcnow(),
        closed_by=actor,
    )
    session.add(row)
    try:
        session.flush()
    except IntegrityError as err:
        session.rollback()
        raise Conflict("pay period from %(start)s is closed", start=period.start.isoformat()) from err
    audit.record(
        session,
        actor,
        "PayPeriod",
        row.id,
        "close",
        {"start": period.start.isoformat(), "end": period.end.isoformat()},
    )
    session.commit()
    session.refresh(row)
    return row

"""Hours on the station: an operator's badge sign-in opens a station session (closing any other open one of
theirs), signing out closes it; a session nobody closed ends when its token expires. The wage sheet's hours
of a day are the sessions' overlap with that local day."""

from bisect import bisect_right
from collections import defaultdict
from collections.abc import Sequence
from datetime import date

import sqlalchemy as sa
from sqlmodel import Session, col, or_, select

from server.models.pay import StationSession

HOUR_MS = 3_600_000


def open_session(session: Session, user_id: int, station_id: int, start_ms: int, expires_ms: int) -> None:
    """Start the operator's time at a station (in the caller's transaction)."""
    close_sessions(session, user_id, start_ms)
    session.add(
        StationSession(user_id=user_id, station_id=station_id, start_ms=start_ms, expires_ms=expires_ms)
    )


def close_sessions(session: Session, user_id: int, end_ms: int) -> None:
    """End the operator's open station sessions at `end_ms` (in the caller's transaction)."""
    stmt = select(StationSession).where(
        StationSession.user_id == user_id,
        col(StationSession.end_ms).is_(None),
        StationSession.expires_ms > end_ms,
    )
    for row in session.exec(stmt).all():
        row.end_ms = max(row.start_ms, end_ms)
        session.add(row)


def hours_by_day(
    session: Session,
    days: Sequence[tuple[date, int, int]],
    now_ms: int,
    user_ids: Sequence[int] | None = None,
) -> dict[tuple[int, date], float]:
    """{(user id, day): hours signed in} for `days` = (day, start_ms, end_ms), in order."""
    if not days:
        return {}
    first, last = days[0][1], days[-1][2]
    stmt = sa.select(
        col(StationSession.user_id),
        col(StationSession.start_ms),
        col(StationSession.end_ms),
        col(StationSession.expires_ms),
    ).where(
        col(StationSession.expires_ms) > first,  # a session ends by its expiry: the index's lower bound
        col(StationSession.start_ms) < last,
        or_(col(StationSession.end_ms) > first, col(StationSession.end_ms).is_(None)),
    )
    if user_ids is not None:
        stmt = stmt.where(col(StationSession.user_id).in_(user_ids))
    starts = [start for _, start, _ in days]
    out: dict[tuple[int, date], float] = defaultdict(float)
    for user_id, start, end, expires in session.execute(stmt).all():
        end = end if end is not None else min(expires, now_ms)
        n = max(0, bisect_right(starts, start) - 1)
        while n < len(days) and days[n][1] < end:
            day, day_start, day_end = days[n]
            overlap = min(end, day_end) - max(start, day_start)
            if overlap > 0:
                out[(user_id, day)] += overlap / HOUR_MS
            n += 1
    return dict(out)

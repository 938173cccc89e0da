"""How far back a supervisor may reopen a completed operation: since the start of the site's current shift
(the last one that started, between shifts), or `TAKT_REOPEN_HOURS` back when the site has no shift
calendar. See docs/api.md (reopen)."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session, select

from server.domain.oee import site_shifts
from server.domain.oee_calc import shift_windows
from server.models.plant import Site

HOUR_MS = 3_600_000
WEEK = timedelta(days=7)  # the last shift that started is within a week (a calendar has a working day)


def reopen_since(session: Session, site_code: str, fallback_hours: float, now: int) -> int:
    """Epoch ms: an operation completed at or after it may be reopened."""
    site = session.exec(select(Site).where(Site.code == site_code)).first()
    shifts = site_shifts(session, site.id) if site is not None and site.id is not None else []
    if site is not None and shifts:
        today = datetime.fromtimestamp(now / 1000, ZoneInfo(site.timezone)).date()
        started = [w for w in shift_windows(shifts, site.timezone, today - WEEK, today) if w.start_ms <= now]
        if started:
            return started[-1].start_ms
    return now - int(fallback_hours * HOUR_MS)

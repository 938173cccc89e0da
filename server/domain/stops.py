"""Downtime events (stops) that overlap a window of time."""

from collections.abc import Sequence

from sqlmodel import Session, col, select

from server.models.production import DowntimeEvent


def overlapping(session: Session, lo: int, hi: int) -> Sequence[DowntimeEvent]:
    """The stops overlapping [lo, hi): ended after `lo` or still open, and begun before `hi`.

    Read over the end index only (migration 0026): stops may overlap, so no newest-before lookup finds the
    ones begun before `lo`, and a bound on the start reads every older stop. Given `start_ms < hi` or a
    machine list, SQLite's planner took the (machine, start) index and read a year of stops for today's
    (7 ms against 0.2); so the start is checked here, on the few stops that ended after `lo`. A window long
    past reads every stop since it (a year of the 50-machine plant is 36k): rare, a report of last year."""
    end = col(DowntimeEvent.end_ms)
    events = session.exec(select(DowntimeEvent).where(end.is_(None) | (end > lo))).all()
    return [event for event in events if event.start_ms < hi]

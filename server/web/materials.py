"""The material parts of the station tablet (issue by scan, the current order's components, shortages in
the queue) and the boss page's shortages (`templates/boss/_shortages.html`)."""

from sqlmodel import Session

from server.domain import shortages, sites
from server.domain.station_view import StationView


def station_materials(session: Session, view: StationView) -> dict[str, shortages.OrderShortage]:
    """Material state of the orders in the station's queue (those with a BOM), by order number."""
    numbers = {job.number for job in view.queue} | ({view.current.number} if view.current else set())
    return shortages.for_orders(session, numbers)


SHORTAGE_DAYS = 7  # the boss page looks a week ahead; the planner's list (`/api/v1/shortages`) takes any N


def upcoming_shortages(session: Session, site: str | None) -> list[shortages.OrderShortage]:
    """Orders due within a week (or undated) that lack material, before or while they run."""
    return shortages.upcoming(session, sites.site_time(session, site).today(), SHORTAGE_DAYS)

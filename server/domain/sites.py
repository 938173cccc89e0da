"""The site a server runs (`TAKT_SITE`) and its local time (server/core/sitetime.py)."""

from sqlmodel import Session, col, select

from server.core.sitetime import SiteTime
from server.models.plant import Site


def site_of(session: Session, code: str) -> Site | None:
    return session.exec(select(Site).where(Site.code == code)).first()


def site_time(session: Session, code: str | None = None) -> SiteTime:
    """The zone of site `code`; without a code, of the database's first site (one site per server); UTC when
    there is none yet."""
    stmt = select(Site.timezone)
    stmt = stmt.where(Site.code == code) if code is not None else stmt.order_by(col(Site.id))
    return SiteTime.named(session.exec(stmt).first())

"""Tokens the pages hold in cookies, looked up by their hash: web session API tokens and tablet device
tokens (docs/pages.md)."""

from datetime import timedelta

from sqlmodel import Session, select

from server.domain.security import token_hash
from server.models.auth import ApiToken, Tablet
from server.models.plant import Station
from server.models.types import utcnow

DEVICE_TOKEN_MAX = 200  # longer cookie values are cut, never hashed whole


def _api_token(session: Session, token: str) -> ApiToken | None:
    return session.exec(select(ApiToken).where(ApiToken.token_hash == token_hash(token))).first()


def expire_session_token(session: Session, token: str, hours: int) -> None:
    """Give a web session's API token the cookie's lifetime (sign-in issues API tokens without expiry)."""
    row = _api_token(session, token)
    if row is not None:
        row.expires_at = utcnow() + timedelta(hours=hours)
        row.name = "web_session"
        session.add(row)
        session.commit()


def revoke_session_token(session: Session, token: str | None) -> None:
    """Sign a page out: revoke its cookie's token (unknown or already revoked: nothing to do)."""
    if not token:
        return
    row = _api_token(session, token)
    if row is not None and not row.revoked:
        row.revoked = True
        session.add(row)
        session.commit()


def enrolled_tablet(session: Session, device_token: str | None) -> Tablet | None:
    """The tablet a device cookie names, if it is enrolled and not revoked."""
    if not device_token:
        return None
    stmt = select(Tablet).where(Tablet.device_token_hash == token_hash(device_token[:DEVICE_TOKEN_MAX]))
    tablet = session.exec(stmt).first()
    return tablet if tablet is not None and not tablet.revoked else None


def tablet_station(session: Session, tablet: Tablet) -> Station:
    station = session.get(Station, tablet.station_id)
    assert station is not None
    return station

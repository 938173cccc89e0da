"""Bearer tokens for the admin: list who holds which live token, revoke one. Tokens expire by themselves
(API tokens after `TAKT_API_TOKEN_DAYS`, web and operator sessions after their hours); see
docs/reliability.md (API tokens)."""

import logging
from datetime import datetime

from sqlmodel import Session, SQLModel, col, func, or_, select

from server.domain import audit, crud
from server.models.auth import ApiToken, User
from server.models.plant import Station
from server.models.types import utcnow

log = logging.getLogger(__name__)


class TokenPublic(SQLModel):
    id: int
    username: str
    name: str
    kind: str
    station: str | None
    created_at: datetime
    expires_at: datetime | None
    revoked: bool


def live_tokens(session: Session, limit: int, offset: int) -> tuple[list[TokenPublic], int]:
    """Tokens neither revoked nor expired, newest first, and how many there are."""
    now = utcnow()
    expires = col(ApiToken.expires_at)
    live = (ApiToken.revoked == False, or_(expires.is_(None), expires > now))  # noqa: E712
    total = session.exec(select(func.count()).select_from(ApiToken).where(*live)).one()
    stmt = (
        select(ApiToken, User, Station)
        .join(User, col(User.id) == ApiToken.user_id)
        .outerjoin(Station, col(Station.id) == ApiToken.station_id)
        .where(*live)
        .order_by(col(ApiToken.created_at).desc(), col(ApiToken.id).desc())
        .limit(limit)
        .offset(offset)
    )
    return [_public(t, u, s) for t, u, s in session.exec(stmt).all()], int(total)


def _public(token: ApiToken, user: User | None, station: Station | None) -> TokenPublic:
    return TokenPublic(
        id=token.id or 0, username=user.username if user else "?", name=token.name, kind=token.kind,
        station=station.code if station else None, created_at=token.created_at, expires_at=token.expires_at,
        revoked=token.revoked,
    )  # fmt: skip


def revoke(session: Session, actor: str, token_id: int) -> TokenPublic:
    token = crud.get_by(session, ApiToken, id=token_id)
    if not token.revoked:
        token.revoked = True
        session.add(token)
        audit.record(session, actor, "ApiToken", token.id, "revoke", None)
        session.commit()
        log.info("token %s (%s of user %s) revoked by %s", token.id, token.kind, token.user_id, actor)
    session.refresh(token)
    station = session.get(Station, token.station_id) if token.station_id is not None else None
    return _public(token, session.get(User, token.user_id), station)

"""Who is calling: bearer tokens (API tokens, operator sessions, TAKT_ADMIN_TOKEN) to a Principal."""

from dataclasses import dataclass

from sqlmodel import Session, select

from server.core.errors import Forbidden, Unauthorized
from server.core.settings import Settings
from server.domain.security import same_secret, token_hash
from server.models.auth import ApiToken, User, UserStation
from server.models.types import utcnow

ROLES = ("admin", "planner", "supervisor", "operator", "inspector", "payroll")


@dataclass(frozen=True)
class Principal:
    username: str
    role: str
    user_id: int | None = None
    station_id: int | None = None  # operator sessions are bound to the tablet's station
    stations: tuple[int, ...] = ()  # where an operator may act: its session's station, else its assigned ones

    @property
    def station_bound(self) -> bool:
        """Operators act only at their stations (docs/reliability.md, H4); every other role plant-wide."""
        return self.role == "operator"

    def require(self, *roles: str) -> None:
        if self.role != "admin" and self.role not in roles:
            raise Forbidden(
                "role %(role)r may not do this (needs one of: admin, %(roles)s)",
                role=self.role,
                roles=", ".join(roles),
            )


def authenticate(session: Session, settings: Settings, token: str | None) -> Principal:
    """The Principal for a bearer token, or Unauthorized."""
    if not token:
        raise Unauthorized("missing bearer token")
    admin = settings.admin_token.get_secret_value() if settings.admin_token else ""
    if admin and same_secret(token, admin):
        return Principal(username="admin-token", role="admin")
    stmt = select(ApiToken, User).join(User).where(ApiToken.token_hash == token_hash(token))
    found = session.exec(stmt).first()
    if found is None:
        raise Unauthorized("unknown token")
    api_token, user = found
    if api_token.revoked or not user.active:
        raise Unauthorized("token revoked or user inactive")
    if api_token.expires_at is not None and api_token.expires_at <= utcnow():
        raise Unauthorized("token expired")
    assert user.id is not None
    station_id = api_token.station_id
    stations = (station_id,) if station_id is not None else assigned_stations(session, user)
    return Principal(user.username, user.role, user.id, station_id, stations)


def assigned_stations(session: Session, user: User) -> tuple[int, ...]:
    """The ids of the stations an operator is assigned to (none for the other roles: they need none)."""
    if user.role != "operator":
        return ()
    rows = session.exec(select(UserStation.station_id).where(UserStation.user_id == user.id)).all()
    return tuple(sorted(rows))

"""Sign-in: username + password for API tokens; badge + PIN on an enrolled tablet for operators.

Failed sign-ins are counted per badge and per tablet (and per username for passwords). After
`signin_max_failures` failures the key is locked for `signin_lockout_s`; a success clears it.
"""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from server.core.db import lock_for_write
from server.core.errors import Forbidden, Locked, Msgid, Unauthorized
from server.core.settings import Settings
from server.domain import audit, crud
from server.domain.security import new_token, token_hash, verify_secret
from server.models.auth import ApiToken, SigninThrottle, Tablet, User
from server.models.plant import Station
from server.models.types import utcnow

log = logging.getLogger(__name__)
SCOPES = {"username": Msgid("username"), "badge": Msgid("badge"), "tablet": Msgid("tablet")}


@dataclass(frozen=True)
class Issued:
    token: str
    expires_at: datetime | None
    user: User


def _throttle(session: Session, scope: str, key: str) -> SigninThrottle:
    stmt = select(SigninThrottle).where(SigninThrottle.scope == scope, SigninThrottle.key == key)
    row = session.exec(stmt.with_for_update().execution_options(populate_existing=True)).first()
    if row is not None:
        return row
    row = SigninThrottle(scope=scope, key=key)
    session.add(row)
    try:
        session.flush()
    except IntegrityError:  # created meanwhile by a concurrent sign-in
        session.rollback()
        return _throttle(session, scope, key)
    return row


def _check_locked(rows: list[SigninThrottle]) -> None:
    now = utcnow()
    for row in rows:
        if row.locked_until is not None and row.locked_until > now:
            seconds = int((row.locked_until - now).total_seconds()) + 1
            raise Locked(
                "too many failed sign-ins for this %(scope)s; try again in %(seconds)s s",
                scope=SCOPES[row.scope],
                seconds=seconds,
            )


def _fail(session: Session, settings: Settings, rows: list[SigninThrottle]) -> None:
    now = utcnow()
    for row in rows:
        if row.locked_until is not None and row.locked_until <= now:
            row.failures, row.locked_until = 0, None
        row.failures += 1
        row.updated_at = now
        if row.failures >= settings.signin_max_failures:
            row.locked_until = now + timedelta(seconds=settings.signin_lockout_s)
            log.warning("sign-in locked for %s %s after %d failures", row.scope, row.key, row.failures)
        session.add(row)
    session.commit()


def _clear(session: Session, rows: list[SigninThrottle]) -> None:
    for row in rows:
        row.failures, row.locked_until = 0, None
        session.add(row)


def _issue(session: Session, user: User, kind: str, hours: int | None, station_id: int | None) -> Issued:
    token = new_token()
    expires = utcnow() + timedelta(hours=hours) if hours else None
    assert user.id is not None
    session.add(
        ApiToken(user_id=user.id, token_hash=token_hash(token), name=kind, kind=kind, station_id=station_id,
                 expires_at=expires)
    )  # fmt: skip
    audit.record(session, user.username, "ApiToken", user.id, f"issue_{kind}", {"station_id": station_id})
    session.commit()
    return Issued(token=token, expires_at=expires, user=user)


def issue_api_token(session: Session, actor: str, username: str, name: str, days: int) -> Issued:
    """An API token for a user (scripts, integrations), issued by an admin, valid for `days`."""
    user = crud.get_by(session, User, username=username)
    issued = _issue(session, user, "api", days * 24, None)
    audit.record(session, actor, "User", user.id, "token_issued", {"name": name})
    session.commit()
    return issued


def revoke_token(session: Session, token: str) -> bool:
    """Revoke the token itself (sign out); False when it is not a stored token."""
    row = session.exec(select(ApiToken).where(ApiToken.token_hash == token_hash(token))).first()
    if row is None:
        return False
    row.revoked = True
    session.add(row)
    audit.record(session, f"user:{row.user_id}", "ApiToken", row.id, "revoke", None)
    session.commit()
    return True


def password_sign_in(session: Session, settings: Settings, username: str, password: str) -> Issued:
    lock_for_write(session)
    rows = [_throttle(session, "username", username)]
    _check_locked(rows)
    user = session.exec(select(User).where(User.username == username)).first()
    if not verify_secret(user.password_hash if user else None, password) or user is None or not user.active:
        _fail(session, settings, rows)
        raise Unauthorized("wrong username or password")
    _clear(session, rows)
    return _issue(session, user, "api", settings.api_token_days * 24, None)


def tablet_for(session: Session, station_code: str, device_token: str | None) -> tuple[Station, Tablet]:
    station = crud.get_by(session, Station, code=station_code)
    if not device_token:
        raise Unauthorized("missing X-Device-Token of an enrolled tablet")
    tablet = session.exec(select(Tablet).where(Tablet.device_token_hash == token_hash(device_token))).first()
    if tablet is None or tablet.revoked:
        raise Unauthorized("unknown or revoked tablet")
    if tablet.station_id != station.id:
        raise Forbidden("this tablet is not enrolled at station %(station)s", station=station_code)
    return station, tablet


def badge_sign_in(
    session: Session, settings: Settings, station_code: str, device_token: str | None, badge: str, pin: str
) -> Issued:
    lock_for_write(session)
    station, tablet = tablet_for(session, station_code, device_token)
    rows = [_throttle(session, "badge", badge), _throttle(session, "tablet", str(tablet.id))]
    _check_locked(rows)
    user = session.exec(select(User).where(User.badge == badge)).first()
    if not verify_secret(user.pin_hash if user else None, pin) or user is None or not user.active:
        _fail(session, settings, rows)
        raise Unauthorized("wrong badge or PIN")
    _clear(session, rows)
    log.info("operator %s signed in at station %s", user.username, station.code)
    return _issue(session, user, "operator_session", settings.operator_session_hours, station.id)

"""Sign-in: username + password for API tokens; badge + PIN on an enrolled tablet for operators.

Failed sign-ins are counted per username *and source address* for passwords, per badge and source address
and per tablet for PINs: nobody can lock the boss, or an operator's badge, out from elsewhere; the tablet's
own count bounds PIN guessing through one tablet whatever the badges and addresses tried. After
`signin_max_failures` failures the key is locked for `signin_lockout_s`, and each further failure locks it
again for twice as long (up to a day); a success clears it, a day without failures forgets them. The counts
and locks are rows in the database, so every server replica sees them. Secrets are verified (argon2, slow on
purpose, constant time) outside any database transaction: on SQLite a sign-in storm must not hold the write
lock ingestion needs. See docs/reliability.md (H6).
"""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from server.core.db import lock_for_write
from server.core.errors import Forbidden, Locked, Msgid, Unauthorized
from server.core.settings import Settings
from server.domain import audit, crud, station_hours
from server.domain.security import new_token, token_hash, verify_secret
from server.models.auth import ApiToken, SigninThrottle, Tablet, User
from server.models.plant import Station
from server.models.types import now_ms, utcnow

log = logging.getLogger(__name__)
SCOPES = {"username": Msgid("username"), "badge": Msgid("badge"), "tablet": Msgid("tablet")}
FORGET_AFTER = timedelta(days=1)
MAX_LOCK_S = 24 * 3600


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


def _peek(session: Session, scope: str, key: str) -> list[SigninThrottle]:
    """The throttle row of `key`, read without locking (nothing if there is none)."""
    stmt = select(SigninThrottle).where(SigninThrottle.scope == scope, SigninThrottle.key == key)
    return list(session.exec(stmt).all())


def _fail(session: Session, settings: Settings, rows: list[SigninThrottle]) -> None:
    now = utcnow()
    for row in rows:
        if row.updated_at < now - FORGET_AFTER:
            row.failures, row.locked_until = 0, None
        row.failures += 1
        row.updated_at = now
        over = row.failures - settings.signin_max_failures
        if over >= 0:  # locked, and for twice as long at each failure past the limit
            seconds = min(settings.signin_lockout_s * 2 ** min(over, 20), MAX_LOCK_S)
            row.locked_until = now + timedelta(seconds=seconds)
            log.warning("sign-in locked for %s %s for %d s after %d failures", row.scope, row.key, seconds,
                        row.failures)  # fmt: skip
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
    if kind == "operator_session" and station_id is not None and expires is not None:
        start = now_ms()
        station_hours.open_session(session, user.id, station_id, start, int(expires.timestamp() * 1000))
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
    if row.kind == "operator_session":
        station_hours.close_sessions(session, row.user_id, now_ms())
    audit.record(session, f"user:{row.user_id}", "ApiToken", row.id, "revoke", None)
    session.commit()
    return True


class Limiter(Protocol):
    def allow(self, key: str) -> bool: ...


def admit(limiter: Limiter, source: str) -> None:
    """Locked (429) when `source` (a client address) signed in too often lately, whatever the account."""
    if not limiter.allow(source):
        log.info("sign-in rate limit reached for %s", source)
        raise Locked("too many sign-ins from this address; try again in a minute")


def source_key(username: str, source: str) -> str:
    """The throttle key of a sign-in: the username (or badge) as tried from one address (<= 100 chars)."""
    return f"{username[:54]}@{source[:45]}"


def password_sign_in(
    session: Session, settings: Settings, username: str, password: str, source: str
) -> Issued:
    """An API token for `username` if `password` is right; failures lock this username from `source` only."""
    key = source_key(username, source)
    _check_locked(_peek(session, "username", key))
    user = session.exec(select(User).where(User.username == username)).first()
    user_id, stored = (user.id, user.password_hash) if user is not None and user.active else (None, None)
    session.rollback()  # no transaction while hashing
    good = verify_secret(stored, password) and user_id is not None
    lock_for_write(session)
    rows = [_throttle(session, "username", key)]
    _check_locked(rows)  # a concurrent failure may have locked it meanwhile
    found = session.get(User, user_id) if good else None
    if found is None or not found.active:
        _fail(session, settings, rows)
        raise Unauthorized("wrong username or password")
    _clear(session, rows)
    return _issue(session, found, "api", settings.api_token_days * 24, None)


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
    session: Session,
    settings: Settings,
    station_code: str,
    device_token: str | None,
    credentials: tuple[str, str],
    source: str,
) -> Issued:
    """An operator session at the tablet's station for the right (badge, PIN); failures lock this badge
    from `source` only, and the tablet for every badge."""
    badge, pin = credentials
    station, tablet = tablet_for(session, station_code, device_token)
    station_id, tablet_key, badge_key = station.id, str(tablet.id), source_key(badge, source)
    _check_locked(_peek(session, "badge", badge_key) + _peek(session, "tablet", tablet_key))
    user = session.exec(select(User).where(User.badge == badge)).first()
    user_id, stored = (user.id, user.pin_hash) if user is not None and user.active else (None, None)
    session.rollback()  # no transaction while hashing
    good = verify_secret(stored, pin) and user_id is not None
    lock_for_write(session)
    rows = [_throttle(session, "badge", badge_key), _throttle(session, "tablet", tablet_key)]
    _check_locked(rows)
    found = session.get(User, user_id) if good else None
    if found is None or not found.active:
        _fail(session, settings, rows)
        raise Unauthorized("wrong badge or PIN")
    _clear(session, rows)
    log.info("operator %s signed in at station %s", found.username, station_code)
    return _issue(session, found, "operator_session", settings.operator_session_hours, station_id)

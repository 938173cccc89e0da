"""Creating users and enrolling tablets: passwords and PINs are stored only as argon2 hashes, a tablet's
device token and its one-time enrollment code only as their SHA-256 (docs/server.md)."""

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import update
from sqlmodel import Session, col, select

from server.domain import audit, crud
from server.domain.security import hash_secret, new_token, token_hash
from server.domain.tokens import DEVICE_TOKEN_MAX
from server.models.auth import Tablet, User, UserCreate, UserUpdate
from server.models.plant import Station
from server.models.types import utcnow


def create_user(session: Session, actor: str, body: UserCreate) -> User:
    """Store a new user, hashing the password and PIN given (none given: none stored); audit-logged."""
    user = User.model_validate(
        body,
        update={
            "password_hash": hash_secret(body.password) if body.password else None,
            "pin_hash": hash_secret(body.pin) if body.pin else None,
        },
    )
    return crud.create(session, actor, user)


def update_user(session: Session, actor: str, user: User, body: UserUpdate) -> User:
    """Apply the fields set in `body`: a new password or PIN is hashed and audited as "credentials" (which
    ones changed, never their values), the rest as an update."""
    secrets = body.model_dump(exclude_unset=True, include={"password", "pin"})
    if secrets.get("password"):
        user.password_hash = hash_secret(secrets["password"])
    if secrets.get("pin"):
        user.pin_hash = hash_secret(secrets["pin"])
    if secrets:
        audit.record(session, actor, "User", user.id, "credentials", {"changed": sorted(secrets)})
    patch = UserUpdate.model_validate(body.model_dump(exclude_unset=True, exclude={"password", "pin"}))
    return crud.update(session, actor, user, patch)


@dataclass(frozen=True)
class Enrolled:
    tablet: Tablet
    device_token: str  # for API clients that are the tablet; browsers get theirs by the link
    code: str  # the one-time enrollment link's


def enroll_tablet(session: Session, actor: str, station: Station, name: str, minutes: int) -> Enrolled:
    """A new tablet bound to `station`, its device token and a one-time enrollment code valid `minutes`
    (both shown once; only their hashes are stored)."""
    token, code = new_token(), new_token()
    until = utcnow() + timedelta(minutes=minutes)
    tablet = Tablet(station_id=station.id or 0, name=name, device_token_hash=token_hash(token),
                    enroll_code_hash=token_hash(code), enroll_expires_at=until)  # fmt: skip
    return Enrolled(crud.create(session, actor, tablet), token, code)


def enroll_url(public_url: str, code: str) -> str:
    """The enrollment link of a code: opened once on the tablet (server/web/station.py)."""
    return f"{public_url.rstrip('/')}/station/enroll?token={code}"


def new_enrollment_link(session: Session, actor: str, tablet: Tablet, minutes: int) -> str:
    """A fresh one-time enrollment code for `tablet` (the previous one no longer works); audit-logged."""
    code = new_token()
    tablet.enroll_code_hash, tablet.enroll_expires_at = (
        token_hash(code),
        utcnow() + timedelta(minutes=minutes),
    )
    session.add(tablet)
    audit.record(session, actor, "Tablet", tablet.id, "enrollment_link", {"minutes": minutes})
    session.commit()
    return code


def redeem_enrollment(session: Session, code: str) -> tuple[Tablet, str] | None:
    """Use an enrollment code once: the tablet gets a new device token (the old one stops working) and the
    code is spent, in one conditional UPDATE so two browsers racing for one link cannot both win. None for
    an unknown, spent, expired or revoked one."""
    token = new_token()
    spent = session.execute(
        update(Tablet)
        .where(
            col(Tablet.enroll_code_hash) == token_hash(code[:DEVICE_TOKEN_MAX]),
            col(Tablet.enroll_expires_at) > utcnow(),
            col(Tablet.revoked).is_(False),
        )
        .values(
            device_token_hash=token_hash(token),
            enroll_code_hash=None,
            enroll_expires_at=None,
            enrolled_at=utcnow(),
        )
    )
    session.commit()
    if spent.rowcount != 1:  # type: ignore[attr-defined]
        return None
    tablet = session.exec(select(Tablet).where(Tablet.device_token_hash == token_hash(token))).one()
    return tablet, token

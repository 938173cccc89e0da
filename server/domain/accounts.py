"""Creating users and enrolling tablets: passwords and PINs are stored only as argon2 hashes, a tablet's
device token only as its SHA-256 (docs/server.md)."""

from sqlmodel import Session

from server.domain import audit, crud
from server.domain.security import hash_secret, new_token, token_hash
from server.models.auth import Tablet, User, UserCreate, UserUpdate
from server.models.plant import Station


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


def enroll_tablet(session: Session, actor: str, station: Station, name: str) -> tuple[Tablet, str]:
    """A new tablet bound to `station`, and its device token (shown once; only its hash is stored)."""
    token = new_token()
    tablet = Tablet(station_id=station.id or 0, name=name, device_token_hash=token_hash(token))
    return crud.create(session, actor, tablet), token

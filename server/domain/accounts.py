"""Creating users and enrolling tablets: passwords and PINs are stored only as argon2 hashes, a tablet's
device token only as its SHA-256 (docs/server.md)."""

from sqlmodel import Session

from server.domain import crud
from server.domain.security import hash_secret, new_token, token_hash
from server.models.auth import Tablet, User, UserCreate
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


def enroll_tablet(session: Session, actor: str, station: Station, name: str) -> tuple[Tablet, str]:
    """A new tablet bound to `station`, and its device token (shown once; only its hash is stored)."""
    token = new_token()
    tablet = Tablet(station_id=station.id or 0, name=name, device_token_hash=token_hash(token))
    return crud.create(session, actor, tablet), token

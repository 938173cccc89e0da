"""Creating users: their password and PIN are stored only as argon2 hashes (docs/server.md)."""

from sqlmodel import Session

from server.domain import crud
from server.domain.security import hash_secret
from server.models.auth import User, UserCreate


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

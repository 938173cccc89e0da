"""Idempotency-Key handling: the key's row is inserted first, in its own committed transaction.

- first request: the row (scope, key, request hash, state in_flight) is inserted; the work then stores
  its response in that row in the same transaction as the work itself (`complete`);
- same key, same request, done: the stored status and body are returned again;
- same key, different request: InvalidInput (422);
- same key while the first is still in flight: Conflict (409). A row left in flight by a crash is
  taken over after `STALE_AFTER`.

`once` runs a piece of work with all of that; the work stores its response through the `Store` it is given.
"""

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

from sqlalchemy import Engine, delete, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from server.core.db import writer
from server.core.errors import Conflict, InvalidInput, ServerError
from server.models.production import IdempotencyRecord
from server.models.types import utcnow

STALE_AFTER = timedelta(minutes=2)
R = TypeVar("R")
Store = Callable[[Session, int, Any], None]  # (the work's session, status, body), before it commits


@dataclass(frozen=True)
class Claim:
    record_id: int | None = None  # set when this request owns the key and must do the work
    status: int | None = None  # set (with body) when a stored response is to be replayed
    body: Any = None


@dataclass(frozen=True)
class Replay:
    """The stored response of an earlier request with the same key and body."""

    status: int
    body: Any


def request_hash(payload: Any) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def claim(engine: Engine, scope: str, key: str, digest: str) -> Claim:
    with Session(writer(engine)) as session:
        session.add(IdempotencyRecord(scope=scope, key=key, request_hash=digest))
        try:
            session.commit()
        except IntegrityError:
            session.rollback()
        else:
            record = session.exec(
                select(IdempotencyRecord).where(
                    IdempotencyRecord.scope == scope, IdempotencyRecord.key == key
                )
            ).one()
            return Claim(record_id=record.id)
        return _existing(session, scope, key, digest)


def _existing(session: Session, scope: str, key: str, digest: str) -> Claim:
    stmt = select(IdempotencyRecord).where(IdempotencyRecord.scope == scope, IdempotencyRecord.key == key)
    record = session.exec(stmt).one()
    if record.request_hash != digest:
        raise InvalidInput("Idempotency-Key was already used with a different request")
    if record.state == "done":
        return Claim(status=record.response_status, body=record.response_body)
    if record.created_at < utcnow() - STALE_AFTER and _take_over(session, record):
        return Claim(record_id=record.id)
    raise Conflict("a request with this Idempotency-Key is still in progress; retry later")


def _take_over(session: Session, record: IdempotencyRecord) -> bool:
    """Claim a stale in-flight row; only one of several racing takers wins."""
    stmt = (
        update(IdempotencyRecord)
        .where(col(IdempotencyRecord.id) == record.id, col(IdempotencyRecord.created_at) == record.created_at)
        .values(created_at=utcnow())
    )
    won = session.execute(stmt).rowcount == 1  # type: ignore[attr-defined]
    session.commit()
    return bool(won)


def complete(session: Session, record_id: int, status: int, body: Any) -> None:
    """Store the response in the work's own transaction (the caller commits)."""
    record = session.get(IdempotencyRecord, record_id)
    assert record is not None
    record.state, record.response_status, record.response_body = "done", status, body
    session.add(record)


def store_error(engine: Engine, record_id: int, status: int, body: Any) -> None:
    """Remember a refused request's answer, so a retry gets the same answer."""
    with Session(writer(engine)) as session:
        complete(session, record_id, status, body)
        session.commit()


def forget(engine: Engine, record_id: int) -> None:
    """Drop the key after an unexpected failure, so a retry does the work."""
    with Session(writer(engine)) as session:
        session.execute(delete(IdempotencyRecord).where(col(IdempotencyRecord.id) == record_id))
        session.commit()


def _detail(err: ServerError) -> Any:
    return {"detail": err.message}


def once(
    engine: Engine, session: Session, scope: str, key: str, request: Any, work: Callable[[Store], R],
    refused: Callable[[ServerError], Any] = _detail,
) -> R | Replay:  # fmt: skip
    """Do `work` once per (scope, key) and `request`, or return the stored response (`Replay`).

    `work` must call the `Store` it gets in its own transaction, before committing. A refusal (ServerError)
    is stored as `refused(err)` and raised; any other failure forgets the key, so a retry does the work."""
    claimed = claim(engine, scope, key, request_hash(request))
    if claimed.record_id is None:
        return Replay(claimed.status or 200, claimed.body)
    record_id = claimed.record_id

    def store(tx: Session, status: int, body: Any) -> None:
        complete(tx, record_id, status, body)

    try:
        return work(store)
    except ServerError as err:
        session.rollback()
        store_error(engine, record_id, err.status, refused(err))
        raise
    except BaseException:
        session.rollback()
        forget(engine, record_id)
        raise

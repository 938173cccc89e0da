"""Answering a write that carries an Idempotency-Key: do the work once, or send the stored answer again
(docs/api.md, "Idempotency-Key")."""

from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import Header
from fastapi.responses import JSONResponse
from sqlalchemy import Engine
from sqlmodel import Session

from server.domain import idempotency

R = TypeVar("R")
IdempotencyKey = Annotated[str | None, Header(max_length=200)]  # the optional Idempotency-Key header


def once_or_replay(
    engine: Engine,
    session: Session,
    scope: str,
    key: str,
    request: Any,
    work: Callable[[idempotency.Store], R],
) -> R | JSONResponse:
    """`idempotency.once`, with a replay answered as the stored status and JSON body."""
    done = idempotency.once(engine, session, scope, key, request, work)
    if isinstance(done, idempotency.Replay):
        return JSONResponse(done.body, status_code=done.status)
    return done

"""The alert outbox: messages are added in the caller's transaction (with the episode that caused them), then
claimed one at a time under a lease by whichever sender gets there first (server/notify/sender.py).

A claim is one conditional UPDATE (`... WHERE state = 'pending' AND the lease is free`): on SQLite writes are
serialised, on PostgreSQL the second of two concurrent UPDATEs re-checks the row after the first commits, so
exactly one replica holds a message at a time. A sender killed while holding one leaves the lease to expire;
another then sends it. If it was killed after the provider took the message but before the commit, the
message goes out twice: webhooks carry `X-Takt-Delivery` for that; chat robots have no such key.
"""

from dataclasses import dataclass

from pydantic import BaseModel
from sqlalchemy import or_, update
from sqlmodel import Session, col, select

from server.core.db import lock_for_write
from server.core.errors import Msgid, NotFound
from server.models.alerts import AlertAttempt, AlertChannel, AlertMessage


@dataclass(frozen=True)
class Retry:
    """Backoff: first retry after `base_s`, doubling up to `max_s`; given up after `attempts` tries."""

    base_s: float
    max_s: float
    attempts: int

    def delay_ms(self, tries: int) -> int:
        return int(1000 * min(self.max_s, self.base_s * 2 ** max(0, tries - 1)))


def enqueue(
    session: Session, channel_id: int, purpose: str, title: str, body: str, now: int,
    not_before: int | None = None, to_address: str | None = None,
) -> AlertMessage:  # fmt: skip
    """Add a message to the outbox; the caller commits (with whatever decided to send it)."""
    message = AlertMessage(
        channel_id=channel_id, to_address=to_address, purpose=purpose, title=title[:200], body=body,
        created_ms=now, not_before_ms=max(now, not_before or now),
    )  # fmt: skip
    session.add(message)
    return message


def due(session: Session, now: int, limit: int) -> list[int]:
    """Ids of pending messages whose time has come, on enabled channels, not leased by a live sender."""
    stmt = (
        select(AlertMessage.id)
        .join(AlertChannel, col(AlertChannel.id) == AlertMessage.channel_id)
        .where(AlertMessage.state == "pending", AlertMessage.not_before_ms <= now, col(AlertChannel.enabled))
        .where(or_(col(AlertMessage.lease_until_ms).is_(None), col(AlertMessage.lease_until_ms) < now))
        .order_by(col(AlertMessage.id))
        .limit(limit)
    )
    return [int(i) for i in session.exec(stmt).all() if i is not None]


def claim(session: Session, message_id: int, owner: str, now: int, lease_ms: int) -> bool:
    """Take `message_id` for `owner` until now + lease_ms; False when another sender has it or it is done."""
    stmt = (
        update(AlertMessage)
        .where(col(AlertMessage.id) == message_id, col(AlertMessage.state) == "pending")
        .where(or_(col(AlertMessage.lease_until_ms).is_(None), col(AlertMessage.lease_until_ms) < now))
        .values(lease_owner=owner, lease_until_ms=now + lease_ms)
    )
    taken = session.exec(stmt).rowcount == 1  # type: ignore[call-overload]
    session.commit()
    return taken


def record(
    session: Session,
    message_id: int,
    owner: str,
    now: int,
    answer: tuple[bool, int | None, str],
    retry: Retry,
) -> AlertMessage:
    """Record one attempt and its answer; sent, retried later (backoff) or given up, and free the lease."""
    ok, status, text = answer
    lock_for_write(session)  # the send took a while: others wrote meanwhile (SQLite: a fresh write lock)
    message = session.get(AlertMessage, message_id, with_for_update=True)
    assert message is not None
    session.add(AlertAttempt(message_id=message_id, at_ms=now, ok=ok, status=status, answer=text[:500]))
    channel = session.get(AlertChannel, message.channel_id)
    assert channel is not None
    message.attempts += 1
    if message.lease_owner == owner:
        message.lease_owner, message.lease_until_ms = None, None
    if ok:
        message.state, message.sent_ms, channel.failures, channel.last_error = "sent", now, 0, None
    else:
        channel.last_error, channel.last_error_ms = text[:500], now
        if message.attempts >= retry.attempts:
            message.state = "failed"
            channel.failures += 1
        else:
            message.not_before_ms = now + retry.delay_ms(message.attempts)
    session.add(message)
    session.add(channel)
    session.commit()
    return message


def attempts(session: Session, message_id: int) -> list[AlertAttempt]:
    stmt = select(AlertAttempt).where(AlertAttempt.message_id == message_id).order_by(col(AlertAttempt.id))
    return list(session.exec(stmt).all())


def recent(session: Session, limit: int = 50) -> list[AlertMessage]:
    stmt = select(AlertMessage).order_by(col(AlertMessage.id).desc()).limit(limit)
    return list(session.exec(stmt).all())


class AttemptPublic(BaseModel):
    at_ms: int
    ok: bool
    status: int | None
    answer: str


class MessagePublic(BaseModel):
    id: int
    channel_id: int
    purpose: str
    title: str
    state: str
    attempts: int
    created_ms: int
    sent_ms: int | None
    tries: list[AttemptPublic]


def message_public(session: Session, message: AlertMessage) -> MessagePublic:
    tries = [
        AttemptPublic(at_ms=a.at_ms, ok=a.ok, status=a.status, answer=a.answer)
        for a in attempts(session, message.id or 0)
    ]
    return MessagePublic(
        id=message.id or 0, channel_id=message.channel_id, purpose=message.purpose, title=message.title,
        state=message.state, attempts=message.attempts, created_ms=message.created_ms,
        sent_ms=message.sent_ms, tries=tries,
    )  # fmt: skip


def get_message(session: Session, message_id: int) -> MessagePublic:
    message = session.get(AlertMessage, message_id)
    if message is None:
        raise NotFound("%(what)s with %(key)s not found", what=Msgid("Message"), key=message_id)
    return message_public(session, message)

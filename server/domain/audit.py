"""The audit log: every write calls `record()` in its own transaction's session."""

from datetime import date, datetime, time
from typing import Any

from sqlmodel import Session, SQLModel

from server.models.audit import AuditLog

SECRET_FIELDS = frozenset({"password_hash", "pin_hash", "token_hash", "device_token_hash", "password", "pin"})


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return value


def snapshot(obj: SQLModel) -> dict[str, Any]:
    """The fields of a row as JSON-friendly values, secrets left out."""
    return {k: _plain(v) for k, v in obj.model_dump().items() if k not in SECRET_FIELDS}


def changes(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[Any]]:
    """{field: [old, new]} for fields that changed."""
    return {k: [before.get(k), v] for k, v in after.items() if before.get(k) != v}


def record(
    session: Session, actor: str, entity: str, entity_id: object, action: str, diff: dict[str, Any] | None
) -> None:
    session.add(AuditLog(actor=actor, entity=entity, entity_id=str(entity_id), action=action, diff=diff))

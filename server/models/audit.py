"""The audit log: one row per change (who, when, entity, id, action, diff)."""

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index
from sqlmodel import Field, SQLModel

from server.models.types import UTCDateTime, utcnow


class AuditLog(SQLModel, table=True):
    __table_args__ = (Index("ix_audit_entity", "entity", "entity_id"),)
    id: int | None = Field(default=None, primary_key=True)
    ts: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    actor: str = Field(max_length=100)
    entity: str = Field(max_length=64)
    entity_id: str = Field(max_length=100)
    action: str = Field(max_length=32)
    diff: Any = Field(default=None, sa_column=Column(JSON))


class AuditPublic(SQLModel):
    id: int
    ts: datetime
    actor: str
    entity: str
    entity_id: str
    action: str
    diff: Any

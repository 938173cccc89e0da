"""The audit log, read-only (admin and supervisors)."""

from typing import Annotated

from fastapi import APIRouter, Query
from sqlmodel import col, select

from server.api.deps import Page, PagingDep, Supervisor, paged
from server.core.db import SessionDep
from server.models.audit import AuditLog, AuditPublic

router = APIRouter(tags=["audit"])


@router.get("/audit", response_model=Page[AuditPublic])
def list_audit(
    session: SessionDep,
    _: Supervisor,
    paging: PagingDep,
    entity: Annotated[str | None, Query(max_length=200)] = None,
    entity_id: Annotated[str | None, Query(max_length=200)] = None,
    actor: Annotated[str | None, Query(max_length=200)] = None,
) -> Page[AuditLog]:
    stmt = select(AuditLog).order_by(col(AuditLog.id).desc())
    if entity is not None:
        stmt = stmt.where(AuditLog.entity == entity)
    if entity_id is not None:
        stmt = stmt.where(AuditLog.entity_id == entity_id)
    if actor is not None:
        stmt = stmt.where(AuditLog.actor == actor)
    return paged(session, stmt, paging)

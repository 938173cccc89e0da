"""Edge registrations (admin): which edge ids may publish and which machines each owns; a new edge id
that published appears here as pending approval. See server/domain/edges.py and docs/reliability.md."""

import time

from fastapi import APIRouter
from pydantic import BaseModel, Field
from sqlmodel import col, select

from server.api.deps import Admin
from server.core.db import SessionDep
from server.domain import edges
from server.models.plant import Site
from shared.topics import ID_PATTERN

router = APIRouter(prefix="/edge-registry", tags=["ingest"])
EdgeIdField = Field(pattern=f"^{ID_PATTERN}$")


class EdgeRegistrationPublic(BaseModel):
    edge_id: str
    site: str
    state: str  # approved | pending | revoked
    machines: list[str]  # the machines it owns (may publish)
    announced: list[str]  # the machines it named while not approved
    refused: int  # messages refused while not approved
    held_future: int  # samples held for being stamped too far ahead (never applied)
    first_seen_ms: int | None
    changed_ms: int | None
    changed_by: str | None


class EdgeRegister(BaseModel):
    edge_id: str = EdgeIdField
    site: str | None = Field(default=None, pattern=f"^{ID_PATTERN}$")  # default: the server's site
    machines: list[str] = Field(default_factory=list, max_length=1000)


class EdgeApprove(BaseModel):
    machines: list[str] | None = Field(default=None, max_length=1000)  # default: what it announced


def _public(view: edges.EdgeView) -> EdgeRegistrationPublic:
    return EdgeRegistrationPublic.model_validate(view, from_attributes=True)


def _now() -> int:
    return int(time.time() * 1000)


@router.get("", response_model=list[EdgeRegistrationPublic])
def list_registrations(session: SessionDep, _: Admin) -> list[EdgeRegistrationPublic]:
    """Every edge: pending approval first, then revoked, then approved."""
    return [_public(v) for v in edges.overview(session)]


@router.post("", response_model=EdgeRegistrationPublic)
def register(body: EdgeRegister, session: SessionDep, who: Admin) -> EdgeRegistrationPublic:
    """Register (approve) an edge with the machines it may publish (codes in its site)."""
    site = body.site or _default_site(session)
    edges.register(session, body.edge_id, site, who.username, _now())
    session.flush()
    view = edges.approve(session, body.edge_id, who.username, _now(), body.machines)
    session.commit()
    return _public(view)


@router.post("/{edge_id}/approve", response_model=EdgeRegistrationPublic)
def approve(
    edge_id: str, session: SessionDep, who: Admin, body: EdgeApprove | None = None
) -> EdgeRegistrationPublic:
    view = edges.approve(session, edge_id, who.username, _now(), body.machines if body else None)
    session.commit()
    return _public(view)


@router.post("/{edge_id}/revoke", response_model=EdgeRegistrationPublic)
def revoke(edge_id: str, session: SessionDep, who: Admin) -> EdgeRegistrationPublic:
    view = edges.revoke(session, edge_id, who.username, _now())
    session.commit()
    return _public(view)


def _default_site(session: SessionDep) -> str:
    first = session.exec(select(Site.code).order_by(col(Site.id))).first()
    return first or "demo"

"""Admin page of edge registrations: which edges may publish and which machines each owns; a new edge
that published waits here for approval (server/domain/edges.py, docs/reliability.md)."""

import time
from typing import Annotated

from fastapi import APIRouter, Form, Request, Response

from server.core.db import SessionDep
from server.core.i18n import N_
from server.domain import edges
from server.web.auth import AdminUser, SameOrigin
from server.web.forms import done
from server.web.routing import PageRoute
from server.web.templates import templates

router = APIRouter(route_class=PageRoute)
PAGE = "/admin/edges"


@router.get(PAGE)
def edges_page(request: Request, session: SessionDep, who: AdminUser) -> Response:
    return templates.TemplateResponse(
        request, "admin/edges.html", {"rows": edges.overview(session), "who": who}
    )


@router.post(PAGE + "/{edge_id}/approve")
def approve_edge(
    edge_id: str,
    session: SessionDep,
    who: AdminUser,
    _origin: SameOrigin,
    machines: Annotated[str, Form(max_length=5000)] = "",
) -> Response:
    """Approve with the machine codes typed (space or comma separated), else with what it named."""
    codes = machines.replace(",", " ").split() or None
    edges.approve(session, edge_id, who.username, int(time.time() * 1000), codes)
    session.commit()
    return done(PAGE, N_("Edge approved"))


@router.post(PAGE + "/{edge_id}/revoke")
def revoke_edge(edge_id: str, session: SessionDep, who: AdminUser, _origin: SameOrigin) -> Response:
    edges.revoke(session, edge_id, who.username, int(time.time() * 1000))
    session.commit()
    return done(PAGE, N_("Edge revoked"))

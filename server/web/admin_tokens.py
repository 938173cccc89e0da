"""`/admin/tokens`: the live bearer tokens (API tokens, web and operator sessions) and revoking one."""

import logging

from fastapi import APIRouter, Request, Response

from server.core.db import SessionDep
from server.core.i18n import N_
from server.core.services import SettingsDep
from server.domain import api_tokens, sites
from server.web.auth import AdminUser, SameOrigin
from server.web.forms import done
from server.web.routing import PageRoute
from server.web.templates import templates

log = logging.getLogger(__name__)
router = APIRouter(route_class=PageRoute)
SHOWN = 500  # the newest live tokens on the page; the API pages through all of them


@router.get("/admin/tokens")
def tokens(request: Request, session: SessionDep, settings: SettingsDep, who: AdminUser) -> Response:
    rows, total = api_tokens.live_tokens(session, SHOWN, 0)
    context = {"rows": rows, "total": total, "who": who, "time": sites.site_time(session, settings.site)}
    return templates.TemplateResponse(request, "admin/tokens.html", context)


@router.post("/admin/tokens/{token_id}/revoke")
def revoke(token_id: int, session: SessionDep, who: AdminUser, _origin: SameOrigin) -> Response:
    api_tokens.revoke(session, who.username, token_id)
    return done("/admin/tokens", N_("Token revoked"))

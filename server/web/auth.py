"""Sign-in for the pages.

- Boss/admin pages: `/login` (username + password, `signin.password_sign_in`) sets the `takt_session` cookie
  (httponly, SameSite=Strict, expiring after `TAKT_SESSION_HOURS`); `/logout` revokes the token.
- Station tablets: the `takt_device` cookie (set by the enrollment link) and, after badge + PIN, the
  `takt_op` cookie holding the operator's station-bound session token (`signin.badge_sign_in`).
- CSRF: every cookie-authenticated POST passes `check_origin` (Origin, else Referer, must be this server),
  on top of SameSite=Strict session cookies. JSON API calls use `Authorization: Bearer` (not CSRF-able).
"""

import logging
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, Request
from sqlmodel import Session

from server.api.deps import SettingsDep
from server.core.db import SessionDep
from server.core.errors import Unauthorized
from server.core.i18n import N_
from server.core.services import services_of
from server.domain.principals import Principal, authenticate
from server.web.errors import CsrfRejected, LoginRequired, PageForbidden

log = logging.getLogger(__name__)

SESSION_COOKIE = "takt_session"
OPERATOR_COOKIE = "takt_op"
DEVICE_COOKIE = "takt_device"


def check_origin(request: Request) -> None:
    """Refuse a POST whose Origin (or, without one, Referer) is not this server."""
    source = request.headers.get("origin") or request.headers.get("referer")
    if not source:
        raise CsrfRejected(N_("missing Origin header on a form post"))
    parts = urlsplit(source)
    if parts.netloc != request.headers.get("host", request.url.netloc):
        log.warning("cross-site POST to %s from %s refused", request.url.path, parts.netloc)
        raise CsrfRejected(N_("cross-site form post refused"))


SameOrigin = Annotated[None, Depends(check_origin)]


def cookie_principal(session: Session, request: Request, cookie: str) -> Principal | None:
    token = request.cookies.get(cookie)
    if not token:
        return None
    try:
        return authenticate(session, services_of(request.app).settings, token)
    except Unauthorized:
        return None


def page_user(request: Request, session: SessionDep) -> Principal:
    principal = cookie_principal(session, request, SESSION_COOKIE)
    if principal is None:
        raise LoginRequired(next_url=request.url.path)
    return principal


def page_role(*roles: str) -> object:
    """A dependency: the signed-in user if admin or one of `roles`, else a 403 page."""

    def check(principal: Annotated[Principal, Depends(page_user)]) -> Principal:
        if principal.role != "admin" and principal.role not in roles:
            raise PageForbidden(N_("Your role may not open this page."))
        return principal

    return Depends(check)


BossUser = Annotated[Principal, page_role("supervisor", "planner", "inspector")]  # inspectors: quality
AdminUser = Annotated[Principal, page_role()]
PlannerUser = Annotated[Principal, page_role("planner")]
SupervisorUser = Annotated[Principal, page_role("supervisor", "planner")]  # e.g. reopen a completed step
REOPENERS = frozenset({"admin", "supervisor", "planner"})


__all__ = ["SettingsDep"]

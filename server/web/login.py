"""`/login` and `/logout` for the boss and admin pages; `/` sends each role to its home page."""

from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import RedirectResponse

from server.api.deps import SettingsDep, client_address
from server.core.db import SessionDep
from server.core.errors import Locked, Unauthorized
from server.core.i18n import N_
from server.core.services import ServicesDep
from server.domain import signin, tokens
from server.web.auth import SESSION_COOKIE, SameOrigin, cookie_principal
from server.web.routing import PageRoute
from server.web.templates import templates

router = APIRouter(route_class=PageRoute)
HOME = {
    "admin": "/admin", "planner": "/admin", "supervisor": "/boss", "inspector": "/boss", "payroll": "/wages",
}  # fmt: skip


def _safe_next(next_url: str | None) -> str | None:
    """Only local paths (no scheme, no host, no `//`) may be redirect targets."""
    if not next_url or not next_url.startswith("/") or next_url.startswith("//"):
        return None
    parts = urlsplit(next_url)
    return None if parts.scheme or parts.netloc else next_url


@router.get("/")
def home(request: Request, session: SessionDep) -> Response:
    principal = cookie_principal(session, request, SESSION_COOKIE)
    if principal is None:
        return RedirectResponse("/login", status_code=303)
    return RedirectResponse(HOME.get(principal.role, "/login"), status_code=303)


@router.get("/login")
def login_form(request: Request, next: str | None = None) -> Response:
    return templates.TemplateResponse(request, "login.html", {"next": _safe_next(next) or "", "error": None})


@router.post("/login")
def login(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    services: ServicesDep,
    _origin: SameOrigin,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=200)],
    next: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    try:
        source = client_address(request)
        signin.admit(services.signin_limiter, source)
        issued = signin.password_sign_in(session, settings, username, password, source)
    except Locked:
        return _login_error(request, next, N_("Too many failed sign-ins. Try again later."), 429)
    except Unauthorized:
        return _login_error(request, next, N_("Wrong username or password."), 401)
    tokens.expire_session_token(session, issued.token, settings.session_hours)
    target = _safe_next(next) or HOME.get(issued.user.role, "/boss")
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        issued.token,
        max_age=settings.session_hours * 3600,
        httponly=True,
        samesite="strict",
        path="/",
    )
    return response


def _login_error(request: Request, next_url: str, message: str, status: int) -> Response:
    context = {"next": _safe_next(next_url) or "", "error": message}
    return templates.TemplateResponse(request, "login.html", context, status_code=status)


@router.post("/logout")
def logout(request: Request, session: SessionDep, _origin: SameOrigin) -> Response:
    tokens.revoke_session_token(session, request.cookies.get(SESSION_COOKIE))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response

"""`PageRoute`: the route class of every page router. It remembers `?lang=` in a cookie and renders errors
(PageError, the services' ServerError, a submitted form's invalid values) as a translated HTML page instead of
JSON; 401 on a page redirects to the sign-in page. JSON bodies (the station tablet's fetches) keep FastAPI's
422 JSON."""

import logging
from collections.abc import Callable, Coroutine
from typing import Any
from urllib.parse import quote

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse
from fastapi.routing import APIRoute

from server.core.errors import ServerError
from server.core.i18n import COOKIE, COOKIE_MAX_AGE, chosen_lang, request_error_text
from server.web.errors import LoginRequired, PageError
from server.web.forms import invalid
from server.web.templates import templates

log = logging.getLogger(__name__)
Handler = Callable[[Request], Coroutine[Any, Any, Response]]


def error_page(request: Request, status: int, message: str) -> Response:
    context = {"status": status, "message": message}
    return templates.TemplateResponse(request, "error.html", context, status_code=status)


class PageRoute(APIRoute):
    def get_route_handler(self) -> Handler:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                response = await _handle(handler, request)
            except LoginRequired as err:
                response = RedirectResponse(f"/login?next={quote(err.next_url, safe='/')}", status_code=303)
            except PageError as err:
                log.info("page %s -> %s: %s", request.url.path, err.status, err.message)
                response = error_page(request, err.status, request_error_text(request, err))
            except ServerError as err:  # the message in the page's language (msgid + parameters)
                log.info("page %s -> %s: %s", request.url.path, err.status, err.message)
                response = error_page(request, err.status, request_error_text(request, err))
            lang = chosen_lang(request)
            if lang is not None:
                response.set_cookie(COOKIE, lang, max_age=COOKIE_MAX_AGE, samesite="lax", path="/")
            return response

        return route


async def _handle(handler: Handler, request: Request) -> Response:
    """The handler's response; invalid values of a submitted form or of a page the browser opened (its
    query or path) become `FormInvalid` (a translated page). Scripts' JSON keeps FastAPI's 422 JSON."""
    try:
        return await handler(request)
    except RequestValidationError as err:
        if not (_is_form(request) or _is_navigation(request)):
            raise
        raise invalid(err.errors()) from err


def _is_form(request: Request) -> bool:
    kind = request.headers.get("content-type", "")
    return kind.startswith(("application/x-www-form-urlencoded", "multipart/form-data"))


def _is_navigation(request: Request) -> bool:
    return request.method == "GET" and "text/html" in request.headers.get("accept", "")

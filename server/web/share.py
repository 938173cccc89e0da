"""The customer's share link: `/s/{token}` (HTML), `/s/{token}.json`, `/s/{token}/qr.svg|png`, `/logo.png`.

Missing, expired and revoked tokens all get the same 404 body; every answer is rate limited per client IP
(429) and carries `Referrer-Policy: no-referrer`, `X-Robots-Tag: noindex`, `Cache-Control: no-store`.
"""

import io
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import segno
from fastapi import APIRouter, Request, Response
from fastapi.responses import FileResponse
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from server.core.i18n import get_locale
from server.core.services import Services, ServicesDep, SettingsDep
from server.core.settings import Settings
from server.domain.share_sales_view import view_of
from server.domain.sharelinks import live_link
from server.domain.uploads import SAFE_HEADERS
from server.models.auth import ShareLink
from server.web.cache import TtlCache
from server.web.ratelimit import RateLimiter
from server.web.routing import PageRoute
from server.web.templates import templates

log = logging.getLogger(__name__)
router = APIRouter(route_class=PageRoute)
DEFAULT_LOGO = Path(__file__).resolve().parent / "static" / "logo.png"
HEADERS = {"Referrer-Policy": "no-referrer", "X-Robots-Tag": "noindex", "Cache-Control": "no-store"}
NOT_FOUND = b"<!doctype html><title>404</title><p>Not found / \xe6\x9c\xaa\xe6\x89\xbe\xe5\x88\xb0</p>"


def make_share_guards(settings: Settings) -> tuple[RateLimiter, TtlCache]:
    """The app's rate limiter and rendered-view cache of `/s/...` (kept in `Services`, made at start)."""
    limiter = RateLimiter(settings.share_rate_per_minute, settings.share_rate_burst)
    return limiter, TtlCache(settings.share_cache_s)


def _gate(services: Services, request: Request, token: str) -> ShareLink | Response:
    """The live link, or the response to send instead (429 over the rate, the one 404 otherwise).

    Runs on the event loop: one indexed lookup, cheaper than a thread hop; revocation and expiry are
    therefore checked on every request, only the rendered view is cached (`share_cache_s`)."""
    client = request.client.host if request.client else "?"
    if not services.share_limiter.allow(client):
        return Response(b"Too many requests", status_code=429, headers=HEADERS | {"Retry-After": "30"})
    with services.engine.connect() as conn:
        link = live_link(conn, token)
    if link is None:
        return Response(NOT_FOUND, status_code=404, media_type="text/html", headers=HEADERS)
    return link


def _view(services: Services, link: ShareLink) -> dict[str, Any]:
    with Session(services.engine) as session:
        return view_of(session, link, services.settings.site)


def share_url(settings: Settings, token: str) -> str:
    base = str(settings.public_url).rstrip("/")
    return f"{base}/s/{token}"


@router.get("/logo.png")
def logo(settings: SettingsDep) -> Response:
    """The factory's uploaded logo, else Takt's own (never a 404)."""
    path = settings.logo_path
    if not path.is_file():
        path = DEFAULT_LOGO
    headers = SAFE_HEADERS | {"Cache-Control": "public, max-age=3600"}
    return FileResponse(path, media_type="image/png", headers=headers)


@router.get("/s/{token}.json")
async def share_json(token: str, request: Request, services: ServicesDep) -> Response:
    def encode(view: dict[str, Any]) -> bytes:
        return json.dumps(view, ensure_ascii=False).encode()

    return await _cached_view(services, request, token, "json", encode, "application/json")


@router.get("/s/{token}/qr.svg")
async def share_qr_svg(token: str, request: Request, services: ServicesDep) -> Response:
    return _qr(services, request, token, qr_svg, "image/svg+xml")


@router.get("/s/{token}/qr.png")
async def share_qr_png(token: str, request: Request, services: ServicesDep) -> Response:
    return _qr(services, request, token, qr_png, "image/png")


def _qr(
    services: Services, request: Request, token: str, draw: Callable[[str], bytes], media_type: str
) -> Response:
    """The link's QR code, drawn by `draw`, behind the same gate as its page."""
    gate = _gate(services, request, token)
    if isinstance(gate, Response):
        return gate
    return Response(draw(share_url(services.settings, token)), media_type=media_type, headers=HEADERS)


@router.get("/s/{token}")
async def share_page(token: str, request: Request, services: ServicesDep) -> Response:
    def encode(view: dict[str, Any]) -> bytes:
        context = {"v": view, "token": token, "has_logo": services.settings.logo_path.is_file()}
        page = "share_sales.html" if "lines" in view else "share.html"
        return bytes(templates.TemplateResponse(request, page, context).body)

    html = "text/html; charset=utf-8"
    return await _cached_view(services, request, token, get_locale(request), encode, html)


async def _cached_view(
    services: Services,
    request: Request,
    token: str,
    variant: str,
    encode: Callable[[dict[str, Any]], bytes],
    media_type: str,
) -> Response:
    """The link's view encoded by `encode`, from the cache under (link, `variant`), behind the gate."""
    gate = _gate(services, request, token)
    if isinstance(gate, Response):
        return gate

    async def render() -> bytes:
        return encode(await run_in_threadpool(_view, services, gate))

    body = await services.share_cache.fetch((gate.id, variant), render)
    return Response(body, media_type=media_type, headers=HEADERS)


def qr_svg(data: str, scale: int = 4) -> bytes:
    buffer = io.BytesIO()
    segno.make(data, error="m").save(buffer, kind="svg", scale=scale, border=2, xmldecl=False)
    return buffer.getvalue()


def qr_png(data: str, scale: int = 8) -> bytes:
    buffer = io.BytesIO()
    segno.make(data, error="m").save(buffer, kind="png", scale=scale, border=2)
    return buffer.getvalue()

"""The FastAPI app: `create_app(settings)` builds it; its lifespan makes the engine, migrates the database,
starts the live events' fan-out across replicas on PostgreSQL (`server.ingest.fanout`) and ingestion
(`server.ingest.Ingestor`) when MQTT is enabled."""

import asyncio
import importlib
import importlib.util
import inspect
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine, make_url
from sqlalchemy.exc import DataError

from server.api import ROUTERS
from server.config import Settings, get_settings
from server.db import init_db, make_engine
from server.errors import ServerError
from server.ingest import events
from server.ingest.fanout import Fanout, conninfo_of
from server.middleware import BodyLimitMiddleware
from server.services import security
from server.web.i18n import request_error_text

log = logging.getLogger(__name__)
API_PREFIX = "/api/v1"
# Other engineers' API routers, included under /api/v1 when their modules exist.
OPTIONAL_API = ("server.api.ingest", "server.api.reports")
STATIC = Path(__file__).resolve().parent / "web" / "static"


def _optional(module: str) -> Any | None:
    """Import `module` if it exists (another engineer's part); real import errors still raise."""
    if importlib.util.find_spec(module) is None:
        return None
    return importlib.import_module(module)


async def _call(result: Any) -> None:
    if inspect.isawaitable(result):
        await result


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    engine: Engine | None = getattr(app.state, "engine", None)
    if engine is None:
        engine = make_engine(settings.database_url)
        app.state.engine = engine
    init_db(engine)
    fanout = _start_fanout(settings, engine)
    app.state.fanout = fanout
    try:
        ingestor = await _start_ingestor(settings, engine)
        app.state.ingestor = ingestor
        log.info("takt server ready (site %s, database %s)", settings.site, engine.dialect.name)
        try:
            yield
        finally:
            if ingestor is not None:
                await _call(ingestor.stop())
    finally:
        if fanout is not None:  # after ingestion: its last events are still sent
            await asyncio.to_thread(fanout.stop)


def _start_fanout(settings: Settings, engine: Engine) -> Fanout | None:
    """Live events to and from the other replicas; SQLite is one process: nothing to do. LISTEN needs
    a session of its own: through a transaction-mode pooler it would hear nothing (TAKT_LIVE_FANOUT_URL)."""
    if not settings.live_fanout or engine.dialect.name != "postgresql":
        return None
    url = make_url(settings.live_fanout_url) if settings.live_fanout_url else engine.url
    fanout = Fanout(conninfo_of(url), events.bus)
    fanout.start()
    return fanout


async def _start_ingestor(settings: Settings, engine: Engine) -> Any | None:
    ingest = _optional("server.ingest") if settings.mqtt_enabled else None
    if ingest is None or not hasattr(ingest, "Ingestor"):
        return None
    ingestor = ingest.Ingestor(settings, engine)
    await _call(ingestor.start())
    return ingestor


async def _bad_data(_request: Request, exc: Exception) -> JSONResponse:
    """A value the database cannot take (e.g. a NUL character in text): the request's fault, not ours."""
    log.info("refused a request the database cannot store: %s", type(exc).__name__)
    return JSONResponse({"detail": "invalid characters or values in the request"}, status_code=422)


async def _server_error(request: Request, exc: Exception) -> JSONResponse:
    """`detail` in English; `message` in the client's language (Accept-Language, `lang` cookie; the pages)."""
    assert isinstance(exc, ServerError)
    message = request_error_text(request, exc, default="en")
    return JSONResponse({"detail": exc.message, "message": message}, status_code=exc.status)


def create_app(settings: Settings | None = None, engine: Engine | None = None) -> FastAPI:
    """The app. `engine` (tests) replaces the one made from `settings.database_url`."""
    settings = settings or get_settings()
    settings.check_secrets()
    security.configure(settings.argon2_time_cost, settings.argon2_memory_kib)
    app = FastAPI(title="Takt", version="0.1.0", lifespan=lifespan)
    app.state.settings = settings
    if engine is not None:
        app.state.engine = engine
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_exception_handler(ServerError, _server_error)
    app.add_exception_handler(DataError, _bad_data)
    app.add_api_route("/healthz", _healthz, methods=["GET"], tags=["health"])
    for router in ROUTERS:
        app.include_router(router, prefix=API_PREFIX)
    _include_optional(app)
    return app


def _include_optional(app: FastAPI) -> None:
    for name in OPTIONAL_API:
        module = _optional(name)
        router = getattr(module, "router", None)
        if isinstance(router, APIRouter) and router not in ROUTERS:
            app.include_router(router, prefix=API_PREFIX)
    web_router = _web_router()
    if web_router is not None:
        app.include_router(web_router)
    if STATIC.is_dir():
        app.mount("/static", StaticFiles(directory=STATIC), name="static")


def _web_router() -> APIRouter | None:
    """`server.web.router`: an attribute of the package, or a module holding `router`."""
    if _optional("server.web") is None:
        return None
    web = importlib.import_module("server.web")
    candidate = getattr(web, "router", None)
    if candidate is None and _optional("server.web.router") is not None:
        candidate = getattr(importlib.import_module("server.web.router"), "router", None)
    return candidate if isinstance(candidate, APIRouter) else None


async def _healthz(request: Request) -> dict[str, Any]:
    return {"ok": True, "site": request.app.state.settings.site}

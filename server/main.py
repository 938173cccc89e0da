"""The FastAPI app: `create_app(settings)` builds it; its lifespan makes the engine, migrates the database,
makes the one historian, starts the alert sender and evaluator (`server.notify`), the live events' fan-out
across replicas on PostgreSQL (`server.ingest.fanout`) and ingestion (`server.ingest.Ingestor`) when MQTT is
enabled, and keeps them in the app's `Services` (`server/core/services.py`), which routes get through
`Depends`."""

import asyncio
import gc
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine, make_url
from sqlalchemy.exc import DataError

from server.api import ROUTERS
from server.core import events, headers
from server.core.db import init_db, make_engine
from server.core.errors import ServerError
from server.core.i18n import request_error_text
from server.core.services import Services, ServicesDep, attach
from server.core.settings import Settings, get_settings
from server.domain import security
from server.historian import Historian, make_historian
from server.ingest import Ingestor
from server.ingest.fanout import Fanout, conninfo_of
from server.notify.evaluator import Evaluator, follow
from server.notify.sender import Sender
from server.web.first_run import offer_setup
from server.web.pages import PAGE_ROUTERS
from server.web.ratelimit import RateLimiter
from server.web.share import make_share_guards

log = logging.getLogger(__name__)
API_PREFIX = "/api/v1"
STATIC = Path(__file__).resolve().parent / "web" / "static"


Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


def lifespan(settings: Settings, engine: Engine | None) -> Lifespan:
    """The app's lifespan: builds its `Services` (server/core/services.py) and stops them at the end."""

    @asynccontextmanager
    async def run(app: FastAPI) -> AsyncIterator[None]:
        own_engine = engine is None
        db = make_engine(settings.database_url) if engine is None else engine
        init_db(db)
        historian = make_historian(settings, db)
        fanout = _start_fanout(settings, db)
        try:
            ingestor = _start_ingestor(settings, db, historian)
            share_limiter, share_cache = make_share_guards(settings)
            signin_limiter = RateLimiter(settings.signin_rate_per_minute, settings.signin_rate_burst)
            sender, evaluator = _start_alerts(settings, db)
            following = asyncio.create_task(follow(events.bus, evaluator)) if evaluator is not None else None
            services = Services(
                settings, db, historian, share_limiter, share_cache, signin_limiter, ingestor, fanout,
                sender, evaluator,
            )  # fmt: skip
            services.setup_code = offer_setup(settings, db)
            attach(app, services)
            # What lives now (modules, the app, its services) leaves the collector's full scans: on a 2-core
            # box each scanned ~400k objects for 170-200 ms, which set every report's p95 (bench-year).
            # Garbage is collected first, or it would be kept forever.
            gc.collect()
            gc.freeze()
            log.info("takt server ready (site %s, database %s)", settings.site, db.dialect.name)
            try:
                yield
            finally:
                if following is not None:
                    following.cancel()
                for alerting in (evaluator, sender):
                    if alerting is not None:
                        await asyncio.to_thread(alerting.stop)
                if ingestor is not None:
                    ingestor.stop()  # closes the historian too
                else:
                    historian.close()
        finally:
            if fanout is not None:  # after ingestion: its last events are still sent
                await asyncio.to_thread(fanout.stop)
            if own_engine:
                db.dispose()

    return run


def _start_fanout(settings: Settings, engine: Engine) -> Fanout | None:
    """Live events to and from the other replicas; SQLite is one process: nothing to do. LISTEN needs
    a session of its own: through a transaction-mode pooler it would hear nothing (TAKT_LIVE_FANOUT_URL)."""
    if not settings.live_fanout or engine.dialect.name != "postgresql":
        return None
    url = make_url(settings.live_fanout_url) if settings.live_fanout_url else engine.url
    fanout = Fanout(conninfo_of(url), events.bus)
    fanout.start()
    return fanout


def _start_alerts(settings: Settings, engine: Engine) -> tuple[Sender | None, Evaluator | None]:
    """The alert outbox's sender and the rule evaluator (docs/alerts.md); every replica runs both."""
    if not settings.alerts_enabled:
        return None, None
    sender = Sender(settings, engine)
    evaluator = Evaluator(settings, engine, on_messages=sender.wake)
    sender.start()
    evaluator.start()
    return sender, evaluator


def _start_ingestor(settings: Settings, engine: Engine, historian: Historian) -> Ingestor | None:
    if not settings.mqtt_enabled:
        return None
    ingestor = Ingestor(settings, engine, historian=historian)
    ingestor.start()
    return ingestor


async def _bad_data(_request: Request, exc: Exception) -> JSONResponse:
    """A value the database or a hash cannot take: a NUL character in text, a lone surrogate (`"\\ud800"` is
    valid JSON but no UTF-8), an integer past 64 bits. The request's fault, not ours: 422, never a 500."""
    log.info("refused a request the database cannot store: %s", type(exc).__name__)
    return JSONResponse({"detail": "invalid characters or values in the request"}, status_code=422)


async def _server_error(request: Request, exc: Exception) -> JSONResponse:
    """`detail` in English; `message` in the client's language (Accept-Language, `lang` cookie; the pages)."""
    assert isinstance(exc, ServerError)
    message = request_error_text(request, exc, default="en")
    return JSONResponse({**exc.details, "detail": exc.message, "message": message}, status_code=exc.status)


def create_app(settings: Settings | None = None, engine: Engine | None = None) -> FastAPI:
    """The app. `engine` (tests) replaces the one made from `settings.database_url`."""
    settings = settings or get_settings()
    settings.check_secrets()
    security.configure(settings.argon2_time_cost, settings.argon2_memory_kib)
    # FastAPI's own body limit: 413 on a Content-Length over it before a byte is read, and on a streamed
    # (chunked) body as soon as the bytes read pass it
    app = FastAPI(
        title="Takt",
        version="0.1.0",
        lifespan=lifespan(settings, engine),
        max_body_size=settings.max_body_bytes,
    )
    app.add_exception_handler(ServerError, _server_error)
    for bad_data in (DataError, UnicodeEncodeError, OverflowError):
        app.add_exception_handler(bad_data, _bad_data)
    app.add_api_route("/healthz", _healthz, methods=["GET"], tags=["health"])
    app.add_api_route("/readyz", _readyz, methods=["GET"], tags=["health"])
    app.add_api_route("/favicon.ico", _favicon, methods=["GET"], include_in_schema=False)
    for router in ROUTERS:
        app.include_router(router, prefix=API_PREFIX)
    for page_router in PAGE_ROUTERS:
        app.include_router(page_router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    headers.install(app)
    return app


async def _favicon() -> FileResponse:
    """Browsers ask for /favicon.ico whatever the page says: a PNG answers (every browser takes one there)."""
    return FileResponse(STATIC / "favicon.png", media_type="image/png",
                        headers={"Cache-Control": "public, max-age=86400"})  # fmt: skip


async def _healthz(services: ServicesDep) -> JSONResponse:
    """Alive: 503 with the reasons when ingestion is stuck or lags beyond `TAKT_INGEST_MAX_LAG_S`."""
    body = _health(services)
    return _answer(body)


async def _readyz(services: ServicesDep) -> JSONResponse:
    """Ready for traffic: healthy, the database answers and (with MQTT on) the broker subscription holds."""
    body = _health(services)
    try:
        await asyncio.to_thread(_ping, services.engine)
    except Exception as err:
        body["reasons"].append(f"the database does not answer: {type(err).__name__}")
    ingest = body.get("ingest")
    if ingest is not None and not ingest["connected"]:
        body["reasons"].append("not subscribed at the MQTT broker")
    body["ok"] = not body["reasons"]
    return _answer(body)


def _answer(body: dict[str, Any]) -> JSONResponse:
    """200 when ok, else 503 with the reasons (`reasons` appears only then)."""
    if body["ok"]:
        del body["reasons"]
    return JSONResponse(body, status_code=200 if body["ok"] else 503)


def _health(services: Services) -> dict[str, Any]:
    body: dict[str, Any] = {"ok": True, "site": services.settings.site, "reasons": []}
    ingestor = services.ingestor
    if ingestor is not None:
        health = ingestor.health()
        body["ingest"] = {
            "connected": health.connected,
            "lag_s": health.lag_s,
            "store_failing_s": health.store_failing_s,
        }
        body["reasons"] = list(health.reasons)
        body["ok"] = health.ok
    return body


def _ping(engine: Engine) -> None:
    with engine.connect() as connection:
        connection.exec_driver_sql("SELECT 1")

"""Live updates over SSE: `/live/events[?machine=CODE]` streams the ingest events (`server.core.events.bus`:
machine state changes, counts, edge online/offline) to the boss page and station tablets. A comment line is
sent every `KEEPALIVE_S` so proxies keep the stream open and a gone client is noticed. Pages also refresh on a
timer, so a missed event only delays an update."""

import asyncio
import importlib
import importlib.util
import logging
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import StreamingResponse

from server.core.db import SessionDep
from server.core.i18n import N_
from server.domain import tokens
from server.web.auth import DEVICE_COOKIE, SESSION_COOKIE, cookie_principal
from server.web.errors import PageForbidden
from server.web.routing import PageRoute

log = logging.getLogger(__name__)
router = APIRouter(route_class=PageRoute)
KEEPALIVE_S = 15.0


def _bus() -> Any | None:
    if importlib.util.find_spec("server.core.events") is None:
        return None
    return getattr(importlib.import_module("server.core.events"), "bus", None)


def _allowed(request: Request, session: SessionDep) -> bool:
    if cookie_principal(session, request, SESSION_COOKIE) is not None:
        return True
    return tokens.enrolled_tablet(session, request.cookies.get(DEVICE_COOKIE)) is not None


async def _stream(request: Request, machine: str | None) -> AsyncIterator[str]:
    bus = _bus()
    yield "retry: 2000\n\n"
    if bus is None:
        while not await request.is_disconnected():
            await asyncio.sleep(KEEPALIVE_S)
            yield ": keepalive\n\n"
        return
    async with bus.subscribe(maxsize=200) as events:
        while True:
            try:  # the queue itself, not the async iterator: a timeout must not close a generator
                event = await asyncio.wait_for(events.queue.get(), timeout=KEEPALIVE_S)
            except TimeoutError:
                if await request.is_disconnected():
                    return
                yield ": keepalive\n\n"
                continue
            if machine is not None and getattr(event, "machine", None) not in (None, machine):
                continue
            yield f"data: {event.to_json()}\n\n"


@router.get("/live/events")
def live_events(request: Request, session: SessionDep, machine: str | None = None) -> Response:
    if not _allowed(request, session):
        raise PageForbidden(N_("sign in to follow live updates"))
    session.close()  # the stream is long; do not hold a database connection for it
    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    return StreamingResponse(_stream(request, machine), media_type="text/event-stream", headers=headers)

"""Live updates over SSE: `/live/events[?machine=CODE]` streams the live events (`server.core.events.bus`:
machine state changes, counts, edge online/offline, inspections) as JSON to the boss page and station tablets,
which apply them (docs/pages.md). FastAPI's own SSE support frames the events and sends a keep-alive comment
every 15 s, so proxies keep the stream open and a gone client is noticed. Pages also refresh on a timer, so a
missed event only delays an update."""

import logging
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.sse import EventSourceResponse, ServerSentEvent

from server.core.db import SessionDep
from server.core.events import bus
from server.core.i18n import N_
from server.domain import tokens
from server.web.auth import DEVICE_COOKIE, SESSION_COOKIE, cookie_principal
from server.web.errors import PageForbidden
from server.web.routing import PageRoute

log = logging.getLogger(__name__)
router = APIRouter(route_class=PageRoute)
RETRY_MS = 2000  # how long a browser waits before it reconnects


def follower(request: Request, session: SessionDep) -> None:
    """A signed-in user or an enrolled tablet may follow; checked before the stream starts."""
    allowed = cookie_principal(session, request, SESSION_COOKIE) is not None
    if not allowed and tokens.enrolled_tablet(session, request.cookies.get(DEVICE_COOKIE)) is None:
        raise PageForbidden(N_("sign in to follow live updates"))
    session.close()  # the stream is long; do not hold a database connection for it


@router.get("/live/events", response_class=EventSourceResponse)
async def live_events(
    _follower: Annotated[None, Depends(follower)], machine: str | None = None
) -> AsyncIterator[ServerSentEvent]:
    async with bus.subscribe(maxsize=200) as events:
        yield ServerSentEvent(retry=RETRY_MS)  # first: the client knows it is subscribed
        async for event in events:
            if machine is not None and getattr(event, "machine", None) not in (None, machine):
                continue
            yield ServerSentEvent(raw_data=event.to_json())

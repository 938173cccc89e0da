"""A pure ASGI middleware answering 413 for bodies over `max_bytes`, before any parsing.

It checks Content-Length first, then counts streamed (chunked) bytes as the app reads them.
"""

import contextlib
import json
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodyTooLarge(Exception):
    """Raised inside receive() when a streamed body passes the limit."""


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = _content_length(scope)
        if length is not None and length > self.max_bytes:
            await _too_large(send, self.max_bytes)
            return
        await _Limited(self.app, self.max_bytes, send)(scope, receive)


class _Limited:
    """One request: counts body bytes as the app reads them; past the limit, answers 413 itself at
    once and drops whatever the app then tries to send (frameworks turn a failed read into a 400)."""

    def __init__(self, app: ASGIApp, max_bytes: int, send: Send) -> None:
        self.app, self.max_bytes, self.send = app, max_bytes, send
        self.received = 0
        self.started = False
        self.refused = False

    async def __call__(self, scope: Scope, receive: Receive) -> None:
        async def limited_receive() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                self.received += len(message.get("body", b""))
                if self.received > self.max_bytes:
                    await self._refuse()
                    raise BodyTooLarge
            return message

        with contextlib.suppress(BodyTooLarge):  # already answered 413
            await self.app(scope, limited_receive, self._send)

    async def _refuse(self) -> None:
        if not self.started and not self.refused:
            self.refused = True
            await _too_large(self.send, self.max_bytes)

    async def _send(self, message: Message) -> None:
        if self.refused:
            return
        if message["type"] == "http.response.start":
            self.started = True
        await self.send(message)


def _content_length(scope: Scope) -> int | None:
    headers: list[tuple[bytes, bytes]] = scope.get("headers", [])
    for name, value in headers:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _too_large(send: Send, limit: int) -> None:
    body: dict[str, Any] = {"detail": f"request body larger than {limit} bytes"}
    raw = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(raw)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": raw})

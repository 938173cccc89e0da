"""Response headers every answer gets (docs/pages.md, "Headers"): a strict Content-Security-Policy (scripts
only from our own files, never inline; no framing), `X-Content-Type-Options: nosniff`,
`X-Frame-Options: DENY`, and `Cache-Control: no-store` on signed-in pages and the API, whose answers carry
personal data. A header a route set itself (a logo's public caching, a download's type) is kept.

Styles allow 'unsafe-inline': the pages size their progress bars with `style="width: …"` attributes, and a
style cannot run code. Compression is Starlette's GZipMiddleware, added next to this one by `install`.
"""

from fastapi import FastAPI
from starlette.datastructures import MutableHeaders
from starlette.middleware.gzip import GZipMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSP = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "font-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])  # fmt: skip
ALWAYS = {"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY", "Content-Security-Policy": CSP}
PRIVATE_PREFIXES = ("/boss", "/admin", "/station", "/reports", "/api/", "/live", "/instructions", "/login",
                    "/s/")  # fmt: skip
GZIP_MIN_BYTES = 500


def is_private(path: str) -> bool:
    """Signed-in pages, the API and share links: never stored by a browser or a proxy."""
    return path == "/" or path.startswith(PRIVATE_PREFIXES)


class SecurityHeaders:
    """Pure ASGI (streams such as the live events pass through untouched, only their start is amended)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        private = is_private(scope["path"])

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in ALWAYS.items():
                    headers.setdefault(name, value)
                if private:
                    headers.setdefault("Cache-Control", "no-store")
            await send(message)

        await self.app(scope, receive, send_with_headers)


def install(app: FastAPI) -> None:
    """Gzip inside, headers outside: the headers are set on the compressed answer too."""
    app.add_middleware(GZipMiddleware, minimum_size=GZIP_MIN_BYTES)
    app.add_middleware(SecurityHeaders)

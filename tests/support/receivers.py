"""Stand-ins for the internet's alert providers, on loopback: WeCom, DingTalk, Feishu and webhooks are
reachable only on the internet, so an HTTP server here records each request exactly as it arrived (method,
path, query, headers, raw body) for the tests to check against the provider's documented format, and answers
as the provider documents. `MailReceiver` is a real SMTP server (aiosmtpd) with optional TLS."""

import json
import ssl
import threading
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from tests.support.ports import free_port


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    query: dict[str, list[str]]
    raw_query: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


Answer = Callable[[Received], tuple[int, dict[str, Any]]]


def ok_errcode(_request: Received) -> tuple[int, dict[str, Any]]:
    """WeCom and DingTalk's success answer."""
    return 200, {"errcode": 0, "errmsg": "ok"}


class HttpReceiver:
    """Records every POST; `answer` decides the reply. `stop()` then `start()` again: down, then back on the
    same port."""

    def __init__(self, answer: Answer = ok_errcode, port: int | None = None) -> None:
        self.answer = answer
        self.port = port or free_port()
        self.requests: list[Received] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def start(self) -> "HttpReceiver":
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                parts = urllib.parse.urlsplit(self.path)
                headers = {k.lower(): v for k, v in self.headers.items()}
                query = urllib.parse.parse_qs(parts.query)
                got = Received("POST", parts.path, query, parts.query, headers, self.rfile.read(length))
                with receiver._lock:
                    receiver.requests.append(got)
                status, body = receiver.answer(got)
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        ThreadingHTTPServer.allow_reuse_address = True
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True, name=f"receiver-{self.port}").start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def received(self) -> list[Received]:
        with self._lock:
            return list(self.requests)


class _Collect:
    def __init__(self) -> None:
        self.messages: list[tuple[Envelope, Message]] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.content if isinstance(envelope.content, bytes) else str(envelope.content).encode()
        self.messages.append((envelope, message_from_bytes(content)))
        return "250 Message accepted for delivery"


class MailReceiver:
    """A real SMTP server on loopback: plain, STARTTLS (`starttls=`) or implicit TLS (`implicit=`)."""

    def __init__(
        self, starttls: ssl.SSLContext | None = None, implicit: ssl.SSLContext | None = None
    ) -> None:
        self.port = free_port()
        self.handler = _Collect()
        kwargs: dict[str, Any] = {}
        if starttls is not None:
            kwargs.update(tls_context=starttls, require_starttls=True)
        if implicit is not None:
            kwargs.update(ssl_context=implicit)
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port, **kwargs)

    def __enter__(self) -> "MailReceiver":
        self.controller.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.controller.stop()

    @property
    def messages(self) -> list[tuple[Envelope, Message]]:
        return list(self.handler.messages)

"""The control and ground-truth HTTP API: a small stdlib asyncio HTTP/1.1 server (one request per
connection). Endpoints are listed in docs/simulator.md."""

import asyncio
import json
import logging
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from simulators.errors import FaultError
from simulators.faults import decode

if TYPE_CHECKING:
    from simulators.runner import Runner

log = logging.getLogger(__name__)
_REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed", 500: "Error"}


class ControlServer:
    def __init__(self, runner: "Runner", host: str, port: int) -> None:
        self.runner, self.host, self.port = runner, host, port
        self.server: asyncio.Server | None = None

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._handle, self.host, self.port)
        log.info("HTTP control API on http://%s:%d", self.host, self.port)

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            status, body = await asyncio.wait_for(self._request(reader), timeout=10)
        except (TimeoutError, asyncio.IncompleteReadError, ConnectionError, ValueError) as err:
            status, body = 400, {"error": f"bad request: {err}"}
        except Exception as err:  # a bug must answer 500, not hang the client
            log.exception("HTTP request failed")
            status, body = 500, {"error": f"internal error: {err}"}
        payload = json.dumps(body).encode()
        head = (f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(payload)}\r\nConnection: close\r\n\r\n")  # fmt: skip
        try:
            writer.write(head.encode() + payload)
            await writer.drain()
            writer.close()
        except ConnectionError:
            pass

    async def _request(self, reader: asyncio.StreamReader) -> tuple[int, Any]:
        line = (await reader.readline()).decode("latin-1").split()
        if len(line) < 2:
            raise ValueError("no request line")
        method, target = line[0], line[1]
        length = 0
        while (header := (await reader.readline()).decode("latin-1").strip()) != "":
            name, _, value = header.partition(":")
            if name.strip().lower() == "content-length":
                length = int(value.strip())
        body = await reader.readexactly(length) if length else b""
        url = urlsplit(target)
        return await self._route(method, url.path, parse_qs(url.query), body)

    async def _route(
        self, method: str, path: str, query: dict[str, list[str]], body: bytes
    ) -> tuple[int, Any]:
        runner = self.runner
        routes = {
            "/healthz": runner.health,
            "/ground-truth": runner.ground_truth,
            "/machines": runner.machine_tags,
        }
        if path in routes or path == "/ground-truth/parts":
            if method != "GET":
                return 405, {"error": "use GET"}
            if path == "/ground-truth/parts":
                return self._parts(query)
            return 200, routes[path]()
        if path == "/faults":
            if method != "POST":
                return 405, {"error": "use POST"}
            try:
                return 200, {"ok": True, "applied": await runner.apply_fault(decode(body))}
            except FaultError as err:
                log.warning("rejected fault request: %s", err)
                return 400, {"error": str(err)}
        return 404, {"error": f"no such endpoint {path}"}

    def _parts(self, query: dict[str, list[str]]) -> tuple[int, Any]:
        try:
            machine = query["machine"][0]
            since = int(query.get("since_ms", ["0"])[0])
            until = int(query.get("until_ms", [str(2**62)])[0])
            return 200, self.runner.parts(machine, since, until)
        except KeyError:
            return 400, {"error": "machine= is required"}
        except (ValueError, FaultError) as err:
            return 400, {"error": str(err)}

"""A TCP proxy that breaks the network on command (issue 8): put it between a client and a server.

    with FaultProxy("127.0.0.1", broker.port) as proxy:   # clients connect to proxy.port
        proxy.cut()        # close every connection and refuse new ones (connect: ECONNREFUSED)
        proxy.restore()    # listen again, forward again, no delay
        proxy.delay(200)   # add 200 ms latency to every chunk, each way (order kept, throughput not capped)
        proxy.drop(True)   # half-dead link: connections accepted, bytes (and FINs) vanish, nothing answers
        proxy.drop(False)  # forward again; connections that lost bytes are closed (their stream is broken)
        proxy.reset()      # RST every connection (SO_LINGER 0), keep accepting new ones
        proxy.stats        # ProxyStats snapshot: bytes each way, connections, dropped bytes

It runs its own asyncio loop in a thread, so sync tests can use it; every control returns once its effect
is in place (after cut() returns, the connections are closed and the port refuses).
"""

import asyncio
import contextlib
import logging
import socket
import struct
import threading
import time
from collections.abc import Coroutine
from dataclasses import dataclass, replace
from types import TracebackType
from typing import Any

from tests.support.ports import free_port

log = logging.getLogger(__name__)
CHUNK = 65536


@dataclass
class ProxyStats:
    bytes_up: int = 0  # client -> target, forwarded
    bytes_down: int = 0  # target -> client, forwarded
    dropped_bytes: int = 0  # read while drop(True), never forwarded
    connections: int = 0  # accepted since start
    active: int = 0  # open right now
    refused: int = 0  # accepted but the target did not answer


class _Link:
    """One proxied connection: the client's side and the target's side, and the pumps between them."""

    def __init__(self, client: asyncio.StreamWriter, upstream: asyncio.StreamWriter):
        self.writers = (client, upstream)
        self.tasks: list[asyncio.Task[None]] = []
        self.tainted = False  # lost bytes while dropping: the byte stream is broken

    def close(self, how: str = "abort") -> None:
        """`graceful`: flush and FIN; `abort`: FIN now, unsent bytes discarded; `rst`: RST (SO_LINGER 0)."""
        for writer in self.writers:
            if how == "rst":
                sock = writer.get_extra_info("socket")
                if sock is not None:
                    with contextlib.suppress(OSError):
                        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            if how == "graceful":
                writer.close()
            else:
                writer.transport.abort()
        for task in self.tasks:
            if task is not asyncio.current_task():
                task.cancel()


class FaultProxy:
    def __init__(self, target_host: str, target_port: int, port: int | None = None, host: str = "127.0.0.1"):
        self.target = (target_host, target_port)
        self.host = host
        self.port = port or free_port()
        self._stats = ProxyStats()
        self._links: set[_Link] = set()
        self._server: asyncio.Server | None = None
        self._delay_s = 0.0
        self._dropping = False
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name=f"faultproxy-{self.port}", daemon=True
        )

    # --- life cycle (sync, for tests) ---
    def start(self) -> "FaultProxy":
        self._thread.start()
        self._call(self._listen())
        return self

    def stop(self) -> None:
        if not self._thread.is_alive():
            return
        self._call(self._shutdown())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    def __enter__(self) -> "FaultProxy":
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # --- controls ---
    def cut(self) -> None:
        """Close every connection and refuse new ones until restore()."""
        self._call(self._close_all("abort", stop_listening=True))
        log.info("proxy :%d cut", self.port)

    def restore(self) -> None:
        """Undo cut(), delay() and drop(): listen and forward again."""
        self._delay_s = 0.0
        self._call(self._undrop())
        self._call(self._listen())
        log.info("proxy :%d restored", self.port)

    def delay(self, ms: float) -> None:
        """Latency added to every chunk, each way, from now on (0 for none)."""
        self._delay_s = max(0.0, ms / 1000)

    def drop(self, on: bool = True) -> None:
        """Blackhole: keep accepting and reading, forward nothing. Off: forward again, close broken links."""
        if on:
            self._dropping = True
        else:
            self._call(self._undrop())

    def reset(self) -> None:
        """Reset (RST, SO_LINGER 0) every open connection, both sides; new connections are accepted."""
        self._call(self._close_all("rst", stop_listening=False))

    @property
    def stats(self) -> ProxyStats:
        return replace(self._stats, active=len(self._links))

    def wait_active(self, count: int = 1, timeout: float = 15.0) -> None:
        """Wait until at least `count` connections are open through the proxy."""
        deadline = time.monotonic() + timeout
        while len(self._links) < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"fewer than {count} connection(s) through proxy :{self.port}")
            time.sleep(0.02)

    # --- inside the loop ---
    def _call(self, coro: Coroutine[Any, Any, None]) -> None:
        asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=15)

    async def _listen(self) -> None:
        if self._server is None:
            self._server = await asyncio.start_server(self._accept, self.host, self.port, reuse_address=True)

    async def _close_all(self, how: str, stop_listening: bool) -> None:
        if stop_listening and self._server is not None:
            self._server.close()
            self._server = None
        for link in list(self._links):
            link.close(how)
        self._links.clear()
        await asyncio.sleep(0)  # let the aborted transports close their sockets

    async def _shutdown(self) -> None:
        await self._close_all("abort", stop_listening=True)
        tasks = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _undrop(self) -> None:
        self._dropping = False
        for link in [link for link in self._links if link.tainted]:
            link.close()
            self._links.discard(link)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._stats.connections += 1
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError as err:
            log.info("proxy :%d: target %s:%d did not answer: %s", self.port, *self.target, err)
            self._stats.refused += 1
            writer.transport.abort()
            return
        link = _Link(writer, up_writer)
        self._links.add(link)
        link.tasks = [
            asyncio.create_task(self._pump(link, reader, up_writer, up=True)),
            asyncio.create_task(self._pump(link, up_reader, writer, up=False)),
        ]
        await asyncio.gather(*link.tasks, return_exceptions=True)
        if link in self._links:  # ended by a peer, not by a control: close politely
            self._links.discard(link)
            link.close("graceful")

    async def _pump(
        self, link: _Link, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, up: bool
    ) -> None:
        """Copy one direction; with a delay, a second task writes each chunk once its time has come."""
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()
        sender = asyncio.create_task(self._send(link, queue, writer, up))
        try:
            while data := await reader.read(CHUNK):
                if self._dropping:
                    link.tainted = True
                    self._stats.dropped_bytes += len(data)
                    continue
                queue.put_nowait((time.monotonic() + self._delay_s, data))
            await queue.join()
            if self._dropping:
                # The peer closed, but on a dead link its FIN is lost too: the other side must not
                # learn of it. The link hangs until drop(False) or cut() closes it.
                link.tainted = True
                await asyncio.Event().wait()
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            sender.cancel()
            for task in link.tasks:  # one side ended: end the other one too
                if task is not asyncio.current_task():
                    task.cancel()

    async def _send(
        self, link: _Link, queue: "asyncio.Queue[tuple[float, bytes]]", writer: asyncio.StreamWriter, up: bool
    ) -> None:
        while True:
            due, data = await queue.get()
            wait = due - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            # Counted before the write: a test that has just received the bytes must see them counted.
            if up:
                self._stats.bytes_up += len(data)
            else:
                self._stats.bytes_down += len(data)
            try:
                writer.write(data)
                await writer.drain()
            except OSError:  # that side is gone: end the whole link
                self._links.discard(link)
                link.close()
                return
            queue.task_done()

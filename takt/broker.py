"""MQTT brokers for `takt demo`, which must run without a system service.

- `EmbeddedBroker`: amqtt inside this process, on 127.0.0.1. `async with EmbeddedBroker(port=...)`, or
  `start()` / `stop()` from sync code (then it runs its own event loop in a thread). QoS 1, retained
  messages, persistent sessions (clean_session false) that queue QoS 1 messages while the client is
  offline. Limits, all amqtt 0.12's: an in-flight QoS 1 message whose PUBACK has not come within 5 s,
  or whose client went away before acking it, is discarded, not redelivered (so a server that acks
  manually after its commit, docs/ingest.md, can lose a message when it crashes or is slow); state lives in
  memory only (a broker restart forgets sessions and queues); no shared subscriptions (`$share/...`).
- `BrokerProcess`: the system's mosquitto with a generated config in a folder of ours: unacked messages
  redelivered, sessions and queues persisted to disk, shared subscriptions. The demo prefers it whenever
  mosquitto is installed; amqtt is the fallback that needs nothing but Python.
- `demo_broker()` picks one of the two.

Errors: `BrokerError` (could not start: port taken, binary missing, bad config).
"""

import asyncio
import logging
import os
import shutil
import socket
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, Protocol

from amqtt.plugins.base import BaseAuthPlugin

log = logging.getLogger(__name__)

MOSQUITTO_PATHS = ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto")


class BrokerError(Exception):
    """A broker could not be started."""


class Broker(Protocol):
    """What the demo needs from a broker it owns."""

    host: str
    port: int
    kind: str

    def start(self) -> None: ...

    def stop(self) -> None: ...


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _wait_for_port(host: str, port: int, deadline: float, alive: Any = None) -> bool:
    while time.monotonic() < deadline:
        if alive is not None and not alive():
            return False
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def _check_free(host: str, port: int) -> None:
    """Raise BrokerError if something already listens on host:port (mosquitto would exit, and the
    other listener would answer in its place)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as err:
            raise BrokerError(f"cannot start mosquitto on {host}:{port}: {err.strerror}") from err


class OpenAuthPlugin(BaseAuthPlugin):  # type: ignore[misc]
    """Accept every client, and count none as anonymous: amqtt queues messages for offline persistent
    sessions only when the session is not anonymous. Safe only because the demo broker listens on
    127.0.0.1."""

    @dataclass
    class Config:
        pass

    async def authenticate(self, *, session: Any) -> bool | None:
        session.is_anonymous = False
        return True


class EmbeddedBroker:
    """amqtt on `host:port` (port 0: a free one, chosen at construction)."""

    kind = "amqtt"

    def __init__(self, host: str = "127.0.0.1", port: int = 1883):
        self.host = host
        self.port = port or free_port(host)
        self._broker: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def _config(self) -> dict[str, Any]:
        return {
            "listeners": {"default": {"type": "tcp", "bind": f"{self.host}:{self.port}"}},
            "plugins": {f"{__name__}.OpenAuthPlugin": {}},
        }

    async def serve(self) -> None:
        """Start listening in the running event loop."""
        from amqtt.broker import Broker as AmqttBroker
        from amqtt.errors import BrokerError as AmqttBrokerError

        self._broker = AmqttBroker(self._config())
        try:
            await self._broker.start()
        except (AmqttBrokerError, OSError) as err:
            self._broker = None
            raise BrokerError(
                f"embedded MQTT broker could not listen on {self.host}:{self.port}: {err}"
            ) from err
        log.info("embedded MQTT broker (amqtt) listening on %s:%d", self.host, self.port)

    async def shutdown(self) -> None:
        if self._broker is not None:
            broker, self._broker = self._broker, None
            await broker.shutdown()
            log.info("embedded MQTT broker on %s:%d stopped", self.host, self.port)

    async def __aenter__(self) -> "EmbeddedBroker":
        await self.serve()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.shutdown()

    # --- sync use: its own event loop in a thread ---
    def start(self, timeout: float = 15.0) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._thread = threading.Thread(target=loop.run_forever, name="takt-broker", daemon=True)
        self._thread.start()
        try:
            asyncio.run_coroutine_threadsafe(self.serve(), loop).result(timeout)
        except BaseException:
            self._stop_loop()
            raise

    def stop(self, timeout: float = 15.0) -> None:
        if self._loop is None:
            return
        try:
            asyncio.run_coroutine_threadsafe(self.shutdown(), self._loop).result(timeout)
        finally:
            self._stop_loop()

    def _stop_loop(self) -> None:
        loop, thread = self._loop, self._thread
        self._loop = self._thread = None
        if loop is not None and thread is not None:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=10)
            loop.close()


def mosquitto_binary() -> str | None:
    """The system's mosquitto, if installed (Debian puts it in /usr/sbin, often not on PATH)."""
    found = shutil.which("mosquitto")
    if found:
        return found
    return next((path for path in MOSQUITTO_PATHS if os.access(path, os.X_OK)), None)


class BrokerProcess:
    """The system's mosquitto as our child process, with a config generated into `workdir`."""

    kind = "mosquitto"

    def __init__(self, workdir: Path, host: str = "127.0.0.1", port: int = 1883, binary: str | None = None):
        self.workdir = workdir
        self.host = host
        self.port = port or free_port(host)
        self.binary = binary or mosquitto_binary()
        self.conf = workdir / "mosquitto.conf"
        self.log_path = workdir / "mosquitto.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def config_text(self) -> str:
        # Run as root, mosquitto switches to user `mosquitto`, which may not write our folder: stay.
        user = "user root\n" if os.geteuid() == 0 else ""
        return (
            "# Generated by takt.broker for the demo: loopback only, no authentication.\n"
            f"listener {self.port} {self.host}\n"
            "allow_anonymous true\n"
            "persistence true\n"
            f"persistence_location {self.workdir / 'data'}/\n"
            "autosave_interval 10\n"
            "max_queued_messages 100000\n"
            "max_inflight_messages 20\n"
            "queue_qos0_messages false\n"
            f"log_dest file {self.log_path}\n"
            "log_type error\nlog_type warning\nlog_type notice\n" + user
        )

    def start(self, timeout: float = 15.0) -> None:
        if self.binary is None:
            raise BrokerError("mosquitto is not installed (apt-get install mosquitto)")
        _check_free(self.host, self.port)
        (self.workdir / "data").mkdir(parents=True, exist_ok=True)
        self.conf.write_text(self.config_text())
        self.proc = subprocess.Popen(
            [self.binary, "-c", str(self.conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        proc = self.proc
        if not _wait_for_port(self.host, self.port, time.monotonic() + timeout, lambda: proc.poll() is None):
            self.stop()
            raise BrokerError(f"mosquitto did not start on {self.host}:{self.port}; see {self.log_path}")
        log.info(
            "mosquitto (pid %d) listening on %s:%d, state in %s", proc.pid, self.host, self.port, self.workdir
        )

    def stop(self, timeout: float = 10.0) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=timeout)
        log.info("mosquitto on %s:%d stopped", self.host, self.port)

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def __enter__(self) -> "BrokerProcess":
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def demo_broker(
    workdir: Path,
    host: str = "127.0.0.1",
    port: int = 1883,
    prefer: Literal["auto", "mosquitto", "amqtt"] = "auto",
) -> Broker:
    """The broker the demo should start (not started yet): mosquitto when installed, else amqtt."""
    if prefer == "mosquitto" or (prefer == "auto" and mosquitto_binary() is not None):
        return BrokerProcess(workdir, host, port)
    return EmbeddedBroker(host, port)

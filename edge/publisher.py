"""MQTT publisher: paho-mqtt 2.x in its own network thread, bridged to asyncio.

clean_session=False (MQTT 3.1.1) with a stable client id and QoS 1; the last will is a retained
`Status(online=False)`. On every connect: subscribe to the ack and command topics, publish the birth
status, and resend everything the server has not acked, in seq order. Sending is paced: at most
`max_inflight` batches published but not acked by the server, and backlog (historical) batches at most
`replay_rate` per second (aiolimiter's leaky bucket), so a long outage drains without flooding the broker.
paho callbacks run in paho's thread and only hop to the event loop with `call_soon_threadsafe`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import msgspec
import paho.mqtt.client as mqtt
from aiolimiter import AsyncLimiter
from paho.mqtt.enums import CallbackAPIVersion

from edge.buffer import Stored
from edge.config import Broker, EdgeConfig
from edge.errors import OutboxError
from shared import messages, topics
from shared.errors import PayloadError, TopicError

log = logging.getLogger(__name__)
MAX_RESEND_S = 600.0


def configure_client(client: mqtt.Client, broker: Broker) -> None:
    """Credentials, TLS, no queueing while offline, reconnect backoff: as the config's broker says."""
    if broker.username:
        client.username_pw_set(broker.username, broker.password)
    if broker.tls is not None:
        client.tls_set(ca_certs=broker.tls.ca, certfile=broker.tls.cert, keyfile=broker.tls.key,
                       cert_reqs=ssl.CERT_REQUIRED)  # fmt: skip
        client.tls_insecure_set(broker.tls.insecure)
    client.max_queued_messages_set(0)
    client.reconnect_delay_set(min_delay=1, max_delay=broker.reconnect_max_s)


class Publisher:
    def __init__(
        self,
        config: EdgeConfig,
        pending: Callable[[int, int], Awaitable[list[Stored]]],
        on_ack: Callable[[int], Coroutine[Any, Any, None]],
        on_command: Callable[[messages.Command], None],
        status: Callable[[], messages.Status],
        session_base: int = 0,
    ) -> None:
        self.config = config
        # this connection's number (docs/contracts.md, "Status"): +1 before every connect, in the will too
        self.session = session_base
        self.status_n = 0  # statuses published on this connection
        self.pending, self.on_ack, self.on_command, self.status = pending, on_ack, on_command, status
        site, edge = config.site, config.edge_id
        self.topic_data, self.topic_status = topics.data(site, edge), topics.status(site, edge)
        self.topic_alive = topics.alive(site, edge)
        self.topic_ack, self.topic_result = topics.ack(site, edge), topics.result(site, edge)
        self.topic_cmd = topics.cmd_filter(site, edge)
        self.connected = asyncio.Event()
        self.wake = asyncio.Event()
        self.acked = 0
        self.sent = 0  # highest seq published on this connection
        self.last_progress = time.monotonic()
        self.resend_after = config.publishing.ack_timeout_s
        self.published = 0
        self.unreachable_logged = False
        self.stopping = False  # a clean stop's disconnect is news, not a problem: logged at INFO
        self.loop = asyncio.get_running_loop()
        self.ack_tasks: set[asyncio.Task[None]] = set()  # referenced until done (the loop keeps weak refs)
        publishing = config.publishing
        burst = max(1.0, min(publishing.max_inflight, 50))  # batches sent at once before the pace applies
        self.bucket = AsyncLimiter(burst, burst / publishing.replay_rate)
        self.client = self._make_client()
        self._prefix = f'{{"v":1,"edge_id":"{edge}","seq":'.encode()

    def _make_client(self) -> mqtt.Client:
        broker, config = self.config.broker, self.config
        client_id = broker.client_id or f"takt-edge-{config.site}-{config.edge_id}"
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False, protocol=mqtt.MQTTv311
        )
        client.on_pre_connect = self._on_pre_connect
        configure_client(client, broker)
        client.max_inflight_messages_set(max(20, config.publishing.max_inflight))
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_connect_fail = self._on_connect_fail
        client.on_message = self._on_message
        return client

    def start(self) -> None:
        broker = self.config.broker
        self.client.connect_async(broker.host, broker.port, keepalive=broker.keepalive)
        self.client.loop_start()

    def stop(self) -> None:
        """Clean stop: the retained status says offline (a crash leaves that to the last will)."""
        self.stopping = True
        if self.connected.is_set():
            self.status_n += 1
            offline = messages.Status(
                edge_id=self.config.edge_id, online=False, ts_ms=int(time.time() * 1000),
                session=self.session, n=self.status_n,
            )  # fmt: skip
            info = self.client.publish(self.topic_status, messages.encode(offline), qos=1, retain=True)
            with contextlib.suppress(RuntimeError, ValueError):
                info.wait_for_publish(timeout=2)
        self.client.disconnect()
        self.client.loop_stop()

    # -- paho thread -> event loop ----------------------------------------------------------------------

    def _on_pre_connect(self, client: mqtt.Client, _u: Any) -> None:
        """Before every (re)connect: a new connection number, and the last will that carries it (so the
        server knows this will ends this connection, and no later status of it counts)."""
        self.session += 1
        self.status_n = 0
        will = messages.Status(
            edge_id=self.config.edge_id, online=False, ts_ms=int(time.time() * 1000), session=self.session
        )
        client.will_set(self.topic_status, messages.encode(will), qos=1, retain=True)

    def _on_connect(self, client: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        if reason.is_failure:
            self.loop.call_soon_threadsafe(log.warning, "MQTT broker refused the connection: %s", reason)
            return
        client.subscribe([(self.topic_ack, 1), (self.topic_cmd, 1)])
        self.loop.call_soon_threadsafe(self._connected)

    def _on_connect_fail(self, _c: mqtt.Client, _u: Any) -> None:
        self.loop.call_soon_threadsafe(self._unreachable)

    def _unreachable(self) -> None:
        if not self.unreachable_logged:  # once per outage; the outbox keeps everything meanwhile
            broker = self.config.broker
            log.warning("MQTT broker %s:%d unreachable: buffering, retrying", broker.host, broker.port)
            self.unreachable_logged = True

    def _on_disconnect(self, _c: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        self.loop.call_soon_threadsafe(self._disconnected, str(reason))

    def _on_message(self, _c: mqtt.Client, _u: Any, message: mqtt.MQTTMessage) -> None:
        self.loop.call_soon_threadsafe(self._message, message.topic, message.payload)

    # -- event loop side --------------------------------------------------------------------------------

    def _connected(self) -> None:
        log.info("MQTT connected to %s:%d", self.config.broker.host, self.config.broker.port)
        self.sent = self.acked  # resend everything not acked, in order
        self.last_progress = time.monotonic()
        self.connected.set()
        self.unreachable_logged = False
        self.publish_status()
        self.wake.set()

    def _disconnected(self, reason: str) -> None:
        if self.connected.is_set() and self.stopping:
            log.info("MQTT disconnected: the agent stops")
        elif self.connected.is_set():
            log.warning("MQTT disconnected: %s (buffering, reconnecting)", reason)
            self.unreachable_logged = True
        self.connected.clear()

    def _message(self, topic: str, payload: bytes | bytearray) -> None:
        try:
            parsed = topics.parse(topic)
            if parsed.kind == "ack":
                ack = messages.decode(messages.Ack, bytes(payload))
                if ack.edge_id == self.config.edge_id and ack.seq > self.acked:
                    self.acked = ack.seq
                    self.sent = max(self.sent, ack.seq)
                    self.last_progress = time.monotonic()
                    self.resend_after = self.config.publishing.ack_timeout_s
                    task = self.loop.create_task(self.on_ack(ack.seq), name=f"ack-{ack.seq}")
                    self.ack_tasks.add(task)
                    task.add_done_callback(self.ack_tasks.discard)
                    self.wake.set()
            elif parsed.kind == "cmd":
                self.on_command(messages.decode(messages.Command, bytes(payload)))
        except (PayloadError, TopicError) as err:
            log.warning("ignoring message on %s: %s", topic, err)

    def publish_status(self) -> None:
        if self.connected.is_set():
            self.status_n += 1
            status = msgspec.structs.replace(self.status(), session=self.session, n=self.status_n)
            self.client.publish(self.topic_status, messages.encode(status), qos=1, retain=True)

    async def heartbeat(self) -> None:
        """An `Alive` every keepalive / 3 s while connected (QoS 0: a lost one is replaced by the next)."""
        keepalive = self.config.broker.keepalive
        while True:
            await self.connected.wait()
            alive = messages.Alive(
                edge_id=self.config.edge_id, session=self.session, ts_ms=int(time.time() * 1000),
                keepalive_s=keepalive,
            )  # fmt: skip
            self.client.publish(self.topic_alive, messages.encode(alive), qos=0)
            await asyncio.sleep(keepalive / 3)

    def publish_result(self, result: messages.CommandResult) -> None:
        self.client.publish(self.topic_result, messages.encode(result), qos=1)

    def envelope(self, stored: Stored, now_ms: int) -> bytes:
        historical = now_ms - stored.created_ms > self.config.publishing.historical_after_ms
        head = b'%s%d,"sent_ms":%d,"historical":%s,"samples":' % (
            self._prefix,
            stored.seq,
            now_ms,
            b"true" if historical else b"false",
        )
        return head + stored.samples + b"}"

    # -- sender -----------------------------------------------------------------------------------------

    async def run(self) -> None:
        publishing = self.config.publishing
        while True:
            await self.connected.wait()
            if self.sent > self.acked and time.monotonic() - self.last_progress > self.resend_after:
                log.warning("no ack for %.0f s: resending from seq %d", self.resend_after, self.acked + 1)
                self.sent, self.last_progress = self.acked, time.monotonic()
                # a server down for hours must not fill the broker's queue with copies: back off
                self.resend_after = min(self.resend_after * 2, MAX_RESEND_S)
            window = publishing.max_inflight - (self.sent - self.acked)
            try:
                batch = await self.pending(self.sent, min(window, 100)) if window > 0 else []
            except OutboxError as err:  # a damaged or unreadable outbox: log, wait, try again
                log.error("cannot read the outbox: %s", err)
                await asyncio.sleep(1)
                continue
            if not batch:
                self.wake.clear()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(1.0):
                        await self.wake.wait()
                continue
            await self._send(batch)

    async def _send(self, batch: list[Stored]) -> None:
        for stored in batch:
            if not self.connected.is_set() or stored.seq != self.sent + 1:
                return  # reconnected meanwhile (resend restarts at the ack) or already sent
            now = int(time.time() * 1000)
            if now - stored.created_ms > self.config.publishing.historical_after_ms:
                await self.bucket.acquire()
            if self.sent == self.acked:
                self.last_progress = time.monotonic()
            self.client.publish(self.topic_data, self.envelope(stored, now), qos=1)
            self.sent = stored.seq
            self.published += 1

"""The MQTT side of ingestion: one paho-mqtt 2.x client with manual acks.

Messages go from paho's network thread into a queue; the worker acks each one (`ack(mid, qos)`) only
after it is committed to the inbox or the dead-letter table. A single server keeps a persistent session
(stable client id: the broker queues the edges' batches while it restarts). Replicas in a shared
subscription connect with a clean session instead: brokers keep handing a dead member's persistent
session its share of the group (mosquitto 2.0, EMQX), stalling every edge until it returns; with a clean
session the group is only the live replicas, and the edges resend what a dying one held unacked (their
outbox keeps each batch until the server's end-to-end ack). Client ids must be distinct per replica.
"""

import logging
import queue
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from server.core.settings import Settings
from server.ingest.options import IngestOptions
from shared import topics

log = logging.getLogger(__name__)
KINDS = ("data", "status", "result")


@dataclass(frozen=True, slots=True)
class Incoming:
    topic: str
    payload: bytes
    mid: int
    qos: int
    received: float = field(default_factory=time.monotonic)  # for the lag /healthz reports


class MqttLink:
    def __init__(self, settings: Settings, options: IngestOptions) -> None:
        self.settings = settings
        self.options = options
        self.inbox: queue.Queue[Incoming] = queue.Queue()
        # heartbeats (server/ingest/liveness.py): True when taken; a refused one is queued (dead letter)
        self.on_alive: Callable[[str, bytes], bool] = lambda _topic, _payload: False
        self.on_listening: Callable[[], None] = lambda: None
        self.connected = threading.Event()
        self.disconnected_since: float | None = time.monotonic()  # None while subscribed
        self._was_connected = False
        client = paho.Client(
            CallbackAPIVersion.VERSION2,
            client_id=settings.mqtt_client_id,
            clean_session=settings.mqtt_shared,
            protocol=paho.MQTTv311,
        )
        client.manual_ack_set(True)
        if settings.mqtt_username:
            password = settings.mqtt_password.get_secret_value() if settings.mqtt_password else None
            client.username_pw_set(settings.mqtt_username, password)
        if settings.mqtt_tls_ca:
            client.tls_set(ca_certs=settings.mqtt_tls_ca, tls_version=ssl.PROTOCOL_TLS_CLIENT)
        client.reconnect_delay_set(1, max(1, int(options.reconnect_max_s)))
        client.max_queued_messages_set(0)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_subscribe = self._on_subscribe
        self.client = client

    def start(self) -> None:
        self.client.connect_async(self.settings.mqtt_host, self.settings.mqtt_port, self.options.keepalive_s)
        self.client.loop_start()

    def oldest_waiting(self) -> float | None:
        """When the oldest message still in the queue was received (monotonic), or None."""
        with self.inbox.mutex:
            return self.inbox.queue[0].received if self.inbox.queue else None

    def stop(self) -> None:
        self.connected.clear()
        self.client.disconnect()
        self.client.loop_stop()

    def ack(self, message: Incoming) -> None:
        if message.qos > 0:
            self.client.ack(message.mid, message.qos)

    def publish(self, topic: str, payload: bytes, retain: bool = False) -> None:
        self.client.publish(topic, payload, qos=1, retain=retain)

    def _on_connect(
        self,
        client: paho.Client,
        _userdata: object,
        flags: paho.ConnectFlags,
        reason: ReasonCode,
        _props: object,
    ) -> None:
        if reason.is_failure:
            log.error("MQTT broker %s:%d refused the connection: %s", self.settings.mqtt_host,
                      self.settings.mqtt_port, reason)  # fmt: skip
            return
        shared = self.settings.mqtt_shared
        wanted = [(topics.server_filter(kind, shared=shared), 1) for kind in KINDS]  # type: ignore[arg-type]
        client.subscribe([*wanted, (topics.server_filter("alive"), 0)])  # every replica hears every edge
        log.info("MQTT connected to %s:%d as %s (session present: %s)", self.settings.mqtt_host,
                 self.settings.mqtt_port, self.settings.mqtt_client_id, flags.session_present)  # fmt: skip
        self._was_connected = True

    def _on_subscribe(
        self, _client: paho.Client, _userdata: object, _mid: int, reasons: list[ReasonCode], _props: object
    ) -> None:
        failed = [str(r) for r in reasons if r.is_failure]
        if failed:
            log.error("MQTT subscription refused: %s", ", ".join(failed))
            return
        self.connected.set()  # `connected` means subscribed: nothing published from now on is missed
        self.disconnected_since = None
        self.on_listening()

    def _on_disconnect(
        self, _client: paho.Client, _userdata: object, _flags: object, reason: ReasonCode, _props: object
    ) -> None:
        if self.connected.is_set():
            log.warning("MQTT connection lost (%s); reconnecting", reason)
            self.disconnected_since = time.monotonic()
        self.connected.clear()

    def _on_message(self, _client: paho.Client, _userdata: object, msg: paho.MQTTMessage) -> None:
        if msg.topic.endswith("/alive") and self.on_alive(msg.topic, bytes(msg.payload)):
            return  # taken here, not queued: a busy worker must not make an edge look silent
        self.inbox.put(Incoming(msg.topic, bytes(msg.payload), msg.mid, msg.qos))

"""Takt as a Sparkplug B host application (docs/sparkplug.md).

One paho client subscribes `spBv1.0/{group}/#` for every configured group and publishes the host's STATE
(`spBv1.0/STATE/{host_id}`, retained, `{"online": true, "timestamp": ms}`, its will the same with
online false and the same timestamp, Sparkplug 3.0), so edge nodes that wait for a primary host buffer while
Takt is away. A worker thread takes each message in arrival order: decode, session rules
(sparkplug_session.py), then one transaction (sparkplug_apply.py); a node whose seq broke, or that sent
data before its birth, is asked for a rebirth (`Node Control/Rebirth` NCMD), at most once a second.
"""

import json
import logging
import queue
import threading
from collections.abc import Callable, Sequence

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from server.core.events import Event
from server.core.settings import Settings
from server.historian.base import Point
from server.ingest import sparkplug_apply
from server.ingest.apply import now_ms
from server.ingest.sparkplug_apply import Target
from server.ingest.sparkplug_session import Discovered, Sessions
from shared.sparkplug.payload import REBIRTH, DataType, Payload, PayloadError, decode
from shared.sparkplug.topic import NAMESPACE, MessageType, TopicError, node_topic, parse, state_topic

log = logging.getLogger(__name__)
REBIRTH_EVERY_MS = 1000
BATCH = 500  # messages waiting are applied together, in one transaction


class SparkplugHost:
    def __init__(
        self,
        settings: Settings,
        target: Target,
        store_points: Callable[[Sequence[Point]], None],
        emit: Callable[[Sequence[Event]], None],
    ) -> None:
        """`store_points` takes points for an external historian (the buffer), `emit` live events."""
        self.settings, self.target, self.store_points, self.emit = settings, target, store_points, emit
        self.sessions = Sessions()
        self._sessions_lock = threading.Lock()  # the worker changes them, the admin page reads them
        self.inbox: queue.Queue[tuple[str, bytes, int] | None] = queue.Queue()
        self.connected = threading.Event()
        self._asked: dict[tuple[str, str], int] = {}  # node -> when a rebirth was last requested
        self._online_ms = now_ms()
        self._thread: threading.Thread | None = None
        client = paho.Client(
            CallbackAPIVersion.VERSION2, client_id=f"{settings.mqtt_client_id}-spb", protocol=paho.MQTTv311
        )
        if settings.mqtt_username:
            password = settings.mqtt_password.get_secret_value() if settings.mqtt_password else None
            client.username_pw_set(settings.mqtt_username, password)
        if settings.mqtt_tls_ca:
            client.tls_set(ca_certs=settings.mqtt_tls_ca)
        client.will_set(self.state_topic, self._state(online=False), qos=1, retain=True)
        client.on_connect = self._on_connect
        client.on_message = self._on_message
        client.on_disconnect = self._on_disconnect
        self.client = client

    @property
    def state_topic(self) -> str:
        return state_topic(self.settings.sparkplug_host_id)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="takt-sparkplug", daemon=True)
        self._thread.start()
        self.client.connect_async(self.settings.mqtt_host, self.settings.mqtt_port, 30)
        self.client.loop_start()

    def stop(self) -> None:
        if self.connected.is_set():  # a clean stop says offline itself (the will is only for a crash)
            self.client.publish(
                self.state_topic, self._state(online=False), qos=1, retain=True
            ).wait_for_publish(5)
        self.client.disconnect()
        self.client.loop_stop()
        self.inbox.put(None)
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _state(self, online: bool) -> bytes:
        return json.dumps({"online": online, "timestamp": self._online_ms}).encode()

    def _on_connect(
        self, client: paho.Client, _userdata: object, _flags: object, reason: ReasonCode, _props: object
    ) -> None:
        if reason.is_failure:
            log.error("sparkplug: the broker refused the connection: %s", reason)
            return
        groups = self.settings.sparkplug_groups
        client.subscribe([(f"{NAMESPACE}/{group}/#", 1) for group in groups])
        client.publish(self.state_topic, self._state(online=True), qos=1, retain=True)
        self.connected.set()
        log.info("sparkplug host %s online, groups %s", self.settings.sparkplug_host_id, ", ".join(groups))

    def _on_disconnect(self, *_args: object) -> None:
        self.connected.clear()

    def _on_message(self, _client: paho.Client, _userdata: object, msg: paho.MQTTMessage) -> None:
        self.inbox.put((msg.topic, bytes(msg.payload), now_ms()))

    def _run(self) -> None:
        stopping = False
        while not stopping:
            items = [self.inbox.get()]
            while len(items) < BATCH and not self.inbox.empty():
                items.append(self.inbox.get_nowait())
            stopping = None in items
            messages = [item for item in items if item is not None]
            if self._try(messages):
                continue
            log.error("sparkplug: %d messages failed together; trying each alone", len(messages))
            for message in messages:
                if not self._try([message]):
                    log.error("sparkplug: message on %s failed: lost (its node's next message shows the gap)",
                              message[0][:200])  # fmt: skip

    def _try(self, messages: Sequence[tuple[str, bytes, int]]) -> bool:
        """Handle the messages; when their transaction fails, the session rules go back to before them."""
        with self._sessions_lock:
            before = self.sessions.snapshot()
        try:
            self.handle(messages)
        except Exception:
            log.exception("sparkplug: handling %d messages failed", len(messages))
            with self._sessions_lock:
                self.sessions.restore(before)
            return False
        return True

    def handle(self, messages: Sequence[tuple[str, bytes, int]]) -> None:
        """Messages (topic, payload, time of receipt) in arrival order, applied in one transaction (the
        worker calls it with what is waiting, up to BATCH; the bench too)."""
        items: list[sparkplug_apply.Item] = []
        rebirths: dict[tuple[str, str], int] = {}
        for topic_name, data, received_ms in messages:
            self.target.metrics.add("sparkplug_messages")
            try:
                topic = parse(topic_name)
                payload = decode(data)
            except (TopicError, PayloadError) as exc:
                if not topic_name.startswith(f"{NAMESPACE}/STATE/"):
                    sparkplug_apply.dead_letter(self.target, topic_name, str(exc), data, received_ms)
                continue
            with self._sessions_lock:
                outcome = self.sessions.handle(topic, payload, received_ms)
            edge_id = sparkplug_apply.edge_id_of(topic.group, topic.node)
            items.append(sparkplug_apply.Item(topic_name, edge_id, data, outcome, received_ms))
            if outcome.rebirth:
                rebirths[(topic.group, topic.node)] = received_ms
        written = sparkplug_apply.write(self.target, items) if items else sparkplug_apply.Written([], [])
        for (group, node), received_ms in rebirths.items():
            self._ask_rebirth(group, node, received_ms)
        if written.points:
            self.store_points(written.points)
        if written.events:
            self.emit(written.events)

    @staticmethod
    def edge_id_of(group: str, node: str) -> str:
        return sparkplug_apply.edge_id_of(group, node)

    def discovered(self) -> list[Discovered]:
        """Every metric the births seen so far announced (this process's, since its start)."""
        with self._sessions_lock:
            return self.sessions.discovered()

    def _ask_rebirth(self, group: str, node: str, now: int) -> None:
        if now - self._asked.get((group, node), -REBIRTH_EVERY_MS) < REBIRTH_EVERY_MS:
            return
        self._asked[(group, node)] = now
        command = Payload(timestamp=now)
        command.metrics.add(name=REBIRTH, datatype=DataType.Boolean, boolean_value=True, timestamp=now)
        self.client.publish(node_topic(group, MessageType.NCMD, node), command.SerializeToString(), qos=0)
        self.target.metrics.add("sparkplug_rebirths")
        log.info("sparkplug: rebirth requested from %s/%s", group, node)

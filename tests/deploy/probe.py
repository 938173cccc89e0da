"""A small synchronous paho-mqtt client for broker tests: connect, subscribe, publish, wait for messages."""

import ssl
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from tests.support.waiting import wait_until


@dataclass(frozen=True)
class Tls:
    ca: Path
    cert: Path | None = None
    key: Path | None = None


class Refused(Exception):
    """The broker refused the connection, or the TLS handshake / connection failed."""


class Probe:
    """One paho client with its network loop in a thread; records what it receives."""

    def __init__(
        self,
        port: int,
        username: str | None = None,
        password: str | None = None,
        client_id: str = "",
        clean_session: bool = True,
        tls: Tls | None = None,
        will: tuple[str, bytes] | None = None,
        manual_ack: bool = False,
    ):
        self.port = port
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            clean_session=clean_session,
            manual_ack=manual_ack,
        )
        if username is not None:
            self.client.username_pw_set(username, password)
        if tls is not None:
            self.client.tls_set(
                ca_certs=str(tls.ca),
                certfile=str(tls.cert) if tls.cert else None,
                keyfile=str(tls.key) if tls.key else None,
                cert_reqs=ssl.CERT_REQUIRED,
            )
        if will is not None:
            self.client.will_set(will[0], will[1], qos=1, retain=True)
        self.lock = threading.Lock()
        self.messages: list[tuple[str, bytes, bool]] = []
        self.raw: list[mqtt.MQTTMessage] = []  # for manual acks
        self.connack: Any = None
        self.disconnected = threading.Event()
        self.subacks: dict[int, list[Any]] = {}
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        self.client.on_subscribe = self._on_subscribe

    def _on_connect(self, _c: Any, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        self.connack = reason

    def _on_disconnect(self, _c: Any, _u: Any, _f: Any, _reason: Any, _p: Any) -> None:
        self.disconnected.set()

    def _on_message(self, _c: Any, _u: Any, msg: mqtt.MQTTMessage) -> None:
        with self.lock:
            self.messages.append((msg.topic, bytes(msg.payload), bool(msg.retain)))
            self.raw.append(msg)

    def _on_subscribe(self, _c: Any, _u: Any, mid: int, reasons: list[Any], _p: Any) -> None:
        self.subacks[mid] = reasons

    def connect(self, timeout: float = 10.0) -> "Probe":
        """Connect and wait for a successful CONNACK; raise Refused otherwise. The handshake runs in this
        thread (paho's background loop would wait a second before giving up on a refusal)."""
        try:
            self.client.connect("127.0.0.1", self.port, keepalive=30)
            deadline = time.monotonic() + timeout
            while self.connack is None and time.monotonic() < deadline:
                if self.client.loop(timeout=0.05) != mqtt.MQTT_ERR_SUCCESS:
                    break
        except (OSError, ssl.SSLError) as err:
            raise Refused(f"connect failed: {err!r}") from err
        if self.connack is None or self.connack.is_failure:
            self.client.disconnect()
            raise Refused(f"refused: {self.connack or 'no CONNACK'}")
        self.client.loop_start()
        return self

    def subscribe(self, topic: str, qos: int = 1) -> list[int]:
        """Subscribe and return the granted reason codes' values (0x80 = refused)."""
        _rc, mid = self.client.subscribe(topic, qos)
        wait_until(lambda: mid in self.subacks, what=f"SUBACK for {topic}")
        return [int(r.value) for r in self.subacks[mid]]

    def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> None:
        info = self.client.publish(topic, payload, qos=qos, retain=retain)
        info.wait_for_publish(timeout=10)

    def received(self, topic: str | None = None) -> list[bytes]:
        with self.lock:
            return [p for t, p, _ in self.messages if topic is None or t == topic]

    def wait_message(self, topic: str, payload: bytes, timeout: float = 10.0) -> None:
        wait_until(lambda: payload in self.received(topic), timeout, f"{payload!r} on {topic}")

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def drop(self) -> None:
        """Close the socket without DISCONNECT, as a crash would (the broker publishes the will)."""
        self.client.loop_stop()
        sock = self.client.socket()
        if sock is not None:
            sock.close()
